//! Group `sim`: one simulated hour of a busy automat (24 takes and 24 returns) headless, the
//! whole `scenarios/` directory but its soak, 200 swarm seeds on 2 threads, and the viewer's
//! model: loading that hour's trace and jumping to its end (target < 1 s), and one frame in its
//! middle. Simulated time ÷ wall time = 3600 s ÷ the busy hour's time; swarm seeds per minute =
//! 200 × 60 s ÷ the swarm's time.
//!
//! Group `sim/soak`: the library's soak, a week on a fleet of three (`idle_week_fleet_of_3`).
//! Group `sim/frames`: what a link frame costs the simulation (an idle hour of a fleet of
//! three, all its keepalives and heartbeats) beside what it costs the protocol alone (an
//! in-memory link pair), both per frame; the bench prints their ratio.
//!
//! `cargo bench -p benches --bench sim`

#![allow(clippy::panic)] // a bench whose setup fails has nothing to measure

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant as Wall};

use benches::{busy_hour, idle_fleet};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use firmware_proto::Instant;
use firmware_proto::frame::Channel;
use firmware_proto::host::BoardToHost;
use firmware_proto::link::{Event, Link, LinkConfig};
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
    // The soak (tagged slow) has its own bench below: it would be nine tenths of this one.
    let all: Vec<_> = match suite::load(&[library()]) {
        Ok(all) => all.into_iter().filter(|(_, s)| !s.has_tag("slow")).collect(),
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

fn library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn bench_soak(c: &mut Criterion) {
    let path = library().join("soak_week_fleet_of_3.ron");
    let scenario = sim::scenario::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut g = c.benchmark_group("sim/soak");
    g.bench_function("idle_week_fleet_of_3", |b| {
        b.iter(|| {
            let out = run_scenario(&scenario, RunOptions::default());
            assert!(out.passed, "the soak must pass: {:?}", out.failures);
        })
    });
    g.finish();
}

/// A message the size of the idle links' own (a board's heartbeat).
fn heartbeat() -> Vec<u8> {
    let mut buf = [0u8; firmware_proto::frame::MAX_PAYLOAD];
    let m = BoardToHost::Heartbeat { uptime_ms: 868_000 };
    match firmware_proto::message::encode(&m, &mut buf) {
        Ok(n) => buf[..n].to_vec(),
        Err(e) => panic!("{e:?}"),
    }
}

/// `count` messages from `a` to `b` over a perfect in-memory wire, acks flowing back, every
/// frame encoded, decoded and handled by both link ends: the frames written, both ways.
fn link_pair(count: usize, payload: &[u8]) -> u64 {
    let mut now = Instant::ZERO;
    let mut a = Link::new(LinkConfig::new(Channel::Host, 1), now);
    let mut b = Link::new(LinkConfig::new(Channel::Host, 2), now);
    let (mut sent, mut got, mut frames) = (0, 0, 0u64);
    let mut wire = Vec::new();
    while got < count {
        if sent < count && a.send(now, payload).is_ok() {
            sent += 1;
        }
        for a_to_b in [true, false] {
            let (from, to) = if a_to_b { (&mut a, &mut b) } else { (&mut b, &mut a) };
            wire.clear();
            while let Some(bytes) = from.poll_transmit() {
                wire.extend_from_slice(bytes);
                frames += 1;
            }
            to.handle_bytes(now, &wire);
            while let Some(e) = to.poll_event() {
                if let Event::Message(m) = e {
                    black_box(m);
                    got += 1;
                }
            }
        }
        now += Duration::from_millis(2);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    frames
}

/// The median wall time per frame of `f` (which returns the frames it carried), in ns.
fn per_frame(runs: usize, mut f: impl FnMut() -> u64) -> f64 {
    let mut each: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Wall::now();
            let frames = f();
            t.elapsed().as_nanos() as f64 / frames.max(1) as f64
        })
        .collect();
    each.sort_by(f64::total_cmp);
    each[each.len() / 2]
}

fn bench_frames(c: &mut Criterion) {
    let idle = idle_fleet(3, "1h");
    let run_idle = || {
        let out = run_scenario(&idle, RunOptions::default());
        assert!(out.passed, "{:?}", out.failures);
        out.frames_on_lines
    };
    let frames = run_idle();
    let payload = heartbeat();
    let pair_frames = link_pair(10_000, &payload);
    let mut g = c.benchmark_group("sim/frames_per_second_vs_link_pair");
    g.throughput(Throughput::Elements(frames));
    g.bench_function("idle_hour_fleet_of_3", |b| b.iter(run_idle));
    g.throughput(Throughput::Elements(pair_frames));
    g.bench_function("link_pair_in_memory", |b| b.iter(|| link_pair(10_000, &payload)));
    g.finish();
    // The ratio, from timings taken here, one after the other.
    let sim = per_frame(5, run_idle);
    let pair = per_frame(5, || link_pair(10_000, &payload));
    eprintln!(
        "per frame: simulation {sim:.0} ns ({frames} frames in an idle hour of 3 automats), link pair \
         {pair:.0} ns: ratio {:.2}",
        sim / pair
    );
}

criterion_group! {
    name = sim_group;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = bench_sim, bench_frames
}
criterion_group! {
    name = soak_group;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(60));
    targets = bench_soak
}
criterion_main!(sim_group, soak_group);
