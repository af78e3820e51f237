//! Judging a run: expected events (in order or not, within time bounds), events that must not
//! occur, and the end state.

use controller::ids::{AutomatId, KeyId};
use controller::model::{KeyLocation, Storage};
use controller::registry::Registry;
use firmware_proto::Instant;

use crate::run::fmt_time;
use crate::scenario::{DoorEnd, Expect, Matcher, Place};

/// Something seen during a run that expectations can match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// An audit event by name, and the key it concerns.
    Audit(String, Option<u32>),
    /// An alert raised, by kind, and its key.
    Alert(String, Option<u32>),
    /// An alert cleared, by kind, and its key.
    AlertCleared(String, Option<u32>),
    /// A display line.
    Display(String),
    /// A board report reaching the controller, by name.
    Board(String),
    /// A plant command reaching the plant, by name.
    Plant(String),
    /// An API refusal.
    ApiError(String),
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

/// Whether an observation matches.
pub fn matches(m: &Matcher, o: &Observation) -> bool {
    match (m, o) {
        (Matcher::Audit { kind, key }, Observation::Audit(k, got)) => kind == k && key_ok(*key, *got),
        (Matcher::Alert { kind, key }, Observation::Alert(k, got)) => kind == k && key_ok(*key, *got),
        (Matcher::AlertCleared { kind, key }, Observation::AlertCleared(k, got)) => {
            kind == k && key_ok(*key, *got)
        }
        (Matcher::Display(text), Observation::Display(d)) => d.contains(text.as_str()),
        (Matcher::Board(name), Observation::Board(n)) => name == n,
        (Matcher::Plant(name), Observation::Plant(n)) => name == n,
        (Matcher::ApiError(text), Observation::ApiError(e)) => e.contains(text.as_str()),
        _ => false,
    }
}

fn describe(m: &Matcher) -> String {
    match m {
        Matcher::Audit { kind, key: Some(k) } => format!("Audit({kind}, key {k})"),
        Matcher::Audit { kind, key: None } => format!("Audit({kind})"),
        Matcher::Alert { kind, key: Some(k) } => format!("Alert({kind}, key {k})"),
        Matcher::Alert { kind, key: None } => format!("Alert({kind})"),
        Matcher::AlertCleared { kind, key: Some(k) } => format!("AlertCleared({kind}, key {k})"),
        Matcher::AlertCleared { kind, key: None } => format!("AlertCleared({kind})"),
        Matcher::Display(t) => format!("Display({t:?})"),
        Matcher::Board(n) => format!("Board({n})"),
        Matcher::Plant(n) => format!("Plant({n})"),
        Matcher::ApiError(t) => format!("ApiError({t:?})"),
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

/// The expectations, described: the expected events in order, the forbidden ones, the end state.
pub fn descriptions(expect: &Expect) -> Vec<String> {
    let events = expect.events.iter().map(|e| format!("{}{}", describe(&e.event), window(e.after, e.before)));
    let never = expect.never.iter().map(|m| format!("never {}", describe(m)));
    let end = expect.end.iter().map(|_| "end state".to_string());
    events.chain(never).chain(end).collect()
}

/// Every expectation's verdict, in the order of [`descriptions`]; their failures, the first unmet
/// expectation first, each with its simulated time, are the run's.
pub fn verdicts(
    expect: &Expect,
    observed: &[Observed],
    registry: Option<&Registry>,
    automats: &[AutomatId],
    doors_open: &[bool],
) -> Vec<Verdict> {
    let mut texts = descriptions(expect).into_iter();
    let mut verdicts = Vec::new();
    let mut verdict = |at, failures| {
        verdicts.push(Verdict { text: texts.next().unwrap_or_default(), at, failures });
    };
    let end = observed.last().map_or(Instant::ZERO, |o| o.at);
    let mut from = 0usize;
    for e in &expect.events {
        let lo = e.after.map_or(Instant::ZERO, |o| Instant::ZERO + o.0);
        let hi = e.before.map(|o| Instant::ZERO + o.0);
        let start = if expect.in_order { from } else { 0 };
        let found = observed[start..]
            .iter()
            .position(|o| matches(&e.event, &o.what) && o.at >= lo && hi.is_none_or(|h| o.at <= h))
            .map(|p| p + start);
        match found {
            Some(i) => {
                from = i + 1;
                verdict(Some(observed[i].at), Vec::new());
            }
            None => {
                let order =
                    if expect.in_order && from > 0 { " (after the previous expected event)" } else { "" };
                let when = hi.map_or(end, |h| h.min(end.max(h)));
                let failure = format!(
                    "{}: expected {}{}{order}, not seen",
                    fmt_time(when),
                    describe(&e.event),
                    window(e.after, e.before)
                );
                verdict(None, vec![failure]);
            }
        }
    }
    for m in &expect.never {
        match observed.iter().find(|o| matches(m, &o.what)) {
            Some(o) => verdict(
                Some(o.at),
                vec![format!("{}: {} occurred, which must not happen", fmt_time(o.at), describe(m))],
            ),
            None => verdict(None, Vec::new()),
        }
    }
    if let Some(f) = &expect.end {
        let mut failures = Vec::new();
        let t = fmt_time(end);
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
                    let ok = match (place, entry.location) {
                        (Place::Held, KeyLocation::Held { .. }) => true,
                        (Place::Slot(a, s), KeyLocation::Stored(Storage::Slot { automat, slot })) => {
                            automat.0 == *a && slot == *s
                        }
                        _ => false,
                    };
                    if !ok {
                        failures.push(format!(
                            "{t}: final: key {key} should be {place:?}, is {:?}",
                            entry.location
                        ));
                    }
                }
                if let Some(want) = &f.open_alerts {
                    let mut want = want.clone();
                    want.sort();
                    let mut got: Vec<String> = reg.alerts().map(|a| a.kind.name().to_string()).collect();
                    got.sort();
                    if want != got {
                        failures.push(format!("{t}: final: open alerts should be {want:?}, are {got:?}"));
                    }
                }
            }
        }
        for (id, door) in &f.doors {
            let Some(i) = automats.iter().position(|a| a.0 == *id) else {
                failures.push(format!("{t}: final: no automat {id}"));
                continue;
            };
            let open = doors_open.get(i).copied().unwrap_or(false);
            if (*door == DoorEnd::Open) != open {
                failures.push(format!("{t}: final: door of automat {id} should be {door:?}"));
            }
        }
        verdict(None, failures);
    }
    verdicts
}

/// A stable, readable summary of a run's audit and alert events, for snapshots.
pub fn summary(observed: &[Observed]) -> Vec<String> {
    observed
        .iter()
        .filter_map(|o| {
            let what = match &o.what {
                Observation::Audit(kind, key) => match kind.as_str() {
                    "KeyReferenceSet" | "KeyEnrolled" | "AutomatAdded" | "ContactAdded" | "AlertRaised"
                    | "AlertCleared" | "Board" => return None,
                    _ => match key {
                        Some(k) => format!("{kind} key {k}"),
                        None => kind.clone(),
                    },
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
