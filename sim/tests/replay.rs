//! The viewer's model: a trace read back gives the automat's state at any moment, as the run
//! had it; a live run streams the same trace as `sim run` writes; bad traces are refused with
//! the line that shows it.

use std::path::Path;

use firmware_proto::types::IndicatorMode;
use sim::replay::{Kind, Live, Replay};
use sim::run::{RunOptions, run_plain, run_scenario};
use sim::scenario::{Scenario, load_file};
use sim::trace::MemoryTrace;

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name);
    load_file(&path).expect("the library scenario loads")
}

fn trace_of(s: &Scenario) -> String {
    let buf = MemoryTrace::default();
    let out = run_plain(s, RunOptions { trace: Some(Box::new(buf.clone())), ..RunOptions::default() });
    assert!(out.passed, "{:?}", out.failures);
    let bytes = buf.bytes();
    String::from_utf8(bytes).expect("utf-8")
}

#[test]
fn the_bevy_app_and_the_plain_loop_write_the_same_trace() {
    // `sim run` and `hil run` go through the Bevy app, the viewer's live runs through the plain
    // loop: a replay must not depend on which.
    for name in
        ["happy_take_and_return.ron", "wrong_key_returned_taken_back.ron", "power_cut_mid_rotation.ron"]
    {
        let s = scenario(name);
        let plain = trace_of(&s);
        let buf = MemoryTrace::default();
        let out =
            run_scenario(&s, RunOptions { trace: Some(Box::new(buf.clone())), ..RunOptions::default() });
        assert!(out.passed, "{name}: {:?}", out.failures);
        let app = String::from_utf8(buf.bytes()).expect("utf-8");
        assert_eq!(app, plain, "{name}");
        assert!(app.contains("\"type\":\"cabinet\"") && app.matches("\"type\":\"carousel\"").count() > 2);
    }
}

fn replay_of(text: &str) -> Replay {
    let mut r = Replay::new(Path::new("."));
    for line in text.lines() {
        r.push_line(line).expect("every line reads");
    }
    r
}

fn seconds(s: f64) -> u64 {
    (s * 1e6) as u64
}

#[test]
fn the_happy_run_replays_as_the_plant_had_it() {
    let text = trace_of(&scenario("happy_take_and_return.ron"));
    let r = replay_of(&text);
    assert_eq!(r.info.scenario, "happy take and return");
    assert_eq!(r.automats.len(), 1);
    assert_eq!(r.automats[0].slots, 30);
    assert_eq!(r.passed, Some(true));
    assert_eq!(r.unknown, 0);
    assert!(r.expectations.iter().all(|e| e.met == Some(true)), "{:?}", r.expectations);

    // At the start: both keys on their hooks, slot 0 at the window, door shut and latched.
    let start = &r.frame(0).automats[0];
    let red = start.hooks[4].as_ref().expect("key 1 on hook 4");
    assert_eq!((red.key, red.look.colour), (Some(1), [200, 40, 40]));
    assert_eq!(start.hooks[5].as_ref().and_then(|h| h.key), Some(2));
    assert!(start.carousel.abs() < 1e-9 || (start.carousel % 30.0).abs() < 1e-9, "{}", start.carousel);
    assert!(!start.cabinet.door_open && start.cabinet.latched && !start.moving);

    // The carousel turns towards slot 4 after the PIN, then rests there; Alice opens the door.
    let turning = r.frame(seconds(62.0)).automats[0].clone();
    assert!(turning.moving, "moving at 62 s");
    let open = &r.frame(seconds(63.9)).automats[0];
    assert!(open.cabinet.door_open && !open.moving);
    assert!((open.carousel.rem_euclid(30.0) - 4.0).abs() < 0.01, "presents slot 4: {}", open.carousel);
    assert!(open.hooks[4].is_some(), "key 1 still on its hook before the take");
    assert_eq!(open.user.as_ref().map(|u| u.0.as_str()), Some("alice"));
    assert_eq!(open.display, "Take Van 3.");
    assert!(open.door_moved_at.is_some_and(|m| m > seconds(63.0) && m <= seconds(63.9)));
    assert_eq!(start.door_moved_at, None);
    // The user photo and the before image are there at that moment; the after image not yet.
    assert_eq!(open.front.as_ref().map(|c| c.id), Some(0));
    assert_eq!(open.before.as_ref().map(|c| c.id), Some(1));
    assert!(open.after.is_none());

    let taken = &r.frame(seconds(64.5)).automats[0];
    assert!(taken.hooks[4].is_none(), "taken");
    let closed = &r.frame(seconds(70.0)).automats[0];
    assert!(!closed.cabinet.door_open);
    assert_eq!(
        (closed.before.as_ref().map(|c| c.id), closed.after.as_ref().map(|c| c.id)),
        (Some(1), Some(2))
    );
    let returning = &r.frame(seconds(3603.0)).automats[0];
    assert_eq!(
        (returning.before.as_ref().map(|c| c.id), returning.after.as_ref().map(|c| c.id)),
        (Some(4), None)
    );
    let back = &r.frame(r.end()).automats[0];
    assert_eq!((back.before.as_ref().map(|c| c.id), back.after.as_ref().map(|c| c.id)), (Some(4), Some(5)));
    assert_eq!(back.hooks[4].as_ref().and_then(|h| h.key), Some(1), "returned");
    assert!(back.user.is_none(), "alice has left");
    assert!(r.frame(seconds(61.0)).automats[0].cabinet.leds.contains(&IndicatorMode::Off));
}

#[test]
fn event_jumps_skip_link_traffic_and_stay_in_order() {
    let r = replay_of(&trace_of(&scenario("happy_take_and_return.ron")));
    let mut t = 0;
    let mut seen = 0;
    while let Some(next) = r.next_event(t) {
        assert!(next > t);
        let i = r.entries.iter().position(|e| e.t == next && e.is_notable()).expect("a notable entry there");
        assert!(!matches!(r.entries[i].kind, Kind::Message | Kind::Link));
        assert_eq!(r.previous_event(next + 1), Some(next));
        t = next;
        seen += 1;
    }
    assert!(seen > 10, "{seen} events");
    assert_eq!(t, r.end());
    assert!(r.markers().all(|(_, failure)| !failure));
    assert!(r.entries.windows(2).all(|w| w[0].t <= w[1].t), "the log is in time order");
}

#[test]
fn a_failing_run_marks_its_failures() {
    let mut s = scenario("happy_take_and_return.ron");
    // Expect a key that is never returned to be back by the first minute: unmet.
    s.expect.events[4].before = Some(sim::scenario::Offset(std::time::Duration::from_secs(60)));
    s.expect.events[4].after = None;
    let buf = MemoryTrace::default();
    let out = run_plain(&s, RunOptions { trace: Some(Box::new(buf.clone())), ..RunOptions::default() });
    assert!(!out.passed);
    let r = replay_of(&String::from_utf8(buf.bytes()).expect("utf-8"));
    assert_eq!(r.passed, Some(false));
    let unmet: Vec<_> = r.expectations.iter().filter(|e| e.met == Some(false)).collect();
    assert_eq!(unmet.len(), 1, "{:?}", r.expectations);
    assert!(unmet[0].text.contains("KeyReturned"), "{}", unmet[0].text);
    assert!(r.markers().any(|(_, failure)| failure));
}

#[test]
fn a_live_run_streams_the_trace_sim_run_writes() {
    let s = scenario("motor_stall_recovered.ron");
    let recorded = replay_of(&trace_of(&s));
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut live, run) = Live::start(s, None, None, dir.path()).expect("starts");
    live.finish(run);
    assert!(live.error.is_none(), "{:?}", live.error);
    // The live run keeps its images; the recorded trace here was written without them.
    let mut entries = live.replay.entries.clone();
    assert!(entries.iter().any(|e| e.image.is_some()), "the live run's captures name their images");
    entries.iter_mut().for_each(|e| e.image = None);
    assert_eq!(entries, recorded.entries);
    for t in [0, recorded.end() / 3, recorded.end()] {
        assert_eq!(without_files(live.replay.frame(t)), recorded.frame(t));
    }
    // Its camera images are on disk for the viewer's panel.
    let capture = live.replay.frame(live.replay.end()).automats[0].after.clone().expect("an image");
    assert!(capture.file.expect("kept").exists());
}

/// The recorded run kept no images, the live one names its files: compare all but those.
fn without_files(mut frame: sim::replay::Frame) -> sim::replay::Frame {
    for a in &mut frame.automats {
        for c in [&mut a.front, &mut a.before, &mut a.after].into_iter().flatten() {
            c.file = None;
        }
    }
    frame
}

#[test]
fn bad_traces_are_refused_with_their_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    };
    let good = trace_of(&scenario("happy_take_and_return.ron"));
    let header = good.lines().next().expect("header");

    let e = Replay::load(&write("empty.jsonl", "")).expect_err("empty");
    assert!(e.to_string().contains("empty"), "{e}");
    let e = Replay::load(&write("scenario.jsonl", "Scenario(name: \"x\")\n")).expect_err("not json");
    assert!(e.to_string().contains("scenario.jsonl:1: not a trace header"), "{e}");
    let newer = header.replace("\"version\":2", "\"version\":99");
    let e = Replay::load(&write("newer.jsonl", &newer)).expect_err("newer");
    assert!(e.to_string().contains("version 99 is newer"), "{e}");
    let older = header.replace("\"version\":2", "\"version\":1");
    let e = Replay::load(&write("older.jsonl", &older)).expect_err("version 1");
    assert!(
        e.to_string().contains("older.jsonl:1: trace version 1 is not supported")
            && e.to_string().contains("re-run"),
        "{e}"
    );
    // A number the line claims is checked against the scene, never allocated.
    let scene = good.lines().nth(1).expect("scene");
    let huge = format!(
        "{header}\n{scene}\n{{\"t\":5,\"type\":\"display\",\"automat\":100000000,\"text\":\"hi\"}}\n"
    );
    let e = Replay::load(&write("huge.jsonl", &huge)).expect_err("automat out of range");
    assert!(e.to_string().contains("huge.jsonl:3: automat 100000000: the scene has 1 automat(s)"), "{e}");
    let garbage = format!("{header}\n{{\"t\":5,\"type\":\"problem\",\"text\":\"hi\"}}\n{{\"t\":6,\"type\":");
    let e = Replay::load(&write("cut.jsonl", &garbage)).expect_err("cut short");
    assert!(e.to_string().starts_with(&format!("{}:3:", dir.path().join("cut.jsonl").display())), "{e}");
    let back = format!(
        "{header}\n{{\"t\":9,\"type\":\"problem\",\"text\":\"a\"}}\n{{\"t\":5,\"type\":\"problem\",\"text\":\"b\"}}\n"
    );
    let e = Replay::load(&write("back.jsonl", &back)).expect_err("time goes back");
    assert!(e.to_string().contains(":3: time 5 µs goes back"), "{e}");
    let e = Replay::load(&dir.path().join("missing.jsonl")).expect_err("missing");
    assert!(e.to_string().contains("cannot read"), "{e}");

    // A newer writer's event types are skipped and counted, not fatal.
    let future = format!(
        "{header}\n{{\"t\":1,\"type\":\"hologram\",\"x\":1}}\n{{\"t\":2,\"type\":\"problem\",\"text\":\"p\"}}\n"
    );
    let r = Replay::load(&write("future.jsonl", &future)).expect("reads");
    assert_eq!((r.unknown, r.entries.len(), r.end()), (1, 1, 2));
}

#[test]
fn the_log_reads_as_lines_a_person_reads() {
    let mut replay = Replay::new(Path::new("."));
    for line in trace_of(&scenario("happy_take_and_return.ron")).lines() {
        replay.push_line(line).expect("reads");
    }
    let has = |want: &str| replay.entries.iter().any(|e| e.text == want || e.text.starts_with(want));
    let log: Vec<&str> =
        replay.entries.iter().map(|e| e.text.as_str()).filter(|t| !t.contains("Heartbeat")).collect();
    let shown = log[..log.len().min(80)].join("\n");
    assert!(has("#"), "{shown}");
    assert!(
        replay
            .entries
            .iter()
            .any(|e| e.text.contains("KeyFetched: key Van 3 (1), contract alice-van (0), automat 1, slot 4")),
        "{shown}"
    );
    assert!(has("host ← SlotPresented: slot 4, occupied true"), "{shown}");
    assert!(has("api create contract \"alice-van\": ok, contract 0"), "{shown}");
    assert!(has("step 0: Take: user alice, code Pin ••••"), "{shown}");
    assert!(has("front camera #0 (user_photo): ok"), "{shown}");
    assert!(
        replay.entries.iter().all(|e| !e.text.contains("KeyId(") && !e.text.contains("482916")),
        "{shown}"
    );
}
