//! Events: every change of the controller's state, and every fact worth auditing, is one.
//!
//! The journal stores events as hash-chained [`crate::audit::Record`]s; replaying them rebuilds
//! the [`crate::registry::Registry`] (contracts, keys, who holds what). No event carries a PIN
//! or a return code: PINs appear only as [`crate::model::PinDigest`]s.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::alerts::Alert;
use crate::ids::*;
use crate::model::*;
use crate::verify::Signature;
use firmware_proto::types::{MotorFault, TagId};

/// A camera capture, by the id the controller gave its request.
pub type ImageRef = u64;

/// The photos of one take or return.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Images {
    /// Front camera, at PIN entry.
    pub user: Option<ImageRef>,
    /// Internal camera, the slot before the door opened.
    pub before: Option<ImageRef>,
    /// Internal camera, the slot after the door closed.
    pub after: Option<ImageRef>,
}

/// How a return was checked.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// The tag read at the window, if the reader answered.
    pub tag: Option<TagId>,
    /// Whether the tag reader answered at all.
    pub tag_reader_ok: bool,
    /// Distance of the after image from the key's reference (see [`crate::verify`]).
    pub image_distance: Option<f32>,
    /// The verdict.
    pub verdict: Verdict,
}

/// The verdict on what hangs in a slot after a return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Tag and image agree it is the expected key (or one agrees and the other is unavailable).
    Match,
    /// Tag or image says it is another key or object.
    Mismatch,
    /// Neither tag nor image could judge (both failed); accepted, with an alert.
    Unverified,
}

/// A fact from a board, for the audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BoardFact {
    /// The door opened while locked.
    DoorForced,
    /// A secured command was refused (forged or replayed).
    CommandRefused,
    /// The case tamper switch opened.
    CaseOpened,
    /// A drive fault.
    Motor(MotorFault),
    /// Mains lost.
    MainsLost,
    /// Mains back.
    MainsRestored,
    /// The board restarted.
    Rebooted,
}

/// Why a code typed at an automat opened nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// No contract here has this code (or it is no code): counts towards the lockout.
    WrongCode,
    /// The keypad is locked after too many wrong codes.
    LockedOut,
    /// The contract has not started yet.
    NotStarted,
    /// The contract has ended.
    Ended,
    /// The contract's access schedule does not allow this time.
    OutsideSchedule,
    /// The contract was revoked.
    Revoked,
    /// The contract's key is out with another holder.
    KeyHeldElsewhere,
    /// The code is another automat's and its key is out: to be returned there (no roaming).
    ReturnElsewhere,
    /// A return code whose key's slot is occupied.
    SlotOccupied,
    /// The contract allows nothing here now (its keys are stored elsewhere, or none is due).
    NothingDue,
}

impl Refusal {
    /// Every reason, in declaration order.
    pub const ALL: [Refusal; 10] = [
        Refusal::WrongCode,
        Refusal::LockedOut,
        Refusal::NotStarted,
        Refusal::Ended,
        Refusal::OutsideSchedule,
        Refusal::Revoked,
        Refusal::KeyHeldElsewhere,
        Refusal::ReturnElsewhere,
        Refusal::SlotOccupied,
        Refusal::NothingDue,
    ];

    /// Every reason's name, as traces and scenario files spell it.
    pub const NAMES: [&'static str; 10] = {
        let mut names = [""; 10];
        let mut i = 0;
        while i < names.len() {
            names[i] = Refusal::ALL[i].name();
            i += 1;
        }
        names
    };

    /// The reason's name (its variant).
    pub const fn name(self) -> &'static str {
        match self {
            Refusal::WrongCode => "WrongCode",
            Refusal::LockedOut => "LockedOut",
            Refusal::NotStarted => "NotStarted",
            Refusal::Ended => "Ended",
            Refusal::OutsideSchedule => "OutsideSchedule",
            Refusal::Revoked => "Revoked",
            Refusal::KeyHeldElsewhere => "KeyHeldElsewhere",
            Refusal::ReturnElsewhere => "ReturnElsewhere",
            Refusal::SlotOccupied => "SlotOccupied",
            Refusal::NothingDue => "NothingDue",
        }
    }
}

/// One event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// An automat joined the fleet.
    AutomatAdded(Automat),
    /// A contact was added.
    ContactAdded(Contact),
    /// A key was enrolled into its storage.
    KeyEnrolled(Key),
    /// A key's reference image was (re)taken.
    KeyReferenceSet {
        /// The key.
        key: KeyId,
        /// Its signature.
        reference: Signature,
    },
    /// A device group was defined.
    DeviceGroupAdded(DeviceGroup),
    /// A key contract was created, with the locker contracts for its keys' slots.
    ContractCreated {
        /// The contract.
        contract: KeyContract,
        /// Its locker contracts.
        lockers: Vec<LockerContract>,
    },
    /// A key contract was changed.
    ContractUpdated(KeyContract),
    /// A key contract and its locker contracts were deleted.
    ContractDeleted(ContractId),
    /// A contract got a new PIN.
    PinRegenerated {
        /// The contract.
        contract: ContractId,
        /// The new PIN's digest.
        pin: PinDigest,
    },
    /// Every contract of a contact was revoked.
    ContactRevoked {
        /// The contact.
        contact: ContactId,
        /// The contracts revoked.
        contracts: Vec<ContractId>,
    },
    /// A locker contract was created on its own.
    LockerContractCreated(LockerContract),
    /// A key was taken out of its slot under a contract.
    KeyFetched {
        /// The key.
        key: KeyId,
        /// The contract.
        contract: ContractId,
        /// Where from.
        automat: AutomatId,
        /// Which slot.
        slot: Slot,
        /// The photos.
        images: Images,
    },
    /// A key was returned into a slot (its own, or the nearest free one, which becomes its own).
    KeyReturned {
        /// The key.
        key: KeyId,
        /// The contract it was held under (`None` when returned by return code).
        contract: Option<ContractId>,
        /// Where.
        automat: AutomatId,
        /// Which slot.
        slot: Slot,
        /// How it was checked.
        check: Verification,
        /// The photos.
        images: Images,
    },
    /// Something other than the expected key was left in a slot.
    WrongItemLeft {
        /// Where.
        automat: AutomatId,
        /// Which slot.
        slot: Slot,
        /// The key that should have come back.
        expected: KeyId,
        /// The key identified by its tag, if any (it now lives in this slot).
        found: Option<KeyId>,
        /// How it was checked.
        check: Verification,
        /// The photos.
        images: Images,
    },
    /// A user's PIN opened a session.
    SessionOpened {
        /// Where.
        automat: AutomatId,
        /// The contracts the PIN matched.
        contracts: Vec<ContractId>,
        /// The front camera photo.
        photo: Option<ImageRef>,
    },
    /// A return code opened a return.
    ReturnCodeUsed {
        /// Where.
        automat: AutomatId,
        /// The key it returns.
        key: KeyId,
        /// The front camera photo.
        photo: Option<ImageRef>,
    },
    /// A session ended.
    SessionClosed {
        /// Where.
        automat: AutomatId,
    },
    /// A PIN or return code opened nothing. The code itself is never recorded.
    CodeRefused {
        /// Where.
        automat: AutomatId,
        /// Why.
        reason: Refusal,
        /// The contracts the code belongs to (none for a wrong code): whose code was tried.
        contracts: Vec<ContractId>,
        /// Wrong codes in a row so far (only wrong codes count towards the lockout).
        attempts: u8,
        /// The front camera photo.
        photo: Option<ImageRef>,
    },
    /// The keypad was locked after too many wrong entries.
    Lockout {
        /// Where.
        automat: AutomatId,
        /// Until when.
        #[serde(with = "crate::serde_ts::us")]
        until: Timestamp,
    },
    /// An alert was raised.
    AlertRaised(Alert),
    /// An alert was cleared.
    AlertCleared {
        /// Which.
        alert: AlertId,
    },
    /// A board reported something worth keeping.
    Board {
        /// Which automat.
        automat: AutomatId,
        /// What.
        fact: BoardFact,
    },
    /// The controller started (after a power-up), having replayed this many records.
    ControllerStarted {
        /// Records replayed from the journal.
        replayed: u64,
    },
}

impl Event {
    /// Every event's name, as traces and scenario files spell it (scenario files are checked
    /// against it: keep it in step with [`Event::name`], whose match is exhaustive).
    pub const NAMES: &'static [&'static str] = &[
        "AutomatAdded",
        "ContactAdded",
        "KeyEnrolled",
        "KeyReferenceSet",
        "DeviceGroupAdded",
        "ContractCreated",
        "ContractUpdated",
        "ContractDeleted",
        "PinRegenerated",
        "ContactRevoked",
        "LockerContractCreated",
        "KeyFetched",
        "KeyReturned",
        "WrongItemLeft",
        "SessionOpened",
        "ReturnCodeUsed",
        "SessionClosed",
        "CodeRefused",
        "Lockout",
        "AlertRaised",
        "AlertCleared",
        "Board",
        "ControllerStarted",
    ];

    /// The event's name (its variant), one of [`Event::NAMES`].
    pub fn name(&self) -> &'static str {
        match self {
            Event::AutomatAdded(..) => "AutomatAdded",
            Event::ContactAdded(..) => "ContactAdded",
            Event::KeyEnrolled(..) => "KeyEnrolled",
            Event::KeyReferenceSet { .. } => "KeyReferenceSet",
            Event::DeviceGroupAdded(..) => "DeviceGroupAdded",
            Event::ContractCreated { .. } => "ContractCreated",
            Event::ContractUpdated(..) => "ContractUpdated",
            Event::ContractDeleted(..) => "ContractDeleted",
            Event::PinRegenerated { .. } => "PinRegenerated",
            Event::ContactRevoked { .. } => "ContactRevoked",
            Event::LockerContractCreated(..) => "LockerContractCreated",
            Event::KeyFetched { .. } => "KeyFetched",
            Event::KeyReturned { .. } => "KeyReturned",
            Event::WrongItemLeft { .. } => "WrongItemLeft",
            Event::SessionOpened { .. } => "SessionOpened",
            Event::ReturnCodeUsed { .. } => "ReturnCodeUsed",
            Event::SessionClosed { .. } => "SessionClosed",
            Event::CodeRefused { .. } => "CodeRefused",
            Event::Lockout { .. } => "Lockout",
            Event::AlertRaised(..) => "AlertRaised",
            Event::AlertCleared { .. } => "AlertCleared",
            Event::Board { .. } => "Board",
            Event::ControllerStarted { .. } => "ControllerStarted",
        }
    }
}
