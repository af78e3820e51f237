//! Group `sim`: one simulated hour of a busy automat (24 takes and 24 returns) headless, the
//! whole `scenarios/` directory, 200 swarm seeds on 2 threads, and the viewer's model: loading
//! that hour's trace and jumping to its end (target < 1 s), and one frame in its middle. Simulated time ÷ wall time =
//! 3600 s ÷ the busy hour's time; swarm seeds per minute = 200 × 60 s ÷ the swarm's time.
//!
//! `cargo bench -p benches --bench sim`

#![allow(clippy::panic)] // a bench whose setup fails has nothing to measure

use std::path::Path;
use std::time::Duration;

use benches::busy_hour;
use criterion::{Criterion, criterion_group, criterion_main};
use sim::replay::Replay;
use sim::run::{RunOptions, run_scenario};
use sim::suite::{self, SuiteOptions};
use sim::swarm::{self, SwarmOptions};

fn bench_sim(c: &mut Criterion) {
    let scenario = busy_hour();
    let check = run_scenario(&scenario, RunOptions::default());
    assert!(check.passed, "the busy hour must pass: {:?}", check.failures);
    let sessions = check.summary.iter().filter(|l| l.contains("SessionOpened")).count();
    assert!(sessions >= 40, "{sessions} sessions");
    let mut g = c.benchmark_group("sim");
    g.bench_function("busy_hour_24_takes_24_returns", |b| {
        b.iter(|| run_scenario(&scenario, RunOptions::default()))
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let all = match suite::load(&[dir]) {
        Ok(all) => all,
        Err(e) => panic!("{} scenarios do not load", e.len()),
    };
    g.bench_function("scenarios_dir_jobs_2", |b| {
        b.iter(|| suite::run(&all, &SuiteOptions { jobs: 2, ..Default::default() }))
    });
    // The viewer's side: the busy hour's trace from disk, then the state at its end.
    let trace = std::env::temp_dir().join(format!("bench-busy-hour-{}.jsonl", std::process::id()));
    let file =
        std::fs::File::create(&trace).unwrap_or_else(|e| panic!("cannot write {}: {e}", trace.display()));
    let writer = std::io::BufWriter::new(file);
    let traced =
        run_scenario(&scenario, RunOptions { trace: Some(Box::new(writer)), ..RunOptions::default() });
    assert!(traced.passed);
    let replay = Replay::load(&trace).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("busy hour trace: {} lines, {} entries", replay.lines(), replay.entries.len());
    g.bench_function("replay_load_one_hour_trace_and_jump_to_end", |b| {
        b.iter(|| match Replay::load(&trace) {
            Ok(r) => r.frame(r.end()),
            Err(e) => panic!("{e}"),
        })
    });
    let middle = replay.end() / 2;
    g.bench_function("replay_frame_mid_hour", |b| b.iter(|| replay.frame(middle)));
    let _ = std::fs::remove_file(&trace);
    let seeds = SwarmOptions { from: 0, seeds: 200, jobs: 2, out: None, progress: false };
    g.bench_function("swarm_200_seeds_jobs_2", |b| b.iter(|| swarm::run(&seeds)));
    g.finish();
}

criterion_group! {
    name = sim_group;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = bench_sim
}
criterion_main!(sim_group);
