//! What a scenario expects: events that must occur (in order or not, within time windows, a
//! number of times), events that must not, the end state, and which invariants the scenario
//! itself breaks on purpose. Judged by [`crate::expect`].

use serde::{Deserialize, Serialize};

use super::Offset;
use super::names::{AlertName, AuditKind, BoardReport, PlantCommand, RefusalName};

/// What a trace event must be to match.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum Matcher {
    /// An audit event of the controller, by name (`KeyFetched`, `KeyReturned`,
    /// `WrongItemLeft`, `SessionOpened`, `CodeRefused`, `Lockout`, …), optionally about a key,
    /// and for `CodeRefused` optionally why (`reason: "Ended"`).
    Audit {
        /// The event's name.
        kind: AuditKind,
        /// The key it concerns.
        #[serde(default)]
        key: Option<u32>,
        /// Why the code was refused (only with `kind: "CodeRefused"`).
        #[serde(default)]
        reason: Option<RefusalName>,
    },
    /// An alert raised, by kind (`Overdue`, `WrongKey`, `DoorHeldOpen`, …).
    Alert {
        /// The kind.
        kind: AlertName,
        /// The key it concerns.
        #[serde(default)]
        key: Option<u32>,
    },
    /// An alert cleared, by kind.
    AlertCleared {
        /// The kind.
        kind: AlertName,
        /// The key it concerned.
        #[serde(default)]
        key: Option<u32>,
    },
    /// A display line containing this text (which must be part of a line the controller can
    /// show).
    Display(String),
    /// A board report by message name (`SlotPresented`, `DoorForced`, `Tamper`, …).
    Board(BoardReport),
    /// A plant command by message name (`MotorMove`, `LockCoil`, …).
    Plant(PlantCommand),
    /// An API call refused with an error containing this text.
    ApiError(String),
    /// A person took something off a hook (the world's view, not the controller's).
    Took {
        /// Who.
        #[serde(default)]
        user: Option<String>,
        /// The fleet key taken.
        #[serde(default)]
        key: Option<u32>,
    },
    /// A person hung something on a hook.
    Hung {
        /// Who.
        #[serde(default)]
        user: Option<String>,
        /// The fleet key hung.
        #[serde(default)]
        key: Option<u32>,
        /// The foreign item hung, by the name the user carries it under.
        #[serde(default)]
        item: Option<String>,
    },
    /// Any one of these.
    AnyOf(Vec<Matcher>),
}

/// One expected event.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectEvent {
    /// What.
    pub event: Matcher,
    /// Not before this offset.
    #[serde(default)]
    pub after: Option<Offset>,
    /// Not after this offset.
    #[serde(default)]
    pub before: Option<Offset>,
    /// Exactly this many matching events in the window (default: at least one).
    #[serde(default)]
    pub count: Option<u32>,
    /// At least this many in the window.
    #[serde(default)]
    pub at_least: Option<u32>,
    /// At most this many in the window.
    #[serde(default)]
    pub at_most: Option<u32>,
}

impl ExpectEvent {
    /// The number of matches allowed: `(least, most)`.
    pub fn bounds(&self) -> (u32, Option<u32>) {
        match self.count {
            Some(n) => (n, Some(n)),
            None => (self.at_least.unwrap_or(1), self.at_most),
        }
    }

    /// Whether it only counts (a number other than "at least one" was asked for).
    pub fn counts(&self) -> bool {
        self.count.is_some() || self.at_least.is_some() || self.at_most.is_some()
    }
}

/// An event that must not occur: anywhere (`Alert(kind: "WrongKey")`) or within a window
/// (`(event: Board("DoorOpened"), after: "5m", before: "10m")`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Never {
    /// Never at all.
    Always(Matcher),
    /// Never within the window.
    Within(NeverWithin),
}

/// A forbidden event within a window.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NeverWithin {
    /// What.
    pub event: Matcher,
    /// From this offset.
    #[serde(default)]
    pub after: Option<Offset>,
    /// Until this offset.
    #[serde(default)]
    pub before: Option<Offset>,
}

impl Never {
    /// The matcher and its window.
    pub fn parts(&self) -> (&Matcher, Option<Offset>, Option<Offset>) {
        match self {
            Never::Always(m) => (m, None, None),
            Never::Within(w) => (&w.event, w.after, w.before),
        }
    }
}

/// Where a key must be at the end.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum Place {
    /// In this automat's slot.
    Slot(u32, u8),
    /// Out with someone.
    Held,
    /// Out, in this person's hands (the world's view; the controller must have it out too).
    HeldBy(String),
}

/// The door at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum DoorEnd {
    /// Closed.
    Closed,
    /// Open.
    Open,
}

/// The state at the end.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Final {
    /// Where keys are, by the controller's registry.
    #[serde(default)]
    pub keys: Vec<(u32, Place)>,
    /// Each automat's door, by id.
    #[serde(default)]
    pub doors: Vec<(u32, DoorEnd)>,
    /// The open alerts, by kind, exactly (sorted comparison).
    #[serde(default)]
    pub open_alerts: Option<Vec<AlertName>>,
}

/// An invariant every run is checked against (see `scenarios/README.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
pub enum Invariant {
    /// The audit chain verifies and nothing synced is lost.
    Audit,
    /// Nobody is handed a key they may not take.
    Entitlement,
    /// Every take and return has its photos.
    Images,
    /// Each key is in exactly one place.
    Conservation,
    /// The controller's registry matches the world, or an alert says it does not.
    Registry,
    /// Keys out past their end are alerted.
    Overdue,
    /// Every key a person takes was presented in a session their own code opened.
    Hands,
}

impl Invariant {
    /// The name failures carry (`invariant hands: …`).
    pub fn name(self) -> &'static str {
        match self {
            Invariant::Audit => "audit",
            Invariant::Entitlement => "entitlement",
            Invariant::Images => "images",
            Invariant::Conservation => "conservation",
            Invariant::Registry => "registry",
            Invariant::Overdue => "overdue",
            Invariant::Hands => "hands",
        }
    }
}

/// What must happen.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Events that must occur.
    #[serde(default)]
    pub events: Vec<ExpectEvent>,
    /// Whether `events` must occur in the order given.
    #[serde(default)]
    pub in_order: bool,
    /// Events that must not occur.
    #[serde(default)]
    pub never: Vec<Never>,
    /// The end state.
    #[serde(default, rename = "final")]
    pub end: Option<Final>,
    /// Invariants this scenario breaks on purpose (a theft the world sees but the automat
    /// cannot): each must be broken, and its failures then do not fail the run.
    #[serde(default)]
    pub broken: Vec<Invariant>,
}
