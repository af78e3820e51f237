//! The typed payloads of trace events: what crossed a link, what a link noted, the scenario's
//! plant changes and API calls, and the words (`host`, `down`, `ok` …) spelt the same in code
//! and on disk.

use firmware_proto::host::{BoardToHost, HostToBoard};
use firmware_proto::message::Message as _;
use firmware_proto::plant::{BoardToPlant, PlantToBoard};
use serde::{Deserialize, Serialize};

use super::tagged;

/// Which link of an automat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// Controller ↔ board.
    Host,
    /// Board ↔ plant (motors, door, sensors).
    Plant,
}

/// Which way something went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dir {
    /// From the controller towards the plant.
    Down,
    /// From the plant towards the controller.
    Up,
}

/// What a capture gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureResult {
    /// A picture.
    Ok,
    /// No picture (the camera failed).
    Fail,
    /// An all-black picture.
    Black,
}

impl std::fmt::Display for CaptureResult {
    /// As the trace spells it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CaptureResult::Ok => "ok",
            CaptureResult::Fail => "fail",
            CaptureResult::Black => "black",
        })
    }
}

/// A protocol message, with the link and direction it crossed (which fix its type).
#[derive(Clone, Debug, PartialEq)]
pub enum LinkMessage {
    /// Controller → board.
    HostDown(HostToBoard),
    /// Board → controller.
    HostUp(BoardToHost),
    /// Board → plant.
    PlantDown(BoardToPlant),
    /// Plant → board.
    PlantUp(PlantToBoard),
}

impl LinkMessage {
    /// The link it crossed.
    pub fn link(&self) -> Link {
        match self {
            LinkMessage::HostDown(_) | LinkMessage::HostUp(_) => Link::Host,
            LinkMessage::PlantDown(_) | LinkMessage::PlantUp(_) => Link::Plant,
        }
    }

    /// The way it went.
    pub fn dir(&self) -> Dir {
        match self {
            LinkMessage::HostDown(_) | LinkMessage::PlantDown(_) => Dir::Down,
            LinkMessage::HostUp(_) | LinkMessage::PlantUp(_) => Dir::Up,
        }
    }

    /// The message as the trace writes it, its `kind` inside.
    pub fn tagged(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            LinkMessage::HostDown(m) => tagged::to_tagged(m, "kind"),
            LinkMessage::HostUp(m) => tagged::to_tagged(m, "kind"),
            LinkMessage::PlantDown(m) => tagged::to_tagged(m, "kind"),
            LinkMessage::PlantUp(m) => tagged::to_tagged(m, "kind"),
        }
    }

    /// The message's name (`SlotPresented`).
    pub fn name(&self) -> &'static str {
        match self {
            LinkMessage::HostDown(m) => m.name(),
            LinkMessage::HostUp(m) => m.name(),
            LinkMessage::PlantDown(m) => m.name(),
            LinkMessage::PlantUp(m) => m.name(),
        }
    }
}

/// How a [`LinkMessage`] is written: `link`, `dir` and the message with its `kind` inside.
#[derive(Serialize, Deserialize)]
struct LinkMessageFields {
    link: Link,
    dir: Dir,
    message: serde_json::Value,
}

impl Serialize for LinkMessage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let message = self.tagged().map_err(serde::ser::Error::custom)?;
        LinkMessageFields { link: self.link(), dir: self.dir(), message }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for LinkMessage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use tagged::from_tagged as read;
        let LinkMessageFields { link, dir, message } = LinkMessageFields::deserialize(d)?;
        match (link, dir) {
            (Link::Host, Dir::Down) => read(message, "kind").map(LinkMessage::HostDown),
            (Link::Host, Dir::Up) => read(message, "kind").map(LinkMessage::HostUp),
            (Link::Plant, Dir::Down) => read(message, "kind").map(LinkMessage::PlantDown),
            (Link::Plant, Dir::Up) => read(message, "kind").map(LinkMessage::PlantUp),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// Something on a link other than a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum LinkNote {
    /// The link came up (both ends authenticated).
    Up,
    /// The link went down (heartbeats stopped).
    Down,
    /// The other end restarted (its session counter began again).
    PeerRestarted,
    /// A frame of a message kind this end does not know.
    UnknownKind {
        /// The kind byte.
        message_kind: u8,
    },
    /// A frame whose message could not be decoded.
    Malformed {
        /// Why.
        error: String,
    },
    /// This end could not send a message.
    SendRefused {
        /// Which end: `controller` or `board`.
        end: String,
        /// Why.
        error: String,
    },
    /// A message's frame was kept for a later replay.
    FrameCaptured {
        /// The name the scenario gave it.
        name: String,
        /// Its length.
        bytes: usize,
    },
    /// A forged message was put on the line.
    Injected {
        /// The message.
        #[serde(with = "tagged::kind")]
        message: HostToBoard,
    },
    /// A kept frame was sent again.
    Replayed {
        /// Its length.
        bytes: usize,
    },
    /// A kept frame could not be sent again.
    ReplayRefused {
        /// Why.
        error: String,
    },
    /// Raw bytes were put on the line.
    InjectedBytes {
        /// How many.
        bytes: usize,
    },
    /// The serial port failed (HIL runs).
    Port {
        /// Why.
        error: String,
    },
    /// The serial port was opened again (HIL runs).
    PortReopened,
    /// A rig's hook ran (HIL runs): `power_off`, `power_on` or `reset`.
    Hook {
        /// Which hook.
        hook: String,
        /// The shell command.
        command: String,
        /// `exit 0`, `exit 1`, `killed by a signal`, or why it could not start.
        status: String,
        /// What it printed (standard output, then standard error), at most 4 KiB.
        output: String,
    },
}

/// A change of the plant the scenario made (not the board).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum PlantChange {
    /// Every automat's supply is cut.
    PowerCut,
    /// The supply is back.
    PowerRestored,
}

/// An API call the scenario made, by the scenario's names and ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum ApiCall {
    /// Setup: an automat joins the fleet.
    AddAutomat {
        /// Its id.
        automat: u32,
    },
    /// Setup: a contact.
    AddContact {
        /// Its id.
        contact: u32,
    },
    /// Setup: a key is enrolled.
    EnrolKey {
        /// Its id.
        key: u32,
    },
    /// Setup: a key's reference image.
    ReferenceKey {
        /// Its id.
        key: u32,
    },
    /// Setup: a device group.
    AddGroup {
        /// Its id.
        group: u32,
    },
    /// A contract (its PIN is never written).
    CreateContract {
        /// The scenario's name for it.
        name: String,
    },
    /// A contract is deleted.
    DeleteContract {
        /// The scenario's name for it.
        name: String,
    },
    /// Every contract of a contact is revoked.
    RevokeContact {
        /// The contact.
        contact: u32,
    },
    /// A contract gets a new PIN (never written).
    RegeneratePin {
        /// The scenario's name for it.
        name: String,
    },
    /// A reservation (a contract at whichever automat has the key).
    Reservation {
        /// The scenario's name for it.
        name: String,
    },
}

/// What an [`ApiCall`] gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum ApiResult {
    /// Done.
    Ok {
        /// The contract it created, if it made one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contract: Option<u32>,
        /// The contracts it touched (a revocation's).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        contracts: Vec<u32>,
        /// The automat it chose (a reservation's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        automat: Option<u32>,
    },
    /// Refused by the controller.
    Error {
        /// The controller's message.
        message: String,
    },
    /// The controller was down (power cut).
    Unavailable,
}

impl ApiResult {
    /// Done, with nothing to say.
    pub const DONE: ApiResult = ApiResult::Ok { contract: None, contracts: Vec::new(), automat: None };

    /// Done: it created contract `id`.
    pub fn contract(id: u32) -> ApiResult {
        ApiResult::Ok { contract: Some(id), contracts: Vec::new(), automat: None }
    }
}

impl std::fmt::Display for ApiCall {
    /// As a person would say it (`create contract "alice-van"`): in problems and the replay.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiCall::AddAutomat { automat } => write!(f, "add automat {automat}"),
            ApiCall::AddContact { contact } => write!(f, "add contact {contact}"),
            ApiCall::EnrolKey { key } => write!(f, "enrol key {key}"),
            ApiCall::ReferenceKey { key } => write!(f, "reference key {key}"),
            ApiCall::AddGroup { group } => write!(f, "add group {group}"),
            ApiCall::CreateContract { name } => write!(f, "create contract {name:?}"),
            ApiCall::DeleteContract { name } => write!(f, "delete contract {name:?}"),
            ApiCall::RevokeContact { contact } => write!(f, "revoke contact {contact}"),
            ApiCall::RegeneratePin { name } => write!(f, "regenerate PIN {name:?}"),
            ApiCall::Reservation { name } => write!(f, "reservation {name:?}"),
        }
    }
}
