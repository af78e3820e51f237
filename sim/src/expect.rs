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

/// Every expectation's verdict, in the order of [`descriptions`]; their failures, the first unmet
/// expectation first, each with its simulated time, are the run's. The `broken` invariants
/// are judged by the run, which knows them.
pub fn verdicts(
    expect: &Expect,
    observed: &[Observed],
    registry: Option<&Registry>,
    world: World<'_>,
) -> Vec<Verdict> {
    let mut texts = descriptions(expect).into_iter();
    let mut verdicts = Vec::new();
    let mut verdict = |at, failures| {
        verdicts.push(Verdict { text: texts.next().unwrap_or_default(), at, failures });
    };
    let end = observed.last().map_or(Instant::ZERO, |o| o.at);
    let mut from = 0usize;
    for e in &expect.events {
        let (at, failures) = expected(e, observed, expect.in_order, &mut from, end);
        verdict(at, failures);
    }
    for n in &expect.never {
        let (m, after, before) = n.parts();
        let (lo, hi) = bounds(after, before);
        match observed.iter().find(|o| in_window(o, lo, hi) && matches(m, &o.what)) {
            Some(o) => {
                let what = format!("{}{}", describe(m), window(after, before));
                verdict(
                    Some(o.at),
                    vec![format!("{}: {what} occurred, which must not happen", fmt_time(o.at))],
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

/// One expected event: seen (the right number of times) in its window, after the previous
/// one when in order.
fn expected(
    e: &ExpectEvent,
    observed: &[Observed],
    in_order: bool,
    from: &mut usize,
    end: Instant,
) -> (Option<Instant>, Vec<String>) {
    let (lo, hi) = bounds(e.after, e.before);
    let start = if in_order { (*from).min(observed.len()) } else { 0 };
    let hits: Vec<usize> = (start..observed.len())
        .filter(|&i| in_window(&observed[i], lo, hi) && matches(&e.event, &observed[i].what))
        .collect();
    let what = format!("{}{}", describe(&e.event), window(e.after, e.before));
    let when = hi.map_or(end, |h| h.min(end.max(h)));
    let (least, most) = e.bounds();
    let n = hits.len() as u64;
    let first = hits.first().copied();
    if let Some(first) = first {
        *from = first + 1;
    }
    let at = first.map(|i| observed[i].at);
    if n >= u64::from(least) && most.is_none_or(|m| n <= u64::from(m)) {
        return (at, Vec::new());
    }
    let order = if in_order && start > 0 { " (after the previous expected event)" } else { "" };
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

/// A stable, readable summary of a run's audit and alert events, for snapshots.
pub fn summary(observed: &[Observed]) -> Vec<String> {
    observed
        .iter()
        .filter_map(|o| {
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
        })
        .collect()
}
