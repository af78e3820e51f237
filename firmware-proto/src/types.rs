//! Small value types shared by the host-link and plant-link messages.

use serde::{Deserialize, Serialize};

#[cfg(test)]
use proptest_derive::Arbitrary;

/// A key tag's identifier as the reader reports it: up to 8 bytes of UID, big-endian in a `u64`
/// (a 4-byte MIFARE UID `04A1B2C3` is `TagId(0x04A1_B2C3)`). Shown as hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub struct TagId(pub u64);

impl core::fmt::Display for TagId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:08X}", self.0)
    }
}

/// A firmware's semantic version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub struct FirmwareVersion {
    /// Incompatible changes.
    pub major: u8,
    /// Added features.
    pub minor: u8,
    /// Fixes.
    pub patch: u8,
}

impl core::fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What a board has, as bit flags in its hello.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub struct Capabilities(pub u32);

impl Capabilities {
    /// Runs on the harness's clock (plant-link `ClockTick`/`ClockJump`) when asked to.
    pub const LOCKSTEP_CLOCK: u32 = 1 << 0;
    /// Has a tag reader at the window.
    pub const TAG_READER: u32 = 1 << 1;
    /// Has an occupancy sensor at the window.
    pub const OCCUPANCY: u32 = 1 << 2;
    /// Drives indicator LEDs.
    pub const INDICATORS: u32 = 1 << 3;
    /// Drives a text display.
    pub const DISPLAY: u32 = 1 << 4;
    /// Has a case tamper switch.
    pub const TAMPER_SWITCH: u32 = 1 << 5;
    /// Monitors mains and battery.
    pub const POWER_MONITOR: u32 = 1 << 6;
    /// Everything the reference firmware has.
    pub const REFERENCE: Capabilities = Capabilities(0x7F);

    /// Whether every bit of `bits` is set.
    pub const fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }
}

/// An indicator LED on the front panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub enum Indicator {
    /// Green: ready for a user.
    Ready,
    /// Amber: working (rotating, verifying).
    Busy,
    /// Red: fault or refusal.
    Fault,
    /// The light around the presentation window.
    Window,
}

impl Indicator {
    /// Every indicator, in the order of their kinds.
    pub const ALL: [Indicator; 4] = [Indicator::Ready, Indicator::Busy, Indicator::Fault, Indicator::Window];

    /// Its place in [`Indicator::ALL`] (and in arrays of modes kept in that order).
    pub fn index(self) -> usize {
        match self {
            Indicator::Ready => 0,
            Indicator::Busy => 1,
            Indicator::Fault => 2,
            Indicator::Window => 3,
        }
    }
}

/// How an indicator is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub enum IndicatorMode {
    /// Dark.
    Off,
    /// Lit.
    On,
    /// Blinking at 2 Hz.
    Blink,
}

/// Why a board (re)started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub enum ResetCause {
    /// Power applied (first boot or after a power cut).
    PowerOn,
    /// The watchdog fired.
    Watchdog,
    /// Supply voltage dipped.
    Brownout,
    /// Asked to restart.
    Software,
}

/// A fault of the carousel drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub enum MotorFault {
    /// The encoder did not follow the commanded move (positions in encoder counts).
    Stall {
        /// Where the move should have ended.
        expected: i32,
        /// Where the encoder says it ended.
        encoder: i32,
    },
    /// A homing run found no home-sensor edge.
    HomingFailed,
    /// The drive did not report the end of a move in time.
    Timeout,
}

/// The commands that carry a MAC, with the id used in the MAC input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub enum SecuredCommand {
    /// `PresentSlot` (MAC command id 1).
    PresentSlot,
    /// `UnlockDoor` (MAC command id 2).
    UnlockDoor,
}

impl SecuredCommand {
    /// The command id byte in the MAC input.
    pub const fn id(self) -> u8 {
        match self {
            SecuredCommand::PresentSlot => 1,
            SecuredCommand::UnlockDoor => 2,
        }
    }
}

/// What tripped a tamper report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub enum TamperSource {
    /// The case switch opened (cabinet opened or moved).
    CaseOpened,
    /// A secured command whose MAC did not verify (forged or altered); it was refused.
    BadMac {
        /// Which command.
        command: SecuredCommand,
        /// The counter it claimed.
        counter: u32,
    },
    /// A secured command with a valid MAC and a counter not above the last accepted one
    /// (a replay); it was refused.
    Replay {
        /// Which command.
        command: SecuredCommand,
        /// The counter it carried.
        counter: u32,
    },
}

/// A change in the supply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub enum PowerEvent {
    /// Mains gone; running on battery.
    MainsLost,
    /// Mains back.
    MainsRestored,
    /// Battery below the low threshold while on battery.
    BatteryLow,
}

/// The door as the board sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub enum DoorState {
    /// Closed and latched.
    Locked,
    /// Closed, latch released, waiting for the user to open it within the window.
    Unlocked,
    /// Open.
    Open,
}

/// Why a command was refused (not a security refusal: those are [`TamperSource`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub enum Rejection {
    /// The carousel is still moving or homing.
    Busy,
    /// The slot number is not below the slot count.
    BadSlot,
    /// The door is open or unlocked; the carousel never turns then.
    DoorOpen,
    /// The drive is in a fault state; send `Home` first.
    MotorFault,
    /// An argument is out of range (an unlock window of 0 or over 120 s).
    BadArgument,
}

/// Everything `Status` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub struct BoardStatus {
    /// Homed since boot, with no fault since.
    pub homed: bool,
    /// The slot at the window, when homed and at rest.
    pub slot: Option<u8>,
    /// The carousel is moving.
    pub moving: bool,
    /// The door.
    pub door: DoorState,
    /// The lock coil is energised (latch released).
    pub coil: bool,
    /// The last drive fault, until the next successful homing.
    pub fault: Option<MotorFault>,
    /// The window's occupancy sensor, when at rest.
    pub occupied: Option<bool>,
    /// The last accepted secured-command counter.
    pub last_counter: u32,
    /// Milliseconds since boot.
    pub uptime_ms: u64,
}
