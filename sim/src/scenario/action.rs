//! What happens in a scenario: the timeline's steps (what people do, faults, line attacks,
//! API calls) and the small types they use.

use serde::{Deserialize, Serialize};

use super::names::HostCommand;
use super::{ContractSpec, Offset, ReservationSpec};
use crate::plant::{CameraFault, LatchFault};
use crate::wire::LineConfig;

/// A code typed at the keypad.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Code {
    /// A PIN as typed.
    Pin(String),
    /// The PIN of a contract created by this scenario.
    ContractPin(String),
    /// `*` and a return code.
    ReturnCode(String),
}

/// Something a user can hang on a hook.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum ItemRef {
    /// A fleet key (the user must hold it).
    Key(u32),
    /// A foreign item the user carries, by name.
    Item(String),
}

/// What a user does when the automat says the key is wrong.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum OnWrong {
    /// Takes the wrong item back out when asked.
    #[default]
    TakeBack,
    /// Walks away.
    Leave,
}

/// Which camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum CameraSpec {
    /// The front camera.
    Front,
    /// The internal camera.
    Internal,
}

/// A tag reader fault.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum TagFaultSpec {
    /// Works.
    Ok,
    /// Never answers.
    NoRead,
    /// Always answers this tag (hex).
    WrongRead(String),
}

/// What a secret is written as wherever a scenario's action is shown (the trace, reports).
pub const MASK: &str = "••••";

impl Code {
    /// The code with its digits masked (a contract's name is no secret).
    pub fn redacted(&self) -> Code {
        match self {
            Code::Pin(_) => Code::Pin(MASK.into()),
            Code::ContractPin(name) => Code::ContractPin(name.clone()),
            Code::ReturnCode(_) => Code::ReturnCode(MASK.into()),
        }
    }
}

impl Action {
    /// The action as the trace writes it: every code, PIN and typed digit masked with [`MASK`]
    /// (one `•` per digit typed: the keys a person sees pressed, never which).
    pub fn redacted(&self) -> Action {
        let mut a = self.clone();
        match &mut a {
            Action::Take { code, .. } | Action::Return { code, .. } => *code = code.redacted(),
            Action::Press { keys, .. } => {
                *keys = keys.chars().map(|c| if c.is_ascii_digit() { '•' } else { c }).collect();
            }
            Action::CreateContract(spec) => {
                if let Some(pin) = &mut spec.pin {
                    MASK.clone_into(pin);
                }
            }
            _ => {}
        }
        a
    }
}

/// One thing that happens.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum Action {
    // ---- users ----
    /// Types the code and takes every key presented, until the automat stops presenting.
    Take {
        /// Who.
        user: String,
        /// With what.
        code: Code,
    },
    /// Types the code and hangs `item` in the presented slot; when told it is wrong, reacts as
    /// `on_wrong` says, then hangs `then` if given.
    Return {
        /// Who.
        user: String,
        /// With what.
        code: Code,
        /// What they hang.
        item: ItemRef,
        /// When told it is wrong.
        #[serde(default)]
        on_wrong: OnWrong,
        /// What they hang after taking a wrong item back.
        #[serde(default)]
        then: Option<ItemRef>,
    },
    /// Types keys (`0`–`9`, `*`, `#` for Enter, `C` to clear) without doing anything else.
    Press {
        /// Who.
        user: String,
        /// The keys.
        keys: String,
    },
    /// Opens the door (only if released); `force: true` breaks it open.
    OpenDoor {
        /// Who.
        user: String,
        /// Break it open.
        #[serde(default)]
        force: bool,
    },
    /// Closes the door.
    CloseDoor {
        /// Who.
        user: String,
    },
    /// Takes what hangs at the window (door open), if their own code opened the session:
    /// nobody takes a key presented for someone else unless they grab it.
    TakeKey {
        /// Who.
        user: String,
    },
    /// Takes whatever hangs at the window, whoever's session it is (a theft).
    Grab {
        /// Who.
        user: String,
    },
    /// Hands a fleet key from one user to another.
    Give {
        /// Who gives.
        from: String,
        /// Who gets.
        to: String,
        /// The key.
        key: u32,
    },
    /// Hangs an item at the window (door open).
    Hang {
        /// Who.
        user: String,
        /// What.
        item: ItemRef,
    },
    // ---- faults ----
    /// Jams the carousel (for a while, or until `ClearStall`).
    Stall {
        /// Which automat.
        automat: u32,
        /// How long (default: until cleared).
        #[serde(default, rename = "for")]
        duration: Option<Offset>,
    },
    /// Frees a jam.
    ClearStall {
        /// Which automat.
        automat: u32,
    },
    /// Makes the next move lose steps.
    LoseSteps {
        /// Which automat.
        automat: u32,
        /// How many counts.
        counts: u32,
    },
    /// Encoder readings off by up to this many counts.
    EncoderNoise {
        /// Which automat.
        automat: u32,
        /// Amplitude.
        counts: u32,
    },
    /// A latch fault.
    Latch {
        /// Which automat.
        automat: u32,
        /// The fault.
        fault: LatchFault,
    },
    /// A tag reader fault.
    TagReader {
        /// Which automat.
        automat: u32,
        /// The fault.
        fault: TagFaultSpec,
    },
    /// A camera fault.
    Camera {
        /// Which automat.
        automat: u32,
        /// Which camera.
        camera: CameraSpec,
        /// The fault.
        fault: CameraFault,
    },
    /// The site loses power; the controller's journal keeps what it synced plus
    /// `survive_bytes` of what it had not.
    PowerCut {
        /// Unsynced bytes that reach the disk anyway.
        #[serde(default)]
        survive_bytes: u32,
    },
    /// Power is back: boards boot, the controller recovers from its journal.
    PowerRestore,
    /// Mains lost or back at an automat (the board runs on battery).
    Mains {
        /// Which automat.
        automat: u32,
        /// Present.
        on: bool,
    },
    /// The case tamper switch opens.
    Tamper {
        /// Which automat.
        automat: u32,
    },
    /// The host line of an automat changes behaviour.
    HostLine {
        /// Which automat.
        automat: u32,
        /// The new behaviour.
        line: LineConfig,
    },
    /// The host line of an automat drops everything for a while.
    DropHostLine {
        /// Which automat.
        automat: u32,
        /// How long.
        #[serde(rename = "for")]
        duration: Offset,
    },
    /// An attacker writes a frame with a forged `UnlockDoor` onto the host line.
    InjectForgedUnlock {
        /// Which automat.
        automat: u32,
    },
    /// An attacker on the host line records the next message of this kind that the controller
    /// sends the board, as `name`.
    CaptureFrame {
        /// Which automat's line.
        automat: u32,
        /// A handle for `ReplayFrame`.
        name: String,
        /// The host command to capture (`"UnlockDoor"`, `"PresentSlot"`).
        #[serde(rename = "match")]
        message: HostCommand,
    },
    /// The attacker sends a captured message again, byte for byte (framed as the line's next
    /// frame: the link layer is not authenticated).
    ReplayFrame {
        /// Which automat's line.
        automat: u32,
        /// The capture's handle.
        name: String,
    },
    /// The attacker writes raw bytes (hex) onto the host line towards the board.
    InjectBytes {
        /// Which automat's line.
        automat: u32,
        /// The bytes, as hex (`"00ff12"`).
        hex: String,
    },
    // ---- API ----
    /// Creates a contract.
    CreateContract(ContractSpec),
    /// Deletes a contract; `expect_error` as for creation.
    DeleteContract {
        /// Its handle.
        name: String,
        /// The refusal expected.
        #[serde(default)]
        expect_error: Option<String>,
    },
    /// Revokes every contract of a contact.
    RevokeContact {
        /// The contact.
        contact: u32,
    },
    /// Gives a contract a new PIN.
    RegeneratePin {
        /// Its handle.
        name: String,
    },
    /// Pushes a reservation.
    Reservation(ReservationSpec),
}

/// A timeline entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// When, from the scenario's start.
    pub at: Offset,
    /// What.
    #[serde(rename = "do")]
    pub action: Action,
}
