//! Criterion benchmarks live in `benches/benches/`; run them with `cargo bench -p benches`.
//! This library holds what several of them share.

#![allow(clippy::panic)] // a bench whose setup fails has nothing to measure

use sim::scenario::{Scenario, load_str};

/// 30 keys, 24 users; each takes a key and returns it 20 minutes later, spread over the hour.
pub fn busy_hour() -> Scenario {
    let colours = ["red", "blue", "green", "yellow", "purple", "orange", "cyan", "white", "black", "pink"];
    let shapes = ["Round", "Square", "Tag"];
    let mut keys = String::new();
    let mut contacts = String::new();
    let mut contracts = String::new();
    let mut users = String::new();
    let mut steps: Vec<(u32, String)> = Vec::new();
    for i in 1..=30u32 {
        let look = format!(
            "(colour: \"{}\", shape: {}, label: \"{i}\")",
            colours[i as usize % 10],
            shapes[i as usize / 10 % 3]
        );
        keys.push_str(&format!(
            "(id: {i}, automat: 1, slot: {}, tag: \"{:04X}\", look: {look}),",
            i - 1,
            0xA000 + i
        ));
        contacts.push_str(&format!("(id: {i}, name: \"c{i}\"),"));
        contracts.push_str(&format!(
            "(name: \"k{i}\", automat: 1, keys: [{i}], contacts: [{i}], pin: \"{}\"),",
            100_000 + i * 7
        ));
    }
    for u in 1..=24u32 {
        users.push_str(&format!("(name: \"u{u}\"),"));
        let take = (u - 1) * 100 + 20;
        steps.push((
            take,
            format!("(at: \"{take}s\", do: Take(user: \"u{u}\", code: Pin(\"{}\"))),", 100_000 + u * 7),
        ));
        let back = take + 1250;
        steps.push((
            back,
            format!(
                "(at: \"{back}s\", do: Return(user: \"u{u}\", code: Pin(\"{}\"), item: Key({u}))),",
                100_000 + u * 7
            ),
        ));
    }
    // A timeline is written in time order (the loader refuses one that is not).
    steps.sort_by_key(|(t, _)| *t);
    let timeline: String = steps.into_iter().map(|(_, s)| s).collect();
    let src = format!(
        "Scenario(name: \"busy hour\", duration: \"1h\", automats: [(id: 1)], keys: [{keys}], contacts: [{contacts}], \
         contracts: [{contracts}], users: [{users}], timeline: [{timeline}], \
         expect: (events: [(event: Audit(kind: \"KeyReturned\", key: 24))]))"
    );
    match load_str("busy-hour.ron", &src) {
        Ok(s) => s,
        Err(e) => panic!("the busy hour does not load: {e}"),
    }
}

/// `automats` automats with a key each and nobody coming, for `duration` (`"1h"`): nothing but
/// the links' keepalives and the boards' heartbeats.
pub fn idle_fleet(automats: u32, duration: &str) -> Scenario {
    let fleet: String = (1..=automats).map(|i| format!("(id: {i}),")).collect();
    let keys: String = (1..=automats)
        .map(|i| format!("(id: {i}, automat: {i}, slot: 0, tag: \"{i:02X}\", look: (colour: \"red\")),"))
        .collect();
    let src = format!(
        "Scenario(name: \"idle fleet\", duration: \"{duration}\", automats: [{fleet}], keys: [{keys}], \
         expect: (events: [(event: Board(\"Heartbeat\"), at_least: 1)]))"
    );
    match load_str("idle-fleet.ron", &src) {
        Ok(s) => s,
        Err(e) => panic!("the idle fleet does not load: {e}"),
    }
}
