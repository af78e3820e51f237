//! Running many scenarios: loading, filtering and sharding, running side by side on a thread
//! pool (each run single-threaded and deterministic), and reporting: a results table, JUnit
//! XML, and per scenario a trace, its camera images and a summary.

use std::fs::File;
use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant as WallInstant};

use serde::Serialize;

use crate::run::{BoardPlacer, Operator, Outcome, RunOptions, panic_text, run_scenario};
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
    /// `(k, n)`: only the k-th of n shards (1-based), by position in the sorted list.
    pub shard: Option<(usize, usize)>,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// Where boards live, per run (the HIL bridge); `None`: all simulated.
    pub boards: Option<PlacerFactory>,
    /// Rig mode: the person asked to do the users' steps, per run.
    pub operators: Option<OperatorFactory>,
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
    /// What the run found.
    pub outcome: Outcome,
    /// Wall time.
    pub wall: Duration,
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

/// The scenarios the filter and shard select, in order.
pub fn select(all: Vec<(PathBuf, Scenario)>, opts: &SuiteOptions) -> Vec<(PathBuf, Scenario)> {
    let filtered: Vec<_> = all
        .into_iter()
        .filter(|(f, s)| {
            opts.filter
                .as_ref()
                .is_none_or(|t| s.name.contains(t.as_str()) || f.display().to_string().contains(t.as_str()))
        })
        .collect();
    match opts.shard {
        Some((k, n)) if n > 0 => {
            filtered.into_iter().enumerate().filter(|(i, _)| i % n == k - 1).map(|(_, x)| x).collect()
        }
        _ => filtered,
    }
}

/// A directory name for a scenario.
pub fn slug(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-")
}

#[derive(Serialize)]
struct Summary<'a> {
    scenario: &'a str,
    file: String,
    seed: Option<u64>,
    passed: bool,
    failures: &'a [String],
    simulated_s: f64,
    wall_s: f64,
    events: &'a [String],
}

fn run_one(file: &Path, scenario: &Scenario, opts: &SuiteOptions) -> CaseResult {
    let started = WallInstant::now();
    let mut run_opts = RunOptions { seed: opts.seed, ..Default::default() };
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
    if let Some(dir) = &dir {
        let summary = Summary {
            scenario: &scenario.name,
            file: file.display().to_string(),
            seed: opts.seed.or(Some(scenario.seed)),
            passed: outcome.passed,
            failures: &outcome.failures,
            simulated_s: outcome.simulated.as_secs_f64(),
            wall_s: wall.as_secs_f64(),
            events: &outcome.summary,
        };
        let written = File::create(dir.join("summary.json"))
            .map_err(|e| e.to_string())
            .and_then(|f| serde_json::to_writer_pretty(f, &summary).map_err(|e| e.to_string()));
        if let Err(e) = written {
            outcome.passed = false;
            outcome.failures.push(format!("cannot write the summary: {e}"));
        }
    }
    CaseResult { file: file.to_path_buf(), name: scenario.name.clone(), outcome, wall }
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
                    let r = run_one(file, scenario, opts);
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

/// The results table.
pub fn table(results: &[CaseResult]) -> String {
    let width = results.iter().map(|r| r.name.len()).max().unwrap_or(8).max(8);
    let mut s = format!("{:<width$}  {:>6}  {:>10}  {:>8}\n", "scenario", "result", "simulated", "wall");
    for r in results {
        let verdict = verdict(&r.outcome);
        s.push_str(&format!(
            "{:<width$}  {:>6}  {:>9.0}s  {:>6.0}ms\n",
            r.name,
            verdict,
            r.outcome.simulated.as_secs_f64(),
            r.wall.as_secs_f64() * 1000.0
        ));
        let notes = if r.outcome.failures.is_empty() { &r.outcome.skipped } else { &r.outcome.failures };
        if let Some(first) = notes.first() {
            s.push_str(&format!("    {first}\n"));
            if notes.len() > 1 {
                s.push_str(&format!("    (+{} more)\n", notes.len() - 1));
            }
        }
    }
    let passed = results.iter().filter(|r| r.outcome.passed).count();
    let skipped = results.iter().filter(|r| verdict(&r.outcome) == "SKIP").count();
    s.push_str(&format!("{} passed, {} failed", passed, results.len() - passed - skipped));
    if skipped > 0 {
        s.push_str(&format!(", {skipped} with skipped steps"));
    }
    s.push('\n');
    s
}

/// `pass`, `FAIL`, or `SKIP` (no failure, but steps that could not be performed: not a pass).
pub fn verdict(outcome: &Outcome) -> &'static str {
    match (outcome.passed, outcome.failures.is_empty()) {
        (true, _) => "pass",
        (false, true) => "SKIP",
        (false, false) => "FAIL",
    }
}

/// Writes JUnit XML: one test case per scenario; a failure's message is its first unmet
/// expectation with its simulated time.
pub fn junit(results: &[CaseResult], path: &Path) -> std::io::Result<()> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("sim");
    let mut suite = TestSuite::new("scenarios");
    for r in results {
        let status = if r.outcome.passed {
            TestCaseStatus::success()
        } else if r.outcome.failures.is_empty() {
            let mut s = TestCaseStatus::skipped();
            s.set_message(r.outcome.skipped.first().cloned().unwrap_or_default());
            s.set_description(r.outcome.skipped.join("\n"));
            s
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(r.outcome.failures.first().cloned().unwrap_or_default());
            s.set_description(r.outcome.failures.join("\n"));
            s
        };
        let mut case = TestCase::new(r.name.clone(), status);
        case.set_classname(r.file.display().to_string());
        case.set_time(r.wall);
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    let xml = report.to_string().map_err(std::io::Error::other)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, xml)
}
