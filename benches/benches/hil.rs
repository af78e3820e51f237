//! Group `hil`: the serial bridge over a PTY, against `hil virtual-board` on its own thread.
//! Round-trip latency of `Ping` → `Pong` through both link ends and the PTY (p50 and p99 are
//! printed from 2,000 probes; criterion times batches of 100), and how many frames a second
//! cross it; then the library's scenarios in lockstep, reported as simulated ÷ wall time.
//!
//! `cargo bench -p benches --bench hil`

#![allow(clippy::panic, clippy::print_stdout)] // a bench whose setup fails has nothing to measure

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use firmware_proto::auth::PairingKey;
use hil::faults::Faults;
use hil::port::Port;
use hil::remote::{BoardLink, Placer, fitting_automat};
use hil::virtual_board::{Clock, Spawned, VirtualBoardConfig};
use sim::board_box::BoardClock;
use sim::run::BoardPlacer;
use sim::suite::{self, PlacerFactory, SuiteOptions};

const KEY: PairingKey = PairingKey([9; 32]);

fn board() -> Spawned {
    match Spawned::start(VirtualBoardConfig { board_id: 1, key: KEY, slots: 30, clock: Clock::Lockstep }) {
        Ok(b) => b,
        Err(e) => panic!("no PTY: {e}"),
    }
}

fn bench_hil(c: &mut Criterion) {
    let vb = board();
    let mut port = match Port::open(&vb.path, 115_200) {
        Ok(p) => p,
        Err(e) => panic!("{}: {e}", vb.path),
    };
    match hil::probe::probe(&mut port, Some(&KEY), None, 2_000) {
        Ok(r) => eprintln!(
            "PTY round trip over 2,000 pings: p50 {} µs, p99 {} µs",
            r.quantile(0.5).as_micros(),
            r.quantile(0.99).as_micros()
        ),
        Err(e) => panic!("probe: {e}"),
    }
    let mut g = c.benchmark_group("hil");
    // Each ping is a data frame down and a data frame up, plus their two acks.
    g.throughput(Throughput::Elements(400));
    g.bench_function("pty_100_ping_round_trips", |b| {
        b.iter(|| match hil::probe::probe(&mut port, None, None, 100) {
            Ok(r) => r.round_trips.len(),
            Err(e) => panic!("probe: {e}"),
        })
    });
    g.finish();
    // The suite takes a minute: measured under `cargo bench`, not when `cargo test` runs
    // every bench once (the PTY tests of `hil` check the same verdicts).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let all = match suite::load(&[dir]) {
        Ok(all) => all,
        Err(e) => panic!("{} scenarios do not load", e.len()),
    };
    // The soak (tagged slow: a simulated week, ten minutes over a PTY) is measured in the
    // simulator's bench.
    let fits: Vec<_> = all
        .into_iter()
        .filter(|(_, s)| fitting_automat(&s.automats, 30).is_some() && !s.has_tag("slow"))
        .collect();
    let link = BoardLink {
        port: vb.path.clone(),
        baud: 115_200,
        clock: BoardClock::Lockstep,
        faults: Faults::default(),
        board_id: 1,
        key: KEY,
        slots: 30,
        plant: true,
        plant_port: None,
        capture: None,
        hooks: hil::hooks::Hooks::default(),
    };
    let factory =
        PlacerFactory(Arc::new(move || Box::new(Placer::new(link.clone())) as Box<dyn BoardPlacer>));
    let started = std::time::Instant::now();
    let results = suite::run(&fits, &SuiteOptions { jobs: 1, boards: Some(factory), ..Default::default() });
    let wall = started.elapsed();
    let simulated: Duration = results.iter().map(|r| r.outcome.simulated).sum();
    let passed = results.iter().filter(|r| r.outcome.passed).count();
    eprintln!(
        "lockstep suite over a PTY: {passed}/{} passed, {:.0} s simulated in {:.1} s wall = {:.0}× real time",
        results.len(),
        simulated.as_secs_f64(),
        wall.as_secs_f64(),
        simulated.as_secs_f64() / wall.as_secs_f64()
    );
}

criterion_group! {
    name = hil_group;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = bench_hil
}
criterion_main!(hil_group);
