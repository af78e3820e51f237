//! The host link: controller ⇄ board.
//!
//! The controller sends [`HostToBoard`] commands; the board answers and reports with
//! [`BoardToHost`]. `PresentSlot` and `UnlockDoor` carry an [`Auth`] (see [`crate::auth`]).
//! The wire kind of each message is its position in the enum, starting at 0; PROTOCOL.md lists
//! them. New kinds are only ever appended.

use alloc::string::String;
use serde::{Deserialize, Serialize};

#[cfg(test)]
use proptest_derive::Arbitrary;

use crate::message::message_set;
use crate::types::*;

/// Length of a truncated command MAC, in bytes.
pub const MAC_LEN: usize = 16;

/// Longest display text, in bytes of UTF-8.
pub const MAX_TEXT: usize = 64;

/// The authentication a secured command carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub struct Auth {
    /// Strictly greater than every counter the board accepted before.
    pub counter: u32,
    /// HMAC-SHA256 over the command and counter, first [`MAC_LEN`] bytes.
    pub mac: [u8; MAC_LEN],
}

/// Controller → board.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub enum HostToBoard {
    /// Kind 0. Opens a session: the board answers with its [`BoardToHost::Hello`].
    Hello {
        /// The host's protocol version ([`crate::frame::PROTOCOL_VERSION`]).
        protocol: u16,
        /// Random bytes the board proves it holds the pairing key over.
        challenge: [u8; 16],
    },
    /// Kind 1. Find the home sensor and set the origin; answered by `Homed` or `MotorFault`.
    Home,
    /// Kind 2. Turn the carousel the shorter way until `slot` is at the window; answered by
    /// `SlotPresented`, `PresentFailed` or `Rejected`.
    PresentSlot {
        /// Slot number, `0..slot_count`.
        slot: u8,
        /// MAC over (PresentSlot, slot, counter).
        auth: Auth,
    },
    /// Kind 3. Release the latch for `window_ms`; answered by `DoorUnlocked`, then `DoorOpened`
    /// or `UnlockExpired`.
    UnlockDoor {
        /// How long the latch stays released if the door is not opened, 1..=120000 ms.
        window_ms: u32,
        /// MAC over (UnlockDoor, window_ms, counter).
        auth: Auth,
    },
    /// Kind 4. Re-engage the latch now.
    LockDoor,
    /// Kind 5. Read the tag at the window; answered by `TagRead`.
    ReadTag,
    /// Kind 6. Answered by `Status`.
    Status,
    /// Kind 7. Drive an indicator.
    SetIndicator {
        /// Which one.
        indicator: Indicator,
        /// How.
        mode: IndicatorMode,
    },
    /// Kind 8. Show a line on the board's display (at most [`MAX_TEXT`] bytes; longer is cut).
    ShowText {
        /// The text.
        #[cfg_attr(test, proptest(strategy = "\"[ -~]{0,64}\""))]
        text: String,
    },
    /// Kind 9. Answered at once by `Pong` with the same nonce (latency probes).
    Ping {
        /// Echoed back.
        nonce: u32,
    },
}

message_set!(HostToBoard {
    Hello,
    Home,
    PresentSlot,
    UnlockDoor,
    LockDoor,
    ReadTag,
    Status,
    SetIndicator,
    ShowText,
    Ping
});

/// Board → controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub enum BoardToHost {
    /// Kind 0. The answer to the host's `Hello`.
    Hello {
        /// The board's protocol version.
        protocol: u16,
        /// Unique per board; part of every MAC input.
        board_id: u32,
        /// The firmware's version.
        firmware: FirmwareVersion,
        /// Slots on the carousel.
        slot_count: u8,
        /// What the board has.
        capabilities: Capabilities,
        /// The last accepted secured-command counter; the host continues above it.
        last_counter: u32,
        /// HMAC-SHA256 over the challenge with the pairing key, first 16 bytes.
        proof: [u8; MAC_LEN],
    },
    /// Kind 1. Sent once after every reset, before anything else.
    Booted {
        /// Why.
        cause: ResetCause,
    },
    /// Kind 2. Homing succeeded; `slot` is at the window.
    Homed {
        /// The slot at the window.
        slot: u8,
    },
    /// Kind 3. `slot` is at the window, at rest.
    SlotPresented {
        /// The slot.
        slot: u8,
        /// Whether the occupancy sensor sees a key on its hook.
        occupied: bool,
    },
    /// Kind 4. A `PresentSlot` could not be completed (after the re-home retry).
    PresentFailed {
        /// The slot asked for.
        slot: u8,
        /// What went wrong.
        fault: MotorFault,
    },
    /// Kind 5. The latch is released.
    DoorUnlocked {
        /// For how long, unless the door is opened.
        window_ms: u32,
    },
    /// Kind 6. The door switch opened after an unlock.
    DoorOpened,
    /// Kind 7. The door switch closed; the latch holds it.
    DoorClosed,
    /// Kind 8. The unlock window passed without the door opening; re-locked.
    UnlockExpired,
    /// Kind 9. The door switch opened while locked.
    DoorForced,
    /// Kind 10. The answer to `ReadTag`.
    TagRead {
        /// The slot at the window, if at rest.
        slot: Option<u8>,
        /// The tag read, `None` when nothing answered.
        tag: Option<TagId>,
    },
    /// Kind 11. The window's occupancy changed while at rest (a key taken or hung).
    Occupancy {
        /// The slot at the window.
        slot: u8,
        /// Whether a key hangs there now.
        occupied: bool,
    },
    /// Kind 12. A drive fault outside a `PresentSlot` (during `Home`, or a stall being retried).
    MotorFault {
        /// What happened.
        fault: MotorFault,
    },
    /// Kind 13. A tamper event; secured commands refused for a bad MAC or a replay land here.
    Tamper {
        /// What tripped.
        source: TamperSource,
    },
    /// Kind 14. A supply change.
    Power {
        /// What changed.
        event: PowerEvent,
        /// Battery voltage, millivolts.
        battery_mv: u16,
    },
    /// Kind 15. Sent every heartbeat interval (2 s).
    Heartbeat {
        /// Milliseconds since boot.
        uptime_ms: u64,
    },
    /// Kind 16. The answer to `Status`.
    Status(BoardStatus),
    /// Kind 17. The answer to `Ping`.
    Pong {
        /// The ping's nonce.
        nonce: u32,
    },
    /// Kind 18. A command was refused for the reason given (not for security: see `Tamper`).
    Rejected {
        /// The refused command's kind.
        command: u8,
        /// Why.
        reason: Rejection,
    },
}

message_set!(BoardToHost {
    Hello,
    Booted,
    Homed,
    SlotPresented,
    PresentFailed,
    DoorUnlocked,
    DoorOpened,
    DoorClosed,
    UnlockExpired,
    DoorForced,
    TagRead,
    Occupancy,
    MotorFault,
    Tamper,
    Power,
    Heartbeat,
    Status,
    Pong,
    Rejected
});
