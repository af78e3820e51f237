//! Alerts: what the controller tells the people who run the automats.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::event::Images;
use crate::ids::*;

/// What an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AlertKind {
    /// A key was not back by its contract's end plus grace, or by its daily deadline.
    Overdue,
    /// The door stayed open longer than allowed.
    DoorHeldOpen,
    /// The door opened while locked.
    DoorForced,
    /// Something other than the expected key was left in a slot (an incident, with photos).
    WrongKey,
    /// A fetch contract ended without its key being taken.
    KeyNotFetched,
    /// The carousel drive failed (stall, homing).
    MotorFault,
    /// Mains power was lost.
    PowerLoss,
    /// A contact's contracts were revoked while one of their keys is out.
    RevokedKeyOut,
    /// Too many wrong codes: the keypad is locked.
    Lockout,
    /// The board refused a forged or replayed command, or its case was opened.
    Tamper,
    /// A user came for a shared key that another holder has out.
    SharedKeyOut,
    /// A return could be judged by neither tag nor camera; it was accepted unverified.
    VerificationUnavailable,
    /// The link to a board is down.
    BoardOffline,
    /// A slot does not hold what the record says: found by the check of the slots of a
    /// session that a power cut interrupted (a key taken or hung while the power was out).
    SlotMismatch,
}

impl AlertKind {
    /// Whether it is a fault of the automat itself (lights its Fault indicator) rather than
    /// about a key or a person.
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            AlertKind::MotorFault
                | AlertKind::PowerLoss
                | AlertKind::Tamper
                | AlertKind::DoorForced
                | AlertKind::DoorHeldOpen
                | AlertKind::SlotMismatch
        )
    }

    /// Every kind.
    pub const ALL: [AlertKind; 14] = [
        AlertKind::Overdue,
        AlertKind::DoorHeldOpen,
        AlertKind::DoorForced,
        AlertKind::WrongKey,
        AlertKind::KeyNotFetched,
        AlertKind::MotorFault,
        AlertKind::PowerLoss,
        AlertKind::RevokedKeyOut,
        AlertKind::Lockout,
        AlertKind::Tamper,
        AlertKind::SharedKeyOut,
        AlertKind::VerificationUnavailable,
        AlertKind::BoardOffline,
        AlertKind::SlotMismatch,
    ];

    /// The kind's name as scenario files and reports spell it.
    pub const fn name(self) -> &'static str {
        match self {
            AlertKind::Overdue => "Overdue",
            AlertKind::DoorHeldOpen => "DoorHeldOpen",
            AlertKind::DoorForced => "DoorForced",
            AlertKind::WrongKey => "WrongKey",
            AlertKind::KeyNotFetched => "KeyNotFetched",
            AlertKind::MotorFault => "MotorFault",
            AlertKind::PowerLoss => "PowerLoss",
            AlertKind::RevokedKeyOut => "RevokedKeyOut",
            AlertKind::Lockout => "Lockout",
            AlertKind::Tamper => "Tamper",
            AlertKind::SharedKeyOut => "SharedKeyOut",
            AlertKind::VerificationUnavailable => "VerificationUnavailable",
            AlertKind::BoardOffline => "BoardOffline",
            AlertKind::SlotMismatch => "SlotMismatch",
        }
    }
}

/// One alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Its id.
    pub id: AlertId,
    /// What it is about.
    pub kind: AlertKind,
    /// When it was raised.
    #[serde(with = "crate::serde_ts::us")]
    pub raised_at: Timestamp,
    /// The automat concerned.
    pub automat: Option<AutomatId>,
    /// The key concerned.
    pub key: Option<KeyId>,
    /// The contract concerned.
    pub contract: Option<ContractId>,
    /// For a wrong key: the key found, if identified.
    pub found: Option<KeyId>,
    /// Photos: the user, and the slot before and after.
    pub images: Images,
    /// A line for people.
    pub detail: String,
}
