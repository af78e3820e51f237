//! `sim`: run key automat scenarios on the simulated automat.
//!
//! ```text
//! sim run [--jobs N] [--junit FILE] [--out DIR] [--report HTML] [--seed N] [--filter TEXT]
//!         [--shard hash:K/N] [--tag T] [--exclude-tag T] [--timeout 10m] [--rerun-failed DIR] <files or dirs>...
//! sim report [-o HTML] <out dir>
//! sim check <files or dirs>...
//! sim swarm --seeds N [--from S] [--jobs J] [--out DIR]
//! sim view [--at TIME] [--screenshot PNG] [--size WxH] [--seed N] <scenario.ron | trace.jsonl | DIR>
//! sim diff [--ignore TYPE,…] <A trace.jsonl | DIR> <B trace.jsonl | DIR>
//! ```
//! Exit codes: 0 all passed (or all valid, or traces equivalent), 1 a scenario failed (or the
//! traces differ), 2 bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sim::suite::{self, Shard, SuiteArgs, SuiteOptions};
use sim::swarm::{self, SwarmOptions};

#[derive(Parser, Debug)]
#[command(name = "sim", version, about = "Run key automat scenarios on the simulated automat")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run scenarios headless and report.
    Run(RunArgs),
    /// Write the HTML report of a run from its `--out` directory (traces and summaries).
    Report {
        /// The `--out` directory of a `sim run` or `hil run`.
        out: PathBuf,
        /// The report to write.
        #[arg(long, short, default_value = "report.html")]
        output: PathBuf,
    },
    /// Run random scenarios from seeds against the invariants; shrink and write failures.
    Swarm {
        /// How many seeds.
        #[arg(long, default_value_t = 1000)]
        seeds: u64,
        /// The first seed.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Runs side by side (default: one per core).
        #[arg(long, short, default_value_t = 0)]
        jobs: usize,
        /// Where shrunk reproducers are written, as `seed-N.ron`.
        #[arg(long, default_value = "swarm-failures")]
        out: PathBuf,
    },
    /// Watch a scenario (simulated live) or a recorded trace in 3D (needs the `viewer` feature:
    /// `cargo run -p sim --features viewer -- view …`).
    View(ViewArgs),
    /// Compare two traces: the first divergence with the events around it, the events only one
    /// has (by type), the verdicts. Exit 0 equivalent, 1 different, 2 bad input.
    Diff {
        /// A trace (`trace.jsonl`) or the directory holding one.
        a: PathBuf,
        /// The other.
        b: PathBuf,
        /// Leave out these event types (`bytes,link` to compare a `sim run` with a `hil run`).
        #[arg(long, value_delimiter = ',')]
        ignore: Vec<String>,
    },
    /// Check scenario files without running them.
    Check {
        /// Scenario files, or directories searched for `*.ron`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// `sim view`'s arguments.
#[derive(Args, Debug)]
struct ViewArgs {
    /// A scenario file, a trace (`trace.jsonl` from `sim run --out` or `hil run --out`), or
    /// the directory holding one.
    path: PathBuf,
    /// Start at this simulated time (`"90s"`, `"1h 2m 3.5s"`).
    #[arg(long, value_parser = parse_time, default_value = "0s")]
    at: u64,
    /// Render the moment `--at` into this PNG and exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Window size in pixels, `WxH`.
    #[arg(long, value_parser = parse_size, default_value = "1280x720")]
    size: (u32, u32),
    /// Seed for a scenario (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Play at 10× for this many frames once drawn, print the frame rate and exit.
    #[arg(long, hide = true)]
    measure_frames: Option<u32>,
    /// A scenario's cameras (default: the scenario's `cameras`, else drawn): `rendered` shows
    /// the 3D scene's captures in the camera panel.
    #[arg(long, value_enum)]
    cameras: Option<sim::camera::CameraMode>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Scenario files, or directories searched for `*.ron` (with `--rerun-failed`: default
    /// the files that failed).
    #[arg(required_unless_present = "rerun_failed")]
    paths: Vec<PathBuf>,
    /// Scenarios run side by side (default: one per core).
    #[arg(long, short, default_value_t = 0)]
    jobs: usize,
    /// Use this seed for every scenario.
    #[arg(long)]
    seed: Option<u64>,
    /// Only one part of the run: `hash:k/n` (by name: stable when scenarios come and go) or
    /// `count:k/n` (every n-th by position).
    #[arg(long)]
    shard: Option<Shard>,
    /// Run again the scenarios that failed in this `--out` directory of an earlier run.
    #[arg(long)]
    rerun_failed: Option<PathBuf>,
    #[command(flatten)]
    suite: SuiteArgs,
    /// Print the scenarios the options select (name, then file), one a line, and exit.
    #[arg(long)]
    list: bool,
}

fn parse_time(s: &str) -> Result<u64, String> {
    sim::scenario::Offset::parse(s).map(|o| o.0.as_micros() as u64)
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("{s:?} is not WxH, like 1280x720"))?;
    let w: u32 = w.parse().map_err(|_| format!("width {w:?} is not a number"))?;
    let h: u32 = h.parse().map_err(|_| format!("height {h:?} is not a number"))?;
    if !(64..=8192).contains(&w) || !(64..=8192).contains(&h) {
        return Err(format!("{w}x{h}: width and height must be 64 to 8192"));
    }
    Ok((w, h))
}

#[allow(clippy::print_stdout)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::View(args) => view(args),
        Command::Diff { a, b, ignore } => {
            let trace = |p: PathBuf| if p.is_dir() { p.join("trace.jsonl") } else { p };
            match sim::diff::diff(&trace(a), &trace(b), &ignore) {
                Ok(report) => {
                    print!("{}", report.text);
                    if report.same { ExitCode::SUCCESS } else { ExitCode::from(1) }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Check { paths } => match suite::load(&paths) {
            Ok(all) => {
                println!("{} scenarios valid", all.len());
                ExitCode::SUCCESS
            }
            Err(errors) => report_load_errors(errors),
        },
        Command::Swarm { seeds, from, jobs, out } => {
            // A panic is a finding, reported with its seed; keep the default message off the terminal.
            std::panic::set_hook(Box::new(|_| {}));
            let opts = SwarmOptions { from, seeds, jobs, out: Some(out), progress: true };
            let report = swarm::run(&opts);
            for f in &report.failures {
                println!("seed {}: {}", f.seed, f.failures.first().map_or("", String::as_str));
                if let Some(file) = &f.file {
                    println!("  reproducer ({} → {} steps): {}", f.steps.0, f.steps.1, file.display());
                }
            }
            println!(
                "{} seeds ({}..{}), {} failed, {:.1} s, {:.0} seeds/minute",
                report.seeds,
                from,
                from + seeds,
                report.failures.len(),
                report.wall.as_secs_f64(),
                report.seeds_per_minute()
            );
            if report.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Command::Run(args) => run(args),
        Command::Report { out, output } => match sim::report::write(&out, &output) {
            Ok(()) => {
                println!("{}", output.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
    }
}

#[allow(clippy::print_stdout)]
fn run(args: RunArgs) -> ExitCode {
    let mut paths = args.paths;
    let only = match &args.rerun_failed {
        None => None,
        Some(dir) => match suite::failed_in(dir) {
            Err(e) => {
                eprintln!("error: --rerun-failed {e}");
                return ExitCode::from(2);
            }
            Ok(failed) if failed.is_empty() => {
                println!("nothing failed in {}: nothing to run again", dir.display());
                return ExitCode::SUCCESS;
            }
            Ok(failed) => {
                if paths.is_empty() {
                    paths = failed.iter().map(|(f, _)| f.clone()).collect();
                }
                Some(failed.into_iter().map(|(_, name)| name).collect())
            }
        },
    };
    let all = match suite::load(&paths) {
        Ok(all) => all,
        Err(errors) => return report_load_errors(errors),
    };
    let opts = args.suite.options(SuiteOptions {
        jobs: args.jobs,
        seed: args.seed,
        shard: args.shard,
        only,
        progress: true,
        ..SuiteOptions::default()
    });
    let selection = match suite::select(all, &opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.list {
        for (file, s) in &selection.run {
            println!("{}\t{}", s.name, file.display());
        }
        return ExitCode::SUCCESS;
    }
    if let Err(e) = suite::start_cameras(&selection.run, &opts) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let results = suite::run(&selection.run, &opts);
    print!("{}", suite::table(&results, &selection.not_run));
    let errors =
        suite::write_reports(&results, &selection.not_run, opts.out.as_deref(), args.suite.reports());
    for e in &errors {
        eprintln!("error: {e}");
    }
    if selection.run.is_empty() {
        eprintln!("error: no scenario left to run (filter, shard, tags)");
        return ExitCode::from(2);
    }
    if !errors.is_empty() {
        return ExitCode::from(2);
    }
    if results.iter().all(|r| r.outcome.passed) { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn report_load_errors(errors: Vec<sim::scenario::LoadError>) -> ExitCode {
    for e in errors {
        eprintln!("{:?}", miette::Report::new(e));
    }
    ExitCode::from(2)
}

#[cfg(feature = "viewer")]
fn view(args: ViewArgs) -> ExitCode {
    use sim::viewer::{Source, ViewOptions, view};
    let ViewArgs { path, at, screenshot, size, seed, measure_frames, cameras } = args;
    let source = if path.extension().is_some_and(|e| e == "ron") {
        match sim::scenario::load_file(&path) {
            Ok(s) => {
                let name: String =
                    s.name.chars().map(|c| if c.is_alphanumeric() { c } else { '-' }).collect();
                let dir = std::env::temp_dir().join(format!("sim-view-{}-{name}", std::process::id()));
                Source::Scenario(Box::new(s), dir)
            }
            Err(e) => return report_load_errors(vec![e]),
        }
    } else if path.is_dir() {
        Source::Trace(path.join("trace.jsonl"))
    } else {
        Source::Trace(path)
    };
    let images = match &source {
        Source::Scenario(_, dir) => Some(dir.clone()),
        Source::Trace(_) => None,
    };
    let result = view(ViewOptions { source, seed, size, at, screenshot, measure_frames, cameras });
    if let Some(dir) = images {
        let _ = std::fs::remove_dir_all(dir);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(not(feature = "viewer"))]
fn view(args: ViewArgs) -> ExitCode {
    eprintln!(
        "error: this sim was built without the 3D viewer; run `cargo run --release -p sim --features viewer -- view {}`",
        args.path.display()
    );
    ExitCode::from(2)
}
