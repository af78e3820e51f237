//! Swarm testing in CI: a fixed set of seeds must break no invariant, and a failing scenario
//! shrinks to a reproducer that `sim run` replays. `sim swarm` hunts with more seeds.

use std::path::PathBuf;
use std::time::Duration;

use sim::run::{RunOptions, run_plain};
use sim::scenario::{Action, ContractSpec, Offset, Step, load_str};
use sim::swarm::{self, SwarmOptions, check, generate, shrink, to_ron};

/// Seeds CI runs on every push (`sim swarm --seeds 500` does the same from the command line).
const CI_SEEDS: u64 = 500;

#[test]
fn the_fixed_seeds_break_no_invariant() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("swarm-failures");
    let report =
        swarm::run(&SwarmOptions { from: 0, seeds: CI_SEEDS, jobs: 0, out: Some(out), progress: false });
    println!(
        "{CI_SEEDS} seeds in {:.1} s ({:.0} seeds/minute)",
        report.wall.as_secs_f64(),
        report.seeds_per_minute()
    );
    let found: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("seed {}: {:?} (reproducer: {:?})", f.seed, f.failures, f.file))
        .collect();
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
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

#[test]
fn every_generated_scenario_loads_as_its_reproducer_would() {
    for seed in 0..300 {
        let scenario = generate(seed);
        let problems = sim::scenario::load::problems(&scenario);
        assert!(problems.is_empty(), "seed {seed}: {problems:?}");
        let text = to_ron(&scenario, "generated").expect("serialises");
        load_str("generated.ron", &text).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}
