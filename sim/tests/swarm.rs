//! Swarm testing in CI: fixed seeds must break no invariant, and a failing scenario shrinks
//! to a reproducer that `sim run` replays. `sim swarm` hunts with more seeds.
//!
//! The seeds are trials of a hundred each, named by their range (`swarm::seeds_0400_0499`), so
//! that `cargo nextest run --partition hash:k/n` spreads them over CI runners like the
//! scenarios. `SWARM_SEEDS=FROM..TO` sets the range (default `0..500`), `SWARM_BLOCK` the
//! trial's size.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use sim::run::{RunOptions, run_plain};
use sim::scenario::{Action, ContractSpec, Offset, Step, load_str};
use sim::swarm::{self, SwarmOptions, check, generate, shrink, to_ron};

/// Seeds CI runs on every push (`sim swarm --seeds 500` does the same from the command line).
const CI_SEEDS: Range<u64> = 0..500;
/// Seeds per trial.
const BLOCK: u64 = 100;

/// `SWARM_SEEDS` and `SWARM_BLOCK`, or the defaults; a bad value is an error, not a default.
fn seeds() -> Result<(Range<u64>, u64), String> {
    let range = match std::env::var("SWARM_SEEDS") {
        Err(_) => CI_SEEDS,
        Ok(text) => {
            let (a, b) =
                text.split_once("..").ok_or_else(|| format!("SWARM_SEEDS={text:?}: write FROM..TO"))?;
            let n = |s: &str| {
                s.trim().parse::<u64>().map_err(|_| format!("SWARM_SEEDS={text:?}: {s:?} is not a number"))
            };
            let (a, b) = (n(a)?, n(b)?);
            if a >= b {
                return Err(format!("SWARM_SEEDS={text:?}: no seeds in that range"));
            }
            a..b
        }
    };
    let block = match std::env::var("SWARM_BLOCK") {
        Err(_) => BLOCK,
        Ok(text) => text
            .parse()
            .ok()
            .filter(|b| *b > 0)
            .ok_or_else(|| format!("SWARM_BLOCK={text:?} is not a positive number"))?,
    };
    Ok((range, block))
}

/// One trial per block of seeds.
fn seed_trials(range: Range<u64>, block: u64) -> Vec<Trial> {
    let width = (range.end - 1).to_string().len().max(4);
    let mut trials = Vec::new();
    let mut from = range.start;
    while from < range.end {
        let to = (from + block).min(range.end);
        let name = format!("swarm::seeds_{from:0width$}_{:0width$}", to - 1);
        trials.push(Trial::test(name, move || seed_block(from..to)));
        from = to;
    }
    trials
}

fn seed_block(seeds: Range<u64>) -> Result<(), Failed> {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("swarm-failures");
    let opts = SwarmOptions {
        from: seeds.start,
        seeds: seeds.end - seeds.start,
        jobs: 1,
        out: Some(out),
        progress: false,
    };
    let report = swarm::run(&opts);
    let found: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("seed {}: {:?} (reproducer: {:?})", f.seed, f.failures, f.file))
        .collect();
    if found.is_empty() { Ok(()) } else { Err(found.join("\n").into()) }
}

fn a_failing_scenario_shrinks_to_a_reproducer_that_replays() {
    let mut scenario = generate(7);
    let steps = scenario.timeline.len();
    assert!(steps >= 4, "seed 7 makes a scenario worth shrinking: {steps} steps");
    // Plant a fault the run reports: an API call expected to fail with a message it cannot give.
    let c = &scenario.contracts[0];
    let planted = ContractSpec {
        name: "planted".into(),
        automat: c.automat,
        keys: c.keys.clone(),
        contacts: c.contacts.clone(),
        start: None,
        end: None,
        pin: None,
        schedule: None,
        expect_error: Some("planted".into()),
    };
    let at = Offset(Duration::from_secs(90));
    scenario.timeline.push(Step { at, action: Action::CreateContract(planted) });
    scenario.timeline.sort_by_key(|s| s.at);
    let outcome = check(&scenario);
    assert!(!outcome.passed);
    let first = outcome.failures[0].clone();
    assert!(first.contains("planted"), "{first}");
    let (small, failures) = shrink(&scenario, &first);
    assert_eq!(small.timeline.len(), 1, "only the planted step is left: {:?}", small.timeline);
    assert!(failures[0].contains("planted"), "{failures:?}");
    let text = to_ron(&small, "reproducer").expect("serialises");
    assert!(text.starts_with("// reproducer\n"));
    let replay = run_plain(&load_str("seed-7.ron", &text).expect("loads back"), RunOptions::default());
    assert!(!replay.passed && replay.failures[0].contains("planted"), "{:?}", replay.failures);
}

fn every_generated_scenario_loads_as_its_reproducer_would() -> Result<(), Failed> {
    for seed in 0..300 {
        let scenario = generate(seed);
        let problems = sim::scenario::load::problems(&scenario);
        assert!(problems.is_empty(), "seed {seed}: {problems:?}");
        let text = to_ron(&scenario, "generated").expect("serialises");
        load_str("generated.ron", &text).map_err(|e| Failed::from(format!("seed {seed}: {e}")))?;
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = match seeds() {
        Ok((range, block)) => seed_trials(range, block),
        Err(e) => vec![Trial::test("swarm::seeds", move || Err(e.into()))],
    };
    trials.push(Trial::test("shrink::a_failing_scenario_shrinks_to_a_reproducer_that_replays", || {
        a_failing_scenario_shrinks_to_a_reproducer_that_replays();
        Ok(())
    }));
    trials.push(Trial::test(
        "generate::every_generated_scenario_loads_as_its_reproducer_would",
        every_generated_scenario_loads_as_its_reproducer_would,
    ));
    libtest_mimic::run(&args, trials).exit();
}
