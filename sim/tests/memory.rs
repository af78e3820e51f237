//! A run's memory depends on the scenario's size, not on how long it runs: the peak of live
//! heap bytes during an idle fleet's 20 simulated hours (every keepalive and heartbeat on every
//! link simulated) is that of its 2 hours, give or take a little. Measured by a counting
//! allocator (`peak_alloc`), so it catches whatever accumulates, known or not. One test in this binary: a
//! second running beside it would allocate into the count.

use peak_alloc::PeakAlloc;
use sim::run::{RunOptions, run_scenario};

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

fn idle_fleet(duration: &str) -> sim::scenario::Scenario {
    let src = format!(
        r#"Scenario(name: "idle fleet", duration: "{duration}", automats: [(id: 1), (id: 2), (id: 3)],
            keys: [(id: 1, automat: 1, slot: 0, tag: "01", look: (colour: "red")),
                   (id: 2, automat: 2, slot: 0, tag: "02", look: (colour: "red")),
                   (id: 3, automat: 3, slot: 0, tag: "03", look: (colour: "red"))],
            expect: (in_order: true, events: [(event: Board("Heartbeat"), at_least: 1), (event: Board("Heartbeat"), at_least: 1)]))"#
    );
    sim::scenario::load_str("idle.ron", &src).expect("loads")
}

/// The peak of live heap bytes above the start while `f` runs.
fn peak_during(f: impl FnOnce()) -> usize {
    let before = HEAP.current_usage();
    HEAP.reset_peak_usage();
    f();
    HEAP.peak_usage().saturating_sub(before)
}

#[test]
fn an_idle_fleet_needs_no_more_memory_for_20_hours_than_for_2() {
    let short = idle_fleet("2h");
    let long = idle_fleet("20h");
    let mut frames = [0u64; 2];
    let peak_short = peak_during(|| {
        let out = run_scenario(&short, RunOptions::default());
        assert!(out.passed, "{:?}", out.failures);
        frames[0] = out.frames_on_lines;
    });
    let peak_long = peak_during(|| {
        let out = run_scenario(&long, RunOptions::default());
        assert!(out.passed, "{:?}", out.failures);
        frames[1] = out.frames_on_lines;
    });
    // Ten times the time is ten times the traffic...
    assert!(frames[1] > 9 * frames[0], "frames {frames:?}");
    // ...and the same memory: 18 more hours of 3 automats' heartbeats kept at even 8 bytes each
    // would be 400 KiB more.
    assert!(
        peak_long <= peak_short + 64 * 1024,
        "peak heap {peak_short} bytes over 2 h, {peak_long} bytes over 20 h: something accumulates"
    );
    eprintln!("peak heap: {peak_short} bytes over 2 h, {peak_long} bytes over 20 h; frames {frames:?}");
}
