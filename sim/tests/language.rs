//! The scenario language's expectations, each shown to pass when it should and fail when it
//! should not: windowed `never`, counts, `AnyOf`, `Took`/`Hung` by who did them, `HeldBy`,
//! invariants broken on purpose, and the raw-bytes line attack.

use sim::run::{Outcome, RunOptions, run_plain};
use sim::scenario::load_str;

/// The happy scenario (Alice takes Van 3 at 1 min and returns it at 1 h) with `expect`.
fn happy(expect: &str) -> String {
    format!(
        r#"Scenario(
    name: "language", seed: 1,
    automats: [(id: 1, name: "Depot")],
    keys: [
        (id: 1, name: "Van 3", automat: 1, slot: 4, tag: "04A1B2C3", look: (colour: "red", label: "V3")),
        (id: 2, name: "Van 4", automat: 1, slot: 5, tag: "04A1B2C4", look: (colour: "blue", label: "V4")),
    ],
    contacts: [(id: 1, name: "Alice")],
    contracts: [(name: "alice-van", automat: 1, keys: [1], contacts: [1], pin: "482916")],
    users: [(name: "alice"), (name: "bob")],
    timeline: [
        (at: "1m", do: Take(user: "alice", code: Pin("482916"))),
        (at: "1h", do: Return(user: "alice", code: Pin("482916"), item: Key(1))),
    ],
    expect: {expect},
)"#
    )
}

#[track_caller]
fn run(src: &str) -> Outcome {
    let s = load_str("language.ron", src).map_err(|e| format!("{e:?}")).expect("loads");
    run_plain(&s, RunOptions::default())
}

#[track_caller]
fn passes(expect: &str) {
    let out = run(&happy(expect));
    assert!(out.passed, "{expect}\n{:#?}", out.failures);
}

#[track_caller]
fn fails(expect: &str, with: &str) {
    let out = run(&happy(expect));
    assert!(!out.passed, "{expect} passed");
    assert!(out.failures.iter().any(|f| f.contains(with)), "{expect}: {:#?}", out.failures);
}

#[test]
fn never_with_a_window_judges_only_inside_it() {
    // Keys are fetched at about 1 min and returned at about 1 h.
    passes(r#"(never: [(event: Audit(kind: "KeyFetched"), after: "5m")])"#);
    passes(r#"(never: [(event: Audit(kind: "KeyReturned"), before: "59m")])"#);
    fails(r#"(never: [(event: Audit(kind: "KeyFetched"), before: "5m")])"#, "must not happen");
    fails(r#"(never: [(event: Audit(kind: "KeyReturned"), after: "30m", before: "2h")])"#, "must not happen");
}

#[test]
fn counts_are_exact_or_bounded() {
    passes(r#"(events: [(event: Audit(kind: "SessionOpened"), count: 2)])"#);
    passes(r#"(events: [(event: Audit(kind: "KeyFetched"), at_least: 1, at_most: 1)])"#);
    passes(r#"(events: [(event: Board("SlotPresented"), at_least: 2)])"#);
    fails(r#"(events: [(event: Audit(kind: "SessionOpened"), count: 3)])"#, "seen 2×");
    fails(r#"(events: [(event: Audit(kind: "SessionOpened"), at_most: 1)])"#, "at most 1×");
    fails(r#"(events: [(event: Audit(kind: "CodeRefused"), at_least: 1)])"#, "seen 0×");
    passes(r#"(events: [(event: Audit(kind: "CodeRefused"), count: 0)])"#);
}

#[test]
fn any_of_matches_one_of_its_matchers() {
    passes(r#"(events: [(event: AnyOf([Alert(kind: "Tamper"), Audit(kind: "KeyFetched", key: 1)]))])"#);
    fails(
        r#"(events: [(event: AnyOf([Alert(kind: "Tamper"), Audit(kind: "KeyFetched", key: 2)]))])"#,
        "AnyOf(",
    );
    fails(r#"(never: [AnyOf([Alert(kind: "Tamper"), Audit(kind: "KeyReturned")])])"#, "must not happen");
}

#[test]
fn took_and_hung_match_who_did_it() {
    passes(
        r#"(in_order: true, events: [(event: Took(user: "alice", key: 1)), (event: Hung(user: "alice", key: 1))])"#,
    );
    fails(r#"(events: [(event: Took(user: "bob"))])"#, "Took(bob)");
    fails(r#"(events: [(event: Hung(user: "alice", key: 2))])"#, "Hung(alice, key 2)");
    passes(r#"(never: [Took(user: "bob"), Took(key: 2)])"#);
}

#[test]
fn held_by_names_the_hands_the_key_is_in() {
    let src = happy(r#"(final: (keys: [(1, HeldBy("alice"))]))"#)
        .replace(r#"        (at: "1h", do: Return(user: "alice", code: Pin("482916"), item: Key(1))),"#, "");
    assert!(run(&src).passed);
    let bob = src.replace(r#"HeldBy("alice")"#, r#"HeldBy("bob")"#);
    let out = run(&bob);
    assert!(out.failures.iter().any(|f| f.contains("in alice's hands")), "{:#?}", out.failures);
    // Returned: in a slot, in nobody's hands.
    fails(r#"(final: (keys: [(1, HeldBy("alice"))]))"#, "should be HeldBy(\"alice\")");
}

#[test]
fn an_invariant_said_to_be_broken_must_break() {
    fails(r#"(broken: [Hands])"#, "expected the invariant hands to be broken");
}

#[test]
fn a_negative_check_that_can_match_nothing_is_refused_at_load() {
    for expect in [
        r#"(never: [Audit(kind: "KeyFetched", key: 9)])"#,
        r#"(never: [Took(user: "carol")])"#,
        r#"(never: [Display("Wrong kye")])"#,
        r#"(never: [AnyOf([])])"#,
        r#"(never: [(event: Alert(kind: "Tamper"), after: "2h", before: "1h")])"#,
    ] {
        assert!(load_str("x.ron", &happy(expect)).is_err(), "{expect} loads");
    }
}

#[test]
fn garbage_injected_on_the_host_line_is_dropped_and_nothing_opens() {
    let src = happy(r#"(never: [Board("DoorUnlocked"), Board("Tamper")], final: (keys: [(1, Slot(1, 4))]))"#)
        .replace(
            r#"(at: "1m", do: Take(user: "alice", code: Pin("482916"))),"#,
            r#"(at: "30s", do: InjectBytes(automat: 1, hex: "00 ff 13 37 00 de ad be ef 00")),"#,
        )
        .replace(r#"        (at: "1h", do: Return(user: "alice", code: Pin("482916"), item: Key(1))),"#, "");
    let out = run(&src);
    assert!(out.passed, "{:#?}", out.failures);
}

#[test]
fn every_screen_line_and_audit_name_of_the_library_is_one_the_scenario_checks_know() {
    // `Display("…")` matchers are checked at load against controller::prompts::PROMPTS: that
    // list must hold every line the screen really shows.
    let library = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut lines = 0;
    for f in sim::scenario::load::collect(&[library]).expect("library") {
        let s = sim::scenario::load_file(&f).expect("loads");
        let sink = sim::trace::MemoryTrace::default();
        run_plain(&s, RunOptions { trace: Some(Box::new(sink.clone())), ..RunOptions::default() });
        let trace = String::from_utf8(sink.bytes()).expect("utf-8");
        for line in trace.lines().filter(|l| l.contains(r#""type":"display""#)) {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            let text = v["text"].as_str().expect("text");
            assert!(controller::prompts::is_prompt(text), "{}: {text:?} is in no template", f.display());
            lines += 1;
        }
        // Likewise `Event::NAMES`, which `Audit(kind)` matchers are checked against.
        for line in trace.lines().filter(|l| l.contains(r#""type":"audit""#)) {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            let name = v["record"]["event"].as_str().expect("record.event");
            assert!(
                controller::event::Event::NAMES.contains(&name),
                "{}: {name} not in Event::NAMES",
                f.display()
            );
        }
    }
    assert!(lines > 100, "{lines} screen lines");
}
