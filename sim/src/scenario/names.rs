//! The closed sets of names a scenario may use for what it matches: audit events, alerts,
//! board reports, plant commands, host commands. Each is a [`Name`] of its set, read from its
//! string (`kind: "KeyFetched"`, `Board("SlotPresented")`) and refused at load when it is not
//! one of the set's names, with the nearest name suggested and all of them listed: a misspelt
//! name can never make a negative check vacuous.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A closed set of names.
pub trait NameSet {
    /// What a name of the set is, for messages (`"audit event"`).
    const WHAT: &'static str;
    /// Every name.
    fn names() -> &'static [&'static str];
}

/// One name of the set `S`.
pub struct Name<S> {
    name: &'static str,
    set: PhantomData<fn() -> S>,
}

impl<S: NameSet> Name<S> {
    /// The name, if it is one of the set's.
    pub fn new(name: &str) -> Option<Self> {
        S::names().iter().find(|n| **n == name).map(|n| Name { name: n, set: PhantomData })
    }

    /// The name as written.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<S> Clone for Name<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for Name<S> {}
impl<S> PartialEq for Name<S> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl<S> Eq for Name<S> {}
impl<S> fmt::Debug for Name<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}
impl<S> fmt::Display for Name<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl<S> Serialize for Name<S> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.serialize_str(self.name)
    }
}

impl<'de, S: NameSet> Deserialize<'de> for Name<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<S>(PhantomData<fn() -> S>);
        impl<S: NameSet> Visitor<'_> for V<S> {
            type Value = Name<S>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "the name of {} {} as a string", article(S::WHAT), S::WHAT)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name<S>, E> {
                Name::new(v).ok_or_else(|| E::custom(unknown::<S>(v)))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

fn article(what: &str) -> &'static str {
    if what.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

/// "unknown audit event "KeyFeched": did you mean "KeyFetched"? (one of: …)".
pub fn unknown<S: NameSet>(v: &str) -> String {
    let names = S::names();
    let hint = hint(v, names, ": ");
    format!("unknown {} {v:?}{hint} (one of: {})", S::WHAT, names.join(", "))
}

/// `"{sep}did you mean "…"?"` with the name nearest to `v`, or nothing when none is near.
pub fn hint(v: &str, names: &[&str], sep: &str) -> String {
    nearest(v, names).map_or(String::new(), |n| format!("{sep}did you mean {n:?}?"))
}

/// The name closest to `v` by edit distance, if it is close enough to be a likely typo.
pub fn nearest<'a>(v: &str, names: &[&'a str]) -> Option<&'a str> {
    let lower = v.to_lowercase();
    names
        .iter()
        .map(|n| (strsim::levenshtein(&lower, &n.to_lowercase()), *n))
        .filter(|(d, n)| *d <= (n.chars().count() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

macro_rules! name_set {
    ($(#[$doc:meta])* $set:ident, $what:literal, $names:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $set {}
        impl NameSet for $set {
            const WHAT: &'static str = $what;
            fn names() -> &'static [&'static str] {
                $names
            }
        }
    };
}

fn alert_names() -> &'static [&'static str] {
    const NAMES: [&str; controller::alerts::AlertKind::ALL.len()] = {
        let mut names = [""; controller::alerts::AlertKind::ALL.len()];
        let mut i = 0;
        while i < names.len() {
            names[i] = controller::alerts::AlertKind::ALL[i].name();
            i += 1;
        }
        names
    };
    &NAMES
}

use firmware_proto::message::Message as _;

name_set!(
    /// The controller's audit events (`KeyFetched`, `SessionOpened`, …).
    Audits,
    "audit event",
    controller::event::Event::NAMES
);
name_set!(
    /// The controller's alert kinds (`Overdue`, `WrongKey`, …).
    Alerts,
    "alert kind",
    alert_names()
);
name_set!(
    /// What a board reports to the controller (`SlotPresented`, `Tamper`, …).
    BoardReports,
    "board report",
    firmware_proto::host::BoardToHost::NAMES
);
name_set!(
    /// What a board commands its plant (`MotorMove`, `LockCoil`, …).
    PlantCommands,
    "plant command",
    firmware_proto::plant::BoardToPlant::NAMES
);
name_set!(
    /// What the controller commands a board (`UnlockDoor`, `PresentSlot`, …).
    HostCommands,
    "host command",
    firmware_proto::host::HostToBoard::NAMES
);

/// Every message name of the four link message sets, each once.
fn link_message_names() -> &'static [&'static str] {
    static NAMES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        let mut names: Vec<&'static str> = Vec::new();
        for set in [
            firmware_proto::host::HostToBoard::NAMES,
            firmware_proto::host::BoardToHost::NAMES,
            firmware_proto::plant::BoardToPlant::NAMES,
            firmware_proto::plant::PlantToBoard::NAMES,
        ] {
            for n in set {
                if !names.contains(n) {
                    names.push(n);
                }
            }
        }
        names
    });
    &NAMES
}

name_set!(
    /// A message on either link, either way (`Heartbeat`, `SlotPresented`, `MotorMove`, …).
    LinkMessages,
    "link message",
    link_message_names()
);

name_set!(
    /// Why a code opened nothing (`WrongCode`, `Ended`, `LockedOut`, …).
    Refusals,
    "refusal reason",
    &controller::event::Refusal::NAMES
);

/// An audit event's name.
pub type AuditKind = Name<Audits>;
/// A refusal reason's name.
pub type RefusalName = Name<Refusals>;
/// An alert kind's name.
pub type AlertName = Name<Alerts>;
/// A board report's name.
pub type BoardReport = Name<BoardReports>;
/// A plant command's name.
pub type PlantCommand = Name<PlantCommands>;
/// A host command's name.
pub type HostCommand = Name<HostCommands>;
/// A link message's name.
pub type LinkMessageName = Name<LinkMessages>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_name_is_refused_with_the_nearest_one_suggested() {
        assert!(AuditKind::new("KeyFetched").is_some());
        assert!(AuditKind::new("KeyFeched").is_none());
        let text = unknown::<Audits>("KeyFeched");
        assert!(text.contains("did you mean \"KeyFetched\"?"), "{text}");
        assert!(text.contains("SessionOpened"), "{text}");
        assert_eq!(nearest("Zzzzzzzzzzzz", Audits::names()), None);
    }

    #[test]
    fn every_set_knows_its_names() {
        assert!(AlertName::new("SlotMismatch").is_some());
        assert!(BoardReport::new("SlotPresented").is_some());
        assert!(PlantCommand::new("LockCoil").is_some());
        assert!(HostCommand::new("UnlockDoor").is_some());
        assert!(BoardReport::new("UnlockDoor").is_none(), "a host command is no board report");
    }
}
