//! Every scenario under `scenarios/` is a test case (libtest-mimic), with an insta snapshot of
//! its event summary; plus the determinism tests: two runs, and `--jobs 1` against `--jobs 2`,
//! give identical trace bytes.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use sim::run::{RunOptions, run_scenario};
use sim::suite::{self, SuiteOptions};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn scenario_trial(path: PathBuf) -> Trial {
    let name = path.strip_prefix(scenarios_dir()).unwrap_or(&path).with_extension("").display().to_string();
    Trial::test(format!("scenario::{name}"), move || {
        let scenario = sim::scenario::load_file(&path).map_err(|e| Failed::from(format!("{e}")))?;
        let outcome = run_scenario(&scenario, RunOptions::default());
        if !outcome.passed {
            return Err(outcome.failures.join("\n").into());
        }
        let snapshot = name.replace('/', "__");
        insta::with_settings!({
            snapshot_path => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"),
            prepend_module_to_snapshot => false,
            description => scenario.description.clone(),
        }, {
            insta::assert_snapshot!(snapshot, outcome.summary.join("\n"));
        });
        Ok(())
    })
}

/// Runs a scenario with its trace in memory.
fn trace_of(path: &Path, seed: Option<u64>) -> Result<Vec<u8>, Failed> {
    let scenario = sim::scenario::load_file(path).map_err(|e| Failed::from(format!("{e}")))?;
    let buf = sim::trace::MemoryTrace::default();
    run_scenario(&scenario, RunOptions { seed, trace: Some(Box::new(buf.clone())), ..Default::default() });
    let bytes = buf.bytes();
    Ok(bytes)
}

fn determinism_trials() -> Vec<Trial> {
    vec![
        Trial::test("determinism::same_seed_same_trace_bytes", || {
            let path = scenarios_dir().join("wrong_key_returned_taken_back.ron");
            let a = trace_of(&path, Some(11))?;
            let b = trace_of(&path, Some(11))?;
            if a.len() < 1000 {
                return Err("trace suspiciously short".into());
            }
            if a != b {
                return Err("two runs with the same seed gave different traces".into());
            }
            let c = trace_of(&path, Some(12))?;
            if a == c {
                return Err("another seed gave the very same trace: the seed is not used".into());
            }
            Ok(())
        }),
        Trial::test("determinism::jobs_1_and_jobs_2_write_identical_traces", || {
            let all = suite::load(&[scenarios_dir()])
                .map_err(|e| Failed::from(format!("{} load errors", e.len())))?;
            let dir = tempfile::tempdir().map_err(|e| Failed::from(e.to_string()))?;
            let (one, two) = (dir.path().join("one"), dir.path().join("two"));
            for (jobs, out) in [(1, &one), (2, &two)] {
                let opts = SuiteOptions { jobs, out: Some(out.clone()), ..Default::default() };
                let results = suite::run(&all, &opts);
                if results.len() != all.len() {
                    return Err("not every scenario ran".into());
                }
            }
            for (_, s) in &all {
                let slug = suite::slug(&s.name);
                let a = std::fs::read(one.join(&slug).join("trace.jsonl"))
                    .map_err(|e| Failed::from(e.to_string()))?;
                let b = std::fs::read(two.join(&slug).join("trace.jsonl"))
                    .map_err(|e| Failed::from(e.to_string()))?;
                if a != b {
                    return Err(format!("{}: traces differ between --jobs 1 and --jobs 2", s.name).into());
                }
                if !one.join(&slug).join("summary.json").exists() {
                    return Err(format!("{}: no summary written", s.name).into());
                }
            }
            Ok(())
        }),
    ]
}

fn main() {
    let args = Arguments::from_args();
    let files = sim::scenario::load::collect(&[scenarios_dir()]).unwrap_or_default();
    let mut trials: Vec<Trial> = files.into_iter().map(scenario_trial).collect();
    trials.extend(determinism_trials());
    libtest_mimic::run(&args, trials).exit();
}
