//! Running many scenarios: loading, choosing ([`select`]), running side by side on a thread
//! pool (each run single-threaded and deterministic, each with a wall-clock limit), and
//! reporting: a results table, [JUnit XML](junit), an [HTML report](crate::report), and per
//! scenario under `--out` a trace, its camera images and a summary.

mod args;
mod junit;
mod select;

pub use args::{SuiteArgs, files_beside, parse_duration};
pub use junit::junit;
pub use select::{NotRun, Selection, Shard, failed_in, select};

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant as WallInstant};

use serde::{Deserialize, Serialize};

use crate::camera::{CameraMode, Cameras};
use crate::run::{BoardPlacer, LinkCounts, Operator, Outcome, RunOptions, panic_text, run_scenario};
use crate::scenario::{LoadError, Scenario, load::collect, load_file};

/// What to run and how.
#[derive(Clone, Debug, Default)]
pub struct SuiteOptions {
    /// Runs side by side (0: one per core).
    pub jobs: usize,
    /// Overrides every scenario's seed.
    pub seed: Option<u64>,
    /// Where traces, images and summaries go.
    pub out: Option<PathBuf>,
    /// Only scenarios whose name or file contains this.
    pub filter: Option<String>,
    /// Only this part of the run.
    pub shard: Option<Shard>,
    /// Only scenarios with one of these tags (none: all).
    pub tags: Vec<String>,
    /// No scenario with one of these tags.
    pub exclude_tags: Vec<String>,
    /// Only the scenarios of these names (`--rerun-failed`).
    pub only: Option<BTreeSet<String>>,
    /// A run still going after this much wall time fails as timed out (none: no limit).
    pub timeout: Option<Duration>,
    /// The limit counts from the end of the scenario's simulated time, not its start: a board
    /// on its own clock makes a run last as long as it simulates.
    pub timeout_after_duration: bool,
    /// Test only: the scenario of this name gets stuck (see [`RunOptions::hang`]).
    pub hang: Option<String>,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// Where boards live, per run (the HIL bridge); `None`: all simulated.
    pub boards: Option<PlacerFactory>,
    /// Rig mode: the person asked to do the users' steps, per run.
    pub operators: Option<OperatorFactory>,
    /// How camera images are made, whatever the scenarios say (`--cameras`).
    pub cameras: Option<CameraMode>,
    /// A failed scenario runs again up to this many times, with a board only (`hil run
    /// --retries`): a board and its line may fail for reasons of their own, the simulator is
    /// deterministic and a retry would only hide a bug.
    pub retries: u32,
}

/// Makes an [`Operator`] for each run.
#[derive(Clone)]
pub struct OperatorFactory(pub std::sync::Arc<dyn Fn() -> Box<dyn Operator> + Send + Sync>);

impl std::fmt::Debug for OperatorFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorFactory")
    }
}

/// Makes a [`BoardPlacer`] for each run.
#[derive(Clone)]
pub struct PlacerFactory(pub std::sync::Arc<dyn Fn() -> Box<dyn BoardPlacer> + Send + Sync>);

impl std::fmt::Debug for PlacerFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlacerFactory")
    }
}

/// One scenario's result.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// Its file.
    pub file: PathBuf,
    /// Its name.
    pub name: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// The seed it ran with.
    pub seed: u64,
    /// What the run found.
    pub outcome: Outcome,
    /// Wall time.
    pub wall: Duration,
    /// Where its trace, images and summary are (with `--out`).
    pub dir: Option<PathBuf>,
    /// The failures of the attempts before this one (`hil run --retries`), first first: a
    /// pass after any is [`FLAKY`](CaseResult::verdict), never a plain pass.
    pub earlier: Vec<Vec<String>>,
}

impl CaseResult {
    /// `pass`, `FLAKY` (passed after failed attempts), `FAIL` or `SKIP`.
    pub fn verdict(&self) -> &'static str {
        case_verdict(&self.outcome, self.earlier.len())
    }
}

/// Loads every scenario under `paths`; all load errors are returned together. Two scenarios
/// whose names give one `--out` directory are refused (their traces would interleave).
pub fn load(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Scenario)>, Vec<LoadError>> {
    let files = collect(paths).map_err(|e| vec![e])?;
    if files.is_empty() {
        return Err(vec![LoadError::io("<arguments>", "no .ron scenario files found".into())]);
    }
    let mut ok: Vec<(PathBuf, Scenario)> = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match load_file(&f) {
            Ok(s) => match ok.iter().find(|(_, o)| slug(&o.name) == slug(&s.name)) {
                Some((other, _)) => errors.push(LoadError::io(
                    &f.display().to_string(),
                    format!(
                        "name: {:?} is also the name of {} (a scenario's name must be unique in a run: it names its --out directory)",
                        s.name,
                        other.display()
                    ),
                )),
                None => ok.push((f, s)),
            },
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(ok) } else { Err(errors) }
}

/// Starts the cameras the scenarios about to run need: rendered ones start the process's
/// renderer, which fails (no Vulkan device, a build without `render`) before anything runs.
pub fn start_cameras(scenarios: &[(PathBuf, Scenario)], opts: &SuiteOptions) -> Result<(), String> {
    let rendered = scenarios.iter().find(|(_, s)| opts.cameras.or(s.cameras) == Some(CameraMode::Rendered));
    match rendered {
        None => Ok(()),
        Some((file, s)) => Cameras::new(CameraMode::Rendered).map(|_| ()).map_err(|e| {
            let why = if opts.cameras.is_some() {
                "--cameras rendered".to_string()
            } else {
                format!("{} ({}) asks for rendered cameras", s.name, file.display())
            };
            format!("{why}: {e}")
        }),
    }
}

/// A directory name for a scenario.
pub fn slug(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-")
}

/// A scenario's `summary.json`: written by each run under `--out`, read back by
/// `--rerun-failed` and the HTML report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// The scenario's name.
    pub scenario: String,
    /// Its file, as given to the run.
    pub file: String,
    /// The seed it ran with.
    #[serde(default)]
    pub seed: u64,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// `pass`, `FLAKY`, `FAIL` or `SKIP` ([`CaseResult::verdict`]).
    pub verdict: String,
    /// Passed.
    #[serde(default)]
    pub passed: bool,
    /// The failures, first first.
    #[serde(default)]
    pub failures: Vec<String>,
    /// Steps not performed (rig mode).
    #[serde(default)]
    pub skipped: Vec<String>,
    /// Simulated seconds.
    #[serde(default)]
    pub simulated_s: f64,
    /// Wall seconds.
    #[serde(default)]
    pub wall_s: f64,
    /// Per automat, what its links carried.
    #[serde(default)]
    pub links: Vec<LinkCounts>,
    /// The failures of earlier attempts (`hil run --retries`), first first; their files are
    /// under `attempt-N/`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_failures: Vec<Vec<String>>,
    /// The event summary (as in the snapshots).
    #[serde(default)]
    pub events: Vec<String>,
}

/// Reads the `summary.json` in a scenario's directory under `--out`.
pub fn read_summary(dir: &Path) -> Result<Summary, String> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not a run's summary: {e}", path.display()))
}

/// The directories under `out` that hold a `summary.json`, sorted by name.
pub fn summary_dirs(out: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut slugs: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("summary.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    slugs.sort();
    Ok(slugs)
}

/// Runs one scenario, again while it fails and retries are left (with a board only); the
/// files of each failed attempt are kept under `attempt-N/` beside the last one's.
fn run_case(file: &Path, scenario: &Scenario, opts: &SuiteOptions) -> CaseResult {
    let mut earlier: Vec<Vec<String>> = Vec::new();
    loop {
        let mut r = run_one(file, scenario, opts, &earlier);
        let failed = !r.outcome.passed && !r.outcome.failures.is_empty();
        if !failed || opts.boards.is_none() || earlier.len() >= opts.retries as usize {
            r.earlier = earlier;
            return r;
        }
        if let Some(dir) = &r.dir
            && let Err(e) = keep_attempt(dir, earlier.len() + 1)
        {
            r.outcome.failures.push(format!("cannot keep the files of attempt {}: {e}", earlier.len() + 1));
            r.earlier = earlier;
            return r;
        }
        earlier.push(r.outcome.failures);
    }
}

/// Moves a failed attempt's trace, images and summary into `dir/attempt-N/`.
fn keep_attempt(dir: &Path, n: usize) -> std::io::Result<()> {
    let to = dir.join(format!("attempt-{n}"));
    std::fs::create_dir_all(&to)?;
    for name in ["trace.jsonl", "images", "summary.json"] {
        if dir.join(name).exists() {
            std::fs::rename(dir.join(name), to.join(name))?;
        }
    }
    Ok(())
}

fn run_one(file: &Path, scenario: &Scenario, opts: &SuiteOptions, earlier: &[Vec<String>]) -> CaseResult {
    let started = WallInstant::now();
    let limit = opts.timeout.map(|t| {
        let own_clock =
            opts.timeout_after_duration.then(|| scenario.duration.map_or(Duration::ZERO, |d| d.0));
        started + t + own_clock.unwrap_or_default()
    });
    let hang = opts.hang.as_deref() == Some(scenario.name.as_str());
    let mut run_opts =
        RunOptions { seed: opts.seed, deadline: limit, hang, cameras: opts.cameras, ..Default::default() };
    run_opts.boards = opts.boards.as_ref().map(|make| (make.0)());
    run_opts.operator = opts.operators.as_ref().map(|make| (make.0)());
    let mut setup_failure = None;
    let dir = opts.out.as_ref().map(|o| o.join(slug(&scenario.name)));
    if let Some(dir) = &dir {
        let made = std::fs::create_dir_all(dir.join("images"))
            .and_then(|()| File::create(dir.join("trace.jsonl")))
            .map(|f| Box::new(BufWriter::new(f)) as Box<dyn std::io::Write + Send + Sync>);
        match made {
            Ok(w) => {
                run_opts.trace = Some(w);
                run_opts.images = Some(dir.clone());
            }
            Err(e) => setup_failure = Some(format!("cannot write to {}: {e}", dir.display())),
        }
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_scenario(scenario, run_opts)));
    let mut outcome = outcome
        .unwrap_or_else(|p| Outcome::failed(format!("the simulator panicked: {}", panic_text(p.as_ref()))));
    if let Some(f) = setup_failure {
        outcome.passed = false;
        outcome.failures.insert(0, f);
    }
    let wall = started.elapsed();
    let seed = opts.seed.unwrap_or(scenario.seed);
    if let Some(dir) = &dir {
        let summary = Summary {
            scenario: scenario.name.clone(),
            file: file.display().to_string(),
            seed,
            tags: scenario.tags.clone(),
            verdict: case_verdict(&outcome, earlier.len()).to_string(),
            earlier_failures: earlier.to_vec(),
            passed: outcome.passed,
            failures: outcome.failures.clone(),
            skipped: outcome.skipped.clone(),
            simulated_s: outcome.simulated.as_secs_f64(),
            wall_s: wall.as_secs_f64(),
            links: outcome.links.clone(),
            events: outcome.summary.clone(),
        };
        let written = File::create(dir.join("summary.json"))
            .map_err(|e| e.to_string())
            .and_then(|f| serde_json::to_writer_pretty(f, &summary).map_err(|e| e.to_string()));
        if let Err(e) = written {
            outcome.passed = false;
            outcome.failures.push(format!("cannot write the summary: {e}"));
        }
    }
    CaseResult {
        file: file.to_path_buf(),
        name: scenario.name.clone(),
        tags: scenario.tags.clone(),
        seed,
        outcome,
        wall,
        dir,
        earlier: Vec::new(),
    }
}

/// Runs the scenarios side by side; results come back in input order.
pub fn run(scenarios: &[(PathBuf, Scenario)], opts: &SuiteOptions) -> Vec<CaseResult> {
    let jobs =
        if opts.jobs == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { opts.jobs };
    let jobs = jobs.clamp(1, scenarios.len().max(1));
    let bar = if opts.progress && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(scenarios.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}") {
            b.set_style(style);
        }
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<CaseResult>>> = Mutex::new(vec![None; scenarios.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((file, scenario)) = scenarios.get(i) else { return };
                    let r = run_case(file, scenario, opts);
                    bar.set_message(r.name.clone());
                    bar.inc(1);
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(r);
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    results.into_inner().unwrap_or_default().into_iter().flatten().collect()
}

/// The results table, then what was not run and why.
pub fn table(results: &[CaseResult], not_run: &[NotRun]) -> String {
    let width = results.iter().map(|r| r.name.len()).max().unwrap_or(8).max(8);
    let mut s = format!("{:<width$}  {:>6}  {:>10}  {:>8}\n", "scenario", "result", "simulated", "wall");
    for r in results {
        let verdict = r.verdict();
        s.push_str(&format!(
            "{:<width$}  {:>6}  {:>9.0}s  {:>6.0}ms\n",
            r.name,
            verdict,
            r.outcome.simulated.as_secs_f64(),
            r.wall.as_secs_f64() * 1000.0
        ));
        if let Some(first) = r.earlier.first() {
            s.push_str(&format!(
                "    passed on attempt {}; attempt 1 failed: {}\n",
                r.earlier.len() + 1,
                first.first().map_or("failed", String::as_str)
            ));
        }
        let notes = if r.outcome.failures.is_empty() { &r.outcome.skipped } else { &r.outcome.failures };
        if let Some(first) = notes.first() {
            s.push_str(&format!("    {first}\n"));
            if notes.len() > 1 {
                s.push_str(&format!("    (+{} more)\n", notes.len() - 1));
            }
        }
    }
    let passed = results.iter().filter(|r| r.outcome.passed).count();
    let skipped = results.iter().filter(|r| r.verdict() == "SKIP").count();
    let flaky = results.iter().filter(|r| r.verdict() == "FLAKY").count();
    s.push_str(&format!("{} passed, {} failed", passed, results.len() - passed - skipped));
    if flaky > 0 {
        s.push_str(&format!(" ({flaky} of the passes FLAKY: passed only on a retry)"));
    }
    if skipped > 0 {
        s.push_str(&format!(", {skipped} with skipped steps"));
    }
    if !not_run.is_empty() {
        s.push_str(&format!(", {} not run", not_run.len()));
    }
    s.push('\n');
    for n in not_run {
        s.push_str(&format!("not run: {} ({})\n", n.name, n.reason));
    }
    s
}

/// What a finished run writes besides its table.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reports<'a> {
    /// JUnit XML.
    pub junit: Option<&'a Path>,
    /// The HTML report (built from `--out`).
    pub html: Option<&'a Path>,
}

/// Writes the index of `out` (`run.json`: which scenarios this run ran, in order, and which it
/// left out), then the JUnit XML and the HTML report. Every one is attempted; the errors
/// come back together, each naming its file.
pub fn write_reports(
    results: &[CaseResult],
    not_run: &[NotRun],
    out: Option<&Path>,
    to: Reports<'_>,
) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(out) = out {
        let index = RunIndex {
            scenarios: results.iter().map(|r| slug(&r.name)).collect(),
            not_run: not_run.to_vec(),
        };
        let path = out.join("run.json");
        let written = std::fs::create_dir_all(out)
            .map_err(|e| e.to_string())
            .and_then(|()| serde_json::to_vec_pretty(&index).map_err(|e| e.to_string()))
            .and_then(|bytes| std::fs::write(&path, bytes).map_err(|e| e.to_string()));
        if let Err(e) = written {
            errors.push(format!("cannot write {}: {e}", path.display()));
        }
    }
    if let Some(path) = to.junit
        && let Err(e) = junit(results, not_run, to.html, path)
    {
        errors.push(format!("cannot write {}: {e}", path.display()));
    }
    if let Some(path) = to.html {
        match out {
            Some(out) => {
                if let Err(e) = crate::report::write(out, path) {
                    errors.push(e);
                }
            }
            None => errors.push(format!(
                "cannot write {}: the report is built from --out, and there is none",
                path.display()
            )),
        }
    }
    errors
}

/// `run.json` in a run's `--out`: what the run ran, in order, and what it left out.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunIndex {
    /// The scenarios' directories, in the run's order.
    pub scenarios: Vec<String>,
    /// What the run left out, and why.
    #[serde(default)]
    pub not_run: Vec<NotRun>,
}

impl RunIndex {
    /// The index of the run in `out`: its `run.json`, or without one every directory holding a
    /// `summary.json`, sorted. An error when there is no run there at all.
    pub fn read(out: &Path) -> Result<RunIndex, String> {
        let path = out.join("run.json");
        let index = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?,
            Err(_) => RunIndex { scenarios: summary_dirs(out)?, not_run: Vec::new() },
        };
        if index.scenarios.is_empty() && index.not_run.is_empty() {
            return Err(format!(
                "{}: no run.json and no scenario's summary.json: not the --out of a run",
                out.display()
            ));
        }
        Ok(index)
    }
}

/// `pass`, `FAIL`, or `SKIP` (no failure, but steps that could not be performed: not a pass).
pub fn verdict(outcome: &Outcome) -> &'static str {
    case_verdict(outcome, 0)
}

/// [`verdict`] of a run after `retried` failed attempts: a pass after any is `FLAKY`.
fn case_verdict(outcome: &Outcome, retried: usize) -> &'static str {
    match (outcome.passed, outcome.failures.is_empty()) {
        (true, _) if retried > 0 => "FLAKY",
        (true, _) => "pass",
        (false, true) => "SKIP",
        (false, false) => "FAIL",
    }
}
