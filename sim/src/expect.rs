//! Judging a run: expected events (in order or not, within time bounds), events that must not
//! occur, and the end state.

use controller::ids::{AutomatId, KeyId};
use controller::model::{KeyLocation, Storage};
use controller::registry::Registry;
use firmware_proto::Instant;

use crate::run::fmt_time;
use crate::scenario::{DoorEnd, Expect, ExpectEvent, Final, Matcher, Place};

/// Something seen during a run that expectations can match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// An audit event by name, the key it concerns, and a refused code's reason.
    Audit(&'static str, Option<u32>, Option<&'static str>),
    /// An alert raised, by kind, and its key.
    Alert(&'static str, Option<u32>),
    /// An alert cleared, by kind, and its key.
    AlertCleared(&'static str, Option<u32>),
    /// A display line.
    Display(String),
    /// A board report reaching the controller, by name.
    Board(&'static str),
    /// A plant command reaching the plant, by name.
    Plant(&'static str),
    /// An API refusal.
    ApiError(String),
    /// A person took something off a hook (a fleet key, or something else).
    Took {
        /// Who.
        user: String,
        /// The fleet key, if it was one.
        key: Option<u32>,
    },
    /// A person hung something on a hook.
    Hung {
        /// Who.
        user: String,
        /// The fleet key, if it was one.
        key: Option<u32>,
        /// The foreign item's name, if it was one.
        item: Option<String>,
    },
}

/// An observation with its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// When.
    pub at: Instant,
    /// What.
    pub what: Observation,
}

fn key_ok(want: Option<u32>, got: Option<u32>) -> bool {
    want.is_none() || want == got
}

fn is_ok<T: PartialEq>(want: &Option<T>, got: &T) -> bool {
    want.as_ref().is_none_or(|w| w == got)
}

/// Whether an observation matches.
pub fn matches(m: &Matcher, o: &Observation) -> bool {
    match (m, o) {
        (Matcher::AnyOf(ms), o) => ms.iter().any(|m| matches(m, o)),
        (Matcher::Audit { kind, key, reason }, Observation::Audit(k, got, why)) => {
            kind.name() == *k && key_ok(*key, *got) && reason.is_none_or(|r| Some(r.name()) == *why)
        }
        (Matcher::Alert { kind, key }, Observation::Alert(k, got)) => kind.name() == *k && key_ok(*key, *got),
        (Matcher::AlertCleared { kind, key }, Observation::AlertCleared(k, got)) => {
            kind.name() == *k && key_ok(*key, *got)
        }
        (Matcher::Display(text), Observation::Display(d)) => d.contains(text.as_str()),
        (Matcher::Board(name), Observation::Board(n)) => name.name() == *n,
        (Matcher::Plant(name), Observation::Plant(n)) => name.name() == *n,
        (Matcher::ApiError(text), Observation::ApiError(e)) => e.contains(text.as_str()),
        (Matcher::Took { user, key }, Observation::Took { user: u, key: k }) => {
            is_ok(user, u) && key_ok(*key, *k)
        }
        (Matcher::Hung { user, key, item }, Observation::Hung { user: u, key: k, item: i }) => {
            is_ok(user, u) && key_ok(*key, *k) && (item.is_none() || item == i)
        }
        _ => false,
    }
}

fn who(user: &Option<String>, key: Option<u32>, item: &Option<String>) -> String {
    let mut parts = Vec::new();
    if let Some(u) = user {
        parts.push(u.clone());
    }
    if let Some(k) = key {
        parts.push(format!("key {k}"));
    }
    if let Some(i) = item {
        parts.push(format!("{i:?}"));
    }
    parts.join(", ")
}

fn describe(m: &Matcher) -> String {
    match m {
        Matcher::Audit { kind, key, reason } => {
            let key = key.map(|k| format!(", key {k}")).unwrap_or_default();
            let reason = reason.map(|r| format!(", {r}")).unwrap_or_default();
            format!("Audit({kind}{key}{reason})")
        }
        Matcher::Alert { kind, key: Some(k) } => format!("Alert({kind}, key {k})"),
        Matcher::Alert { kind, key: None } => format!("Alert({kind})"),
        Matcher::AlertCleared { kind, key: Some(k) } => format!("AlertCleared({kind}, key {k})"),
        Matcher::AlertCleared { kind, key: None } => format!("AlertCleared({kind})"),
        Matcher::Display(t) => format!("Display({t:?})"),
        Matcher::Board(n) => format!("Board({n})"),
        Matcher::Plant(n) => format!("Plant({n})"),
        Matcher::ApiError(t) => format!("ApiError({t:?})"),
        Matcher::Took { user, key } => format!("Took({})", who(user, *key, &None)),
        Matcher::Hung { user, key, item } => format!("Hung({})", who(user, *key, item)),
        Matcher::AnyOf(ms) => format!("AnyOf({})", ms.iter().map(describe).collect::<Vec<_>>().join(" | ")),
    }
}

/// One expectation's verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The expectation, as [`descriptions`] gives it.
    pub text: String,
    /// When it was met (an expected event) or broken (a forbidden one).
    pub at: Option<Instant>,
    /// Why it is not met; empty when it is.
    pub failures: Vec<String>,
}

fn window(after: Option<crate::scenario::Offset>, before: Option<crate::scenario::Offset>) -> String {
    match (after, before) {
        (Some(a), Some(b)) => {
            format!(" between {} and {}", fmt_time(Instant::ZERO + a.0), fmt_time(Instant::ZERO + b.0))
        }
        (Some(a), None) => format!(" after {}", fmt_time(Instant::ZERO + a.0)),
        (None, Some(b)) => format!(" by {}", fmt_time(Instant::ZERO + b.0)),
        (None, None) => String::new(),
    }
}

fn count_text(e: &ExpectEvent) -> String {
    match (e.count, e.at_least, e.at_most) {
        (Some(n), _, _) => format!(" exactly {n}×"),
        (None, Some(lo), Some(hi)) => format!(" {lo} to {hi}×"),
        (None, Some(lo), None) => format!(" at least {lo}×"),
        (None, None, Some(hi)) => format!(" at most {hi}×"),
        (None, None, None) => String::new(),
    }
}

/// The expectations, described: the expected events in order, the forbidden ones, the end
/// state, the invariants broken on purpose.
pub fn descriptions(expect: &Expect) -> Vec<String> {
    let events = expect
        .events
        .iter()
        .map(|e| format!("{}{}{}", describe(&e.event), count_text(e), window(e.after, e.before)));
    let never = expect.never.iter().map(|n| {
        let (m, after, before) = n.parts();
        format!("never {}{}", describe(m), window(after, before))
    });
    let end = expect.end.iter().map(|_| "end state".to_string());
    let broken = expect.broken.iter().map(|i| format!("invariant {} broken", i.name()));
    events.chain(never).chain(end).chain(broken).collect()
}

/// What the world looks like at the end, for the end state's checks.
#[derive(Clone, Copy, Debug)]
pub struct World<'a> {
    /// The automats, in scenario order.
    pub automats: &'a [AutomatId],
    /// Whether each automat's door is open.
    pub doors_open: &'a [bool],
    /// Who holds each fleet key that someone holds (key id, user name).
    pub holders: &'a [(u32, &'a str)],
}

fn in_window(o: &Observed, lo: Instant, hi: Option<Instant>) -> bool {
    o.at >= lo && hi.is_none_or(|h| o.at <= h)
}

fn bounds(
    after: Option<crate::scenario::Offset>,
    before: Option<crate::scenario::Offset>,
) -> (Instant, Option<Instant>) {
    (after.map_or(Instant::ZERO, |o| Instant::ZERO + o.0), before.map(|o| Instant::ZERO + o.0))
}

/// What one expected event has seen so far.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    /// The index of the first observation it counts (with `in_order`: just after the first
    /// match of the expected event before it, as far as the run has got).
    start: u64,
    /// Matches in its window from `start` on.
    hits: u64,
    /// When the first of them happened.
    first: Option<Instant>,
}

/// Judges a run as it goes. Each observation is matched against every expectation once, when
/// it happens, and then dropped: what the judge keeps is a tally per expectation, so its size
/// depends on the scenario, never on how long the run is.
#[derive(Clone, Debug)]
pub struct Judge {
    expect: Expect,
    tallies: Vec<Tally>,
    /// Per forbidden event, its first occurrence.
    broken: Vec<Option<Instant>>,
    /// Observations so far.
    seen: u64,
    /// When the last one happened.
    last: Instant,
}

impl Judge {
    /// A judge of `expect` before anything happened.
    pub fn new(expect: &Expect) -> Self {
        Judge {
            tallies: vec![Tally::default(); expect.events.len()],
            broken: vec![None; expect.never.len()],
            expect: expect.clone(),
            seen: 0,
            last: Instant::ZERO,
        }
    }

    /// Something happened. With `in_order`, an expected event's first match moves the start of
    /// every later one to just after it (they count afresh from there): the same verdicts as
    /// looking for each after the first match of the one before, with the whole run at hand.
    pub fn observe(&mut self, o: &Observed) {
        let j = self.seen;
        self.seen += 1;
        self.last = o.at;
        for k in 0..self.tallies.len() {
            let e = &self.expect.events[k];
            let (lo, hi) = bounds(e.after, e.before);
            let t = &mut self.tallies[k];
            if j < t.start || !in_window(o, lo, hi) || !matches(&e.event, &o.what) {
                continue;
            }
            t.hits += 1;
            if t.first.is_none() {
                t.first = Some(o.at);
                if self.expect.in_order {
                    for later in &mut self.tallies[k + 1..] {
                        *later = Tally { start: j + 1, ..Tally::default() };
                    }
                }
            }
        }
        for (n, first) in self.expect.never.iter().zip(&mut self.broken) {
            let (m, after, before) = n.parts();
            let (lo, hi) = bounds(after, before);
            if first.is_none() && in_window(o, lo, hi) && matches(m, &o.what) {
                *first = Some(o.at);
            }
        }
    }

    /// Every expectation's verdict, in the order of [`descriptions`]; their failures, the first
    /// unmet expectation first, each with its simulated time, are the run's. The `broken`
    /// invariants are judged by the run, which knows them.
    pub fn verdicts(&self, registry: Option<&Registry>, world: World<'_>) -> Vec<Verdict> {
        let expect = &self.expect;
        let mut texts = descriptions(expect).into_iter();
        let mut verdicts = Vec::new();
        let mut verdict = |at, failures| {
            verdicts.push(Verdict { text: texts.next().unwrap_or_default(), at, failures });
        };
        let end = self.last;
        for (e, t) in expect.events.iter().zip(&self.tallies) {
            let (at, failures) = expected(e, t, expect.in_order, end);
            verdict(at, failures);
        }
        for (n, first) in expect.never.iter().zip(&self.broken) {
            let (m, after, before) = n.parts();
            match first {
                Some(at) => {
                    let what = format!("{}{}", describe(m), window(after, before));
                    verdict(
                        Some(*at),
                        vec![format!("{}: {what} occurred, which must not happen", fmt_time(*at))],
                    )
                }
                None => verdict(None, Vec::new()),
            }
        }
        if let Some(f) = &expect.end {
            verdict(None, end_state(f, registry, world, &fmt_time(end)));
        }
        verdicts
    }
}

/// One expected event: seen (the right number of times) in its window, after the previous
/// one when in order.
fn expected(e: &ExpectEvent, t: &Tally, in_order: bool, end: Instant) -> (Option<Instant>, Vec<String>) {
    let (_, hi) = bounds(e.after, e.before);
    let what = format!("{}{}", describe(&e.event), window(e.after, e.before));
    let when = hi.map_or(end, |h| h.min(end.max(h)));
    let (least, most) = e.bounds();
    let n = t.hits;
    let at = t.first;
    if n >= u64::from(least) && most.is_none_or(|m| n <= u64::from(m)) {
        return (at, Vec::new());
    }
    let order = if in_order && t.start > 0 { " (after the previous expected event)" } else { "" };
    let failure = if e.counts() {
        format!("{}: expected {what}{}{order}, seen {n}×", fmt_time(when), count_text(e))
    } else {
        format!("{}: expected {what}{order}, not seen", fmt_time(when))
    };
    (at, vec![failure])
}

fn end_state(f: &Final, registry: Option<&Registry>, world: World<'_>, t: &str) -> Vec<String> {
    let mut failures = Vec::new();
    match registry {
        None if !f.keys.is_empty() || f.open_alerts.is_some() => {
            failures.push(format!("{t}: the controller is not running at the end"));
        }
        None => {}
        Some(reg) => {
            for (key, place) in &f.keys {
                let Some(entry) = reg.key(KeyId(*key)) else {
                    failures.push(format!("{t}: final: no key {key}"));
                    continue;
                };
                let holder = world.holders.iter().find(|(k, _)| k == key).map(|(_, u)| *u);
                let ok = match (place, entry.location) {
                    (Place::Held, KeyLocation::Held { .. }) => true,
                    (Place::HeldBy(u), KeyLocation::Held { .. }) => holder == Some(u.as_str()),
                    (Place::Slot(a, s), KeyLocation::Stored(Storage::Slot { automat, slot })) => {
                        automat.0 == *a && slot == *s
                    }
                    _ => false,
                };
                if !ok {
                    let hands = holder.map_or(String::new(), |u| format!(", in {u}'s hands"));
                    failures.push(format!(
                        "{t}: final: key {key} should be {place:?}, is {:?}{hands}",
                        entry.location
                    ));
                }
            }
            if let Some(want) = &f.open_alerts {
                let mut want: Vec<&str> = want.iter().map(|a| a.name()).collect();
                want.sort();
                let mut got: Vec<&str> = reg.alerts().map(|a| a.kind.name()).collect();
                got.sort();
                if want != got {
                    failures.push(format!("{t}: final: open alerts should be {want:?}, are {got:?}"));
                }
            }
        }
    }
    for (id, door) in &f.doors {
        let Some(i) = world.automats.iter().position(|a| a.0 == *id) else {
            failures.push(format!("{t}: final: no automat {id}"));
            continue;
        };
        let open = world.doors_open.get(i).copied().unwrap_or(false);
        if (*door == DoorEnd::Open) != open {
            failures.push(format!("{t}: final: door of automat {id} should be {door:?}"));
        }
    }
    failures
}

/// The line of a run's summary (a stable, readable account of its audit and alert events,
/// for snapshots) that an observation gives, if any.
pub fn summary_line(o: &Observed) -> Option<String> {
    let what = match &o.what {
        Observation::Audit(kind, key, reason) => match *kind {
            "KeyReferenceSet" | "KeyEnrolled" | "AutomatAdded" | "ContactAdded" | "AlertRaised"
            | "AlertCleared" | "Board" => return None,
            _ => {
                let key = key.map(|k| format!(" key {k}")).unwrap_or_default();
                let reason = reason.map(|r| format!(" ({r})")).unwrap_or_default();
                format!("{kind}{key}{reason}")
            }
        },
        Observation::Alert(kind, key) => match key {
            Some(k) => format!("alert {kind} key {k}"),
            None => format!("alert {kind}"),
        },
        Observation::AlertCleared(kind, key) => match key {
            Some(k) => format!("cleared {kind} key {k}"),
            None => format!("cleared {kind}"),
        },
        Observation::ApiError(e) => format!("api error: {e}"),
        _ => return None,
    };
    Some(format!("{} {what}", fmt_time(o.at)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::scenario::{Offset, names::BoardReport};

    const NAMES: [&str; 3] = ["Homed", "SlotPresented", "DoorOpened"];

    /// The verdicts of `expect` over a whole list of observations (a [`Judge`] fed them in turn).
    fn verdicts(
        expect: &Expect,
        observed: &[Observed],
        registry: Option<&Registry>,
        world: World<'_>,
    ) -> Vec<Verdict> {
        let mut judge = Judge::new(expect);
        for o in observed {
            judge.observe(o);
        }
        judge.verdicts(registry, world)
    }

    fn board(i: usize) -> Matcher {
        Matcher::Board(BoardReport::new(NAMES[i]).unwrap_or_else(|| unreachable!()))
    }

    /// The judge's definition with the whole run at hand: each expected event is looked for
    /// after the first match of the one before it (the previous start when it had none).
    fn oracle(expect: &Expect, observed: &[Observed]) -> Vec<(Option<Instant>, u64, bool)> {
        let mut from = 0usize;
        let mut out = Vec::new();
        for e in &expect.events {
            let (lo, hi) = bounds(e.after, e.before);
            let start = if expect.in_order { from } else { 0 };
            let hits: Vec<usize> = (start..observed.len())
                .filter(|&i| in_window(&observed[i], lo, hi) && matches(&e.event, &observed[i].what))
                .collect();
            if let Some(&first) = hits.first() {
                from = first + 1;
            }
            let (least, most) = e.bounds();
            let n = hits.len() as u64;
            let met = n >= u64::from(least) && most.is_none_or(|m| n <= u64::from(m));
            out.push((hits.first().map(|&i| observed[i].at), n, met));
        }
        out
    }

    fn event() -> impl Strategy<Value = ExpectEvent> {
        let window = proptest::option::of(0u64..20);
        (0..3usize, window.clone(), window, proptest::option::of(0u32..4), proptest::option::of(0u32..3))
            .prop_map(|(m, after, before, count, at_most)| ExpectEvent {
                event: board(m),
                after: after.map(|s| Offset(std::time::Duration::from_secs(s))),
                before: before.map(|s| Offset(std::time::Duration::from_secs(s + 5))),
                count,
                at_least: None,
                at_most: if count.is_some() { None } else { at_most },
            })
    }

    proptest! {
        #[test]
        fn judging_as_the_run_goes_gives_the_verdicts_of_judging_the_whole_run(
            events in proptest::collection::vec(event(), 0..6),
            in_order in any::<bool>(),
            seen in proptest::collection::vec((0..3usize, 0u64..3), 0..40),
        ) {
            let expect = Expect { events, in_order, ..Expect::default() };
            let mut t = 0;
            let observed: Vec<Observed> = seen
                .iter()
                .map(|&(m, dt)| {
                    t += dt;
                    Observed { at: Instant::from_millis(t * 1000), what: Observation::Board(NAMES[m]) }
                })
                .collect();
            let world = World { automats: &[], doors_open: &[], holders: &[] };
            let got = verdicts(&expect, &observed, None, world);
            let want = oracle(&expect, &observed);
            prop_assert_eq!(got.len(), want.len());
            for (v, (at, n, met)) in got.iter().zip(want) {
                prop_assert_eq!(v.at, at, "{}", v.text);
                prop_assert_eq!(v.failures.is_empty(), met, "{}: {:?} ({} seen)", v.text, v.failures, n);
            }
        }
    }

    #[test]
    fn in_order_a_later_event_seen_before_the_earlier_one_counts_only_after_it() {
        let at = |s: u64, m: usize| Observed {
            at: Instant::from_millis(s * 1000),
            what: Observation::Board(NAMES[m]),
        };
        let e = |m: usize| ExpectEvent {
            event: board(m),
            after: None,
            before: None,
            count: None,
            at_least: None,
            at_most: None,
        };
        let expect = Expect { events: vec![e(0), e(1)], in_order: true, ..Expect::default() };
        let world = World { automats: &[], doors_open: &[], holders: &[] };
        // SlotPresented at 1 s, Homed at 2 s: in order, SlotPresented was not seen after Homed.
        let v = verdicts(&expect, &[at(1, 1), at(2, 0)], None, world);
        assert!(v[0].failures.is_empty());
        assert_eq!(
            v[1].failures,
            vec!["00:00:02.000: expected Board(SlotPresented) (after the previous expected event), not seen"]
        );
        let v = verdicts(&expect, &[at(1, 1), at(2, 0), at(3, 1)], None, world);
        assert!(v.iter().all(|v| v.failures.is_empty()), "{v:?}");
        assert_eq!(v[1].at, Some(Instant::from_millis(3000)));
    }
}
