//! `sim`: run key automat scenarios on the simulated automat.
//!
//! ```text
//! sim run [--jobs N] [--junit FILE] [--out DIR] [--seed N] [--filter TEXT] [--shard K/N] <files or dirs>...
//! sim check <files or dirs>...
//! sim swarm --seeds N [--from S] [--jobs J] [--out DIR]
//! ```
//! Exit codes: 0 all passed (or all valid), 1 a scenario failed, 2 bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sim::suite::{self, SuiteOptions};
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
    Run {
        /// Scenario files, or directories searched for `*.ron`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Scenarios run side by side (default: one per core).
        #[arg(long, short, default_value_t = 0)]
        jobs: usize,
        /// Write JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Write each scenario's trace, camera images and summary under this directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Use this seed for every scenario.
        #[arg(long)]
        seed: Option<u64>,
        /// Only scenarios whose name or file contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Only the k-th of n shards, as `k/n` (1-based).
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
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
    /// Check scenario files without running them.
    Check {
        /// Scenario files, or directories searched for `*.ron`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s.split_once('/').ok_or_else(|| format!("{s:?} is not k/n"))?;
    let k: usize = k.parse().map_err(|_| format!("{k:?} is not a number"))?;
    let n: usize = n.parse().map_err(|_| format!("{n:?} is not a number"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {k}/{n}: need 1 <= k <= n"));
    }
    Ok((k, n))
}

#[allow(clippy::print_stdout)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
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
        Command::Run { paths, jobs, junit, out, seed, filter, shard } => {
            let all = match suite::load(&paths) {
                Ok(all) => all,
                Err(errors) => return report_load_errors(errors),
            };
            let opts = SuiteOptions {
                jobs,
                seed,
                out,
                filter,
                shard,
                progress: true,
                boards: None,
                operators: None,
            };
            let selected = suite::select(all, &opts);
            if selected.is_empty() {
                eprintln!("error: no scenario matches the filter and shard");
                return ExitCode::from(2);
            }
            let results = suite::run(&selected, &opts);
            print!("{}", suite::table(&results));
            if let Some(path) = junit
                && let Err(e) = suite::junit(&results, &path)
            {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
            if results.iter().all(|r| r.outcome.passed) { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
    }
}

fn report_load_errors(errors: Vec<sim::scenario::LoadError>) -> ExitCode {
    for e in errors {
        eprintln!("{:?}", miette::Report::new(e));
    }
    ExitCode::from(2)
}
