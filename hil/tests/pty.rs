//! The HIL bridge over real PTYs, no hardware: the harness (controller and plant, simulated)
//! against `hil virtual-board` (the reference firmware) across a serial line.

#![allow(clippy::panic)]

use std::path::Path;

use firmware_proto::auth::PairingKey;
use hil::faults::Faults;
use hil::remote::{BoardLink, Placer};
use hil::virtual_board::{Clock, Spawned, VirtualBoardConfig};
use sim::board_box::BoardClock;
use std::sync::Arc;

use sim::run::{BoardPlacer, RunOptions, run_plain, run_scenario};
use sim::scenario::load_file;
use sim::suite::{self, PlacerFactory, SuiteOptions};

const KEY: PairingKey = PairingKey([7; 32]);
const BOARD_ID: u32 = 0x0B00_1234;

fn board(clock: Clock) -> Spawned {
    Spawned::start(VirtualBoardConfig { board_id: BOARD_ID, key: KEY, slots: 30, clock }).expect("a PTY")
}

fn link(path: &str, clock: BoardClock, faults: Faults) -> BoardLink {
    BoardLink {
        port: path.into(),
        baud: 115_200,
        clock,
        faults,
        board_id: BOARD_ID,
        key: KEY,
        slots: 30,
        plant: true,
        plant_port: None,
        capture: None,
        hooks: hil::hooks::Hooks::default(),
    }
}

fn scenario(name: &str) -> sim::scenario::Scenario {
    load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name)).expect("loads")
}

fn short() -> sim::scenario::Scenario {
    load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/short_take.ron")).expect("loads")
}

fn on(path: &str, clock: BoardClock, faults: Faults) -> RunOptions {
    RunOptions { boards: Some(Box::new(Placer::new(link(path, clock, faults)))), ..Default::default() }
}

#[test]
fn the_happy_scenario_passes_in_lockstep() {
    let vb = board(Clock::Lockstep);
    let opts = RunOptions {
        boards: Some(Box::new(Placer::new(link(&vb.path, BoardClock::Lockstep, Faults::default())))),
        ..Default::default()
    };
    let outcome = run_scenario(&scenario("happy_take_and_return.ron"), opts);
    assert!(outcome.passed, "{:#?}", outcome.failures);
}

#[test]
fn every_scenario_gets_the_same_verdict_in_lockstep_as_in_the_simulator() {
    let vb = board(Clock::Lockstep);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let all = suite::load(&[dir]).expect("scenarios load");
    // Scenarios tagged slow (the week's soak) are left out: every keepalive of a week crossing
    // a PTY in lockstep takes ten minutes; the simulator runs them, and `hil run` takes them on
    // a rig. Every scenario simulating more than a day must carry the tag.
    let day = std::time::Duration::from_secs(86_400);
    let slow = |s: &sim::scenario::Scenario| s.has_tag("slow");
    let untagged: Vec<_> = all
        .iter()
        .filter(|(_, s)| s.duration.is_some_and(|d| d.0 > day) && !slow(s))
        .map(|(p, _)| p)
        .collect();
    assert!(untagged.is_empty(), "longer than a day but not tagged slow: {untagged:?}");
    let (soaks, all): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, s)| slow(s));
    assert!(!soaks.is_empty(), "the library has its soak");
    let fits: Vec<_> =
        all.into_iter().filter(|(_, s)| hil::remote::fitting_automat(&s.automats, 30).is_some()).collect();
    assert!(fits.len() >= 27, "the library's scenarios fit a 30-slot board: {}", fits.len());
    let simulated = suite::run(&fits, &SuiteOptions { jobs: 2, ..Default::default() });
    let l = link(&vb.path, BoardClock::Lockstep, Faults::default());
    let factory = PlacerFactory(Arc::new(move || Box::new(Placer::new(l.clone())) as Box<dyn BoardPlacer>));
    let started = std::time::Instant::now();
    let hil = suite::run(&fits, &SuiteOptions { jobs: 1, boards: Some(factory), ..Default::default() });
    let wall = started.elapsed().as_secs_f64();
    let simulated_s: f64 = hil.iter().map(|r| r.outcome.simulated.as_secs_f64()).sum();
    println!(
        "lockstep over a PTY: {simulated_s:.0} s simulated in {wall:.1} s ({:.0}× real time)",
        simulated_s / wall
    );
    let differ: Vec<String> = simulated
        .iter()
        .zip(&hil)
        .filter(|(s, h)| s.outcome.passed != h.outcome.passed)
        .map(|(s, h)| {
            format!(
                "{}: sim {} / hil {} {:?}",
                s.name, s.outcome.passed, h.outcome.passed, h.outcome.failures
            )
        })
        .collect();
    assert!(differ.is_empty(), "{differ:#?}");
    assert!(hil.iter().all(|r| r.outcome.passed), "every library scenario passes on the board");
}

#[test]
fn a_short_scenario_passes_in_real_time() {
    let vb = board(Clock::Realtime);
    let started = std::time::Instant::now();
    let outcome = run_plain(&short(), on(&vb.path, BoardClock::Realtime, Faults::default()));
    assert!(outcome.passed, "{:#?}", outcome.failures);
    assert!(started.elapsed() >= std::time::Duration::from_secs(45), "paced to the wall clock");
}

#[test]
fn one_percent_corruption_on_the_line_still_passes() {
    let vb = board(Clock::Lockstep);
    let faults = Faults { corrupt: 0.01, ..Faults::default() };
    let outcome =
        run_plain(&scenario("happy_take_and_return.ron"), on(&vb.path, BoardClock::Lockstep, faults));
    assert!(outcome.passed, "{:#?}", outcome.failures);
}

#[test]
fn a_port_closed_mid_run_fails_clearly_and_keeps_the_trace() {
    let mut vb = board(Clock::Realtime);
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = dir.path().join("trace.jsonl");
    let file = std::fs::File::create(&trace).expect("trace file");
    let mut opts = on(&vb.path, BoardClock::Realtime, Faults::default());
    opts.trace = Some(Box::new(file));
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(20));
        let _ = vb.stop();
    });
    let outcome = run_plain(&short(), opts);
    let _ = stopper.join();
    assert!(!outcome.passed);
    assert!(
        outcome.failures.iter().any(|f| f.contains("the line to its board is lost")),
        "{:#?}",
        outcome.failures
    );
    let text = std::fs::read_to_string(&trace).expect("trace kept");
    assert!(text.contains("\"type\":\"bytes\""), "line bytes traced");
    let last = text.lines().last().unwrap_or("");
    assert!(last.contains("\"type\":\"end\"") && last.contains("lost"), "complete to the end: {last}");
}

#[test]
fn the_links_on_a_port_each_work_in_lockstep_too() {
    let cfg = VirtualBoardConfig { board_id: BOARD_ID, key: KEY, slots: 30, clock: Clock::Lockstep };
    let vb = Spawned::start_with(cfg, true).expect("two PTYs");
    let plant = vb.plant_path.clone().expect("a plant port");
    for name in ["happy_take_and_return.ron", "noisy_host_link.ron", "power_cut_mid_rotation.ron"] {
        let mut l = link(&vb.path, BoardClock::Lockstep, Faults::default());
        l.plant_port = Some(plant.clone());
        let opts = RunOptions { boards: Some(Box::new(Placer::new(l))), ..Default::default() };
        let outcome = run_plain(&scenario(name), opts);
        assert!(outcome.passed, "{name}: {:#?}", outcome.failures);
    }
}

#[test]
fn a_scenario_that_passes_only_on_a_retry_is_flaky_never_a_plain_pass() {
    // The first attempt meets a port where nobody answers; the second the virtual board.
    let vb = board(Clock::Lockstep);
    let (_silent, silent_path) = hil::port::Port::pty().expect("a PTY");
    let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (good, bad) = (
        link(&vb.path, BoardClock::Lockstep, Faults::default()),
        link(&silent_path, BoardClock::Lockstep, Faults::default()),
    );
    let counter = attempts.clone();
    let factory = PlacerFactory(Arc::new(move || {
        let first = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0;
        Box::new(Placer::new(if first { bad.clone() } else { good.clone() })) as Box<dyn BoardPlacer>
    }));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/short_take.ron");
    let cases = vec![(file, short())];
    let opts = SuiteOptions {
        jobs: 1,
        retries: 2,
        boards: Some(factory),
        out: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let results = suite::run(&cases, &opts);
    let r = &results[0];
    assert!(r.outcome.passed, "{:?}", r.outcome.failures);
    assert_eq!(r.verdict(), "FLAKY");
    assert_eq!(attempts.load(std::sync::atomic::Ordering::Relaxed), 2, "no retry after the pass");
    assert!(r.earlier[0][0].contains("did not acknowledge the clock"), "{:?}", r.earlier);
    let table = suite::table(&results, &[]);
    assert!(table.contains("FLAKY") && table.contains("passed on attempt 2; attempt 1 failed:"), "{table}");
    assert!(table.contains("1 of the passes FLAKY"), "{table}");
    let case_dir = r.dir.as_ref().expect("--out");
    assert!(case_dir.join("attempt-1/trace.jsonl").exists(), "the failed attempt's trace is kept");
    let summary = std::fs::read_to_string(case_dir.join("summary.json")).expect("summary");
    assert!(summary.contains("\"verdict\": \"FLAKY\"") && summary.contains("earlier_failures"), "{summary}");
    let junit = dir.path().join("junit.xml");
    let reports = suite::Reports { junit: Some(&junit), html: Some(&dir.path().join("report.html")) };
    assert!(suite::write_reports(&results, &[], Some(dir.path()), reports).is_empty());
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(xml.contains("<flakyFailure") && xml.contains("name=\"verdict\" value=\"FLAKY\""), "{xml}");
    assert!(!xml.contains("<failure"), "a flaky pass is no failure: {xml}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report");
    assert!(html.contains("Flaky: passed on attempt 2") && html.contains("1 flaky"), "the report says so");

    // The simulator is never retried: the same options without a board run once.
    let sim_only = SuiteOptions {
        jobs: 1,
        retries: 2,
        // A wall-clock limit no run meets: a failure on every attempt.
        timeout: Some(std::time::Duration::from_nanos(1)),
        ..Default::default()
    };
    let r = &suite::run(&cases, &sim_only)[0];
    assert_eq!((r.verdict(), r.earlier.len()), ("FAIL", 0));
}
