//! The plant link: board ⇄ plant (the motor driver, latch, sensors and the harness's clock).
//!
//! This is the board's hardware abstraction made into messages, so the same firmware logic
//! drives the simulated plant in-process, a simulated plant over serial, or real mechanics.
//! Positions are encoder counts (one count per motor step); the carousel turns forward as
//! counts increase.

use alloc::string::String;
use serde::{Deserialize, Serialize};

#[cfg(test)]
use proptest_derive::Arbitrary;

use crate::message::message_set;
use crate::types::*;

/// Board → plant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub enum BoardToPlant {
    /// Kind 0. Move from rest to `target` with a trapezoidal velocity profile (see
    /// [`crate::motion::Trapezoid`]); answered by `MoveDone` when the profile ends. Sent only at
    /// rest: a move while moving is ignored by the plant.
    MotorMove {
        /// Absolute target, encoder counts.
        target: i32,
        /// Cruise speed, counts per second (> 0).
        max_velocity: u32,
        /// Acceleration and deceleration, counts per second² (> 0).
        acceleration: u32,
    },
    /// Kind 1. Stop stepping at once; answered by `MoveDone` if a move was under way (nothing at
    /// rest).
    MotorStop,
    /// Kind 2. Energise (release the latch) or de-energise (latch engages when closed).
    LockCoil {
        /// Energised.
        energised: bool,
    },
    /// Kind 3. Drive an indicator LED.
    Indicator {
        /// Which one.
        indicator: Indicator,
        /// How.
        mode: IndicatorMode,
    },
    /// Kind 4. Show text on the display.
    Display {
        /// The text.
        #[cfg_attr(test, proptest(strategy = "\"[ -~]{0,64}\""))]
        text: String,
    },
    /// Kind 5. Read the tag at the window; answered by `TagResult`.
    ReadTag,
    /// Kind 6. Answered by `Sensors`.
    ReadSensors,
    /// Kind 7. Lockstep: the board has handled everything up to `now_us` and has nothing to
    /// do before `next_deadline_us` (`None`: nothing scheduled).
    ClockAck {
        /// The tick or jump being acknowledged, µs.
        now_us: u64,
        /// The board's next timer, µs.
        next_deadline_us: Option<u64>,
    },
}

message_set!(BoardToPlant {
    MotorMove,
    MotorStop,
    LockCoil,
    Indicator,
    Display,
    ReadTag,
    ReadSensors,
    ClockAck
});

/// Plant → board.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(Arbitrary))]
pub enum PlantToBoard {
    /// Kind 0. The commanded profile ended (or `MotorStop` took effect); where the encoder is.
    MoveDone {
        /// Encoder counts.
        encoder: i32,
    },
    /// Kind 1. The home sensor changed.
    HomeSensor {
        /// Now active.
        active: bool,
        /// Encoder counts at the edge.
        encoder: i32,
    },
    /// Kind 2. The door switch changed.
    DoorSwitch {
        /// Now open.
        open: bool,
    },
    /// Kind 3. The answer to `ReadTag`.
    TagResult {
        /// The tag read, `None` when nothing answered.
        tag: Option<TagId>,
    },
    /// Kind 4. The window's occupancy sensor changed, or the carousel came to rest (the sensor is
    /// read at rest only).
    Occupancy {
        /// A key hangs at the window.
        occupied: bool,
    },
    /// Kind 5. The answer to `ReadSensors`; also sent unasked when the plant powers up.
    Sensors {
        /// Encoder counts.
        encoder: i32,
        /// Home sensor active.
        home: bool,
        /// Door switch open.
        door_open: bool,
        /// A key hangs at the window.
        occupied: bool,
        /// Case tamper switch open.
        tamper: bool,
        /// Mains present.
        mains: bool,
        /// Battery voltage, millivolts.
        battery_mv: u16,
    },
    /// Kind 6. The supply changed.
    Power {
        /// Mains present.
        mains: bool,
        /// Battery voltage, millivolts.
        battery_mv: u16,
    },
    /// Kind 7. The case tamper switch changed.
    Tamper {
        /// Now open.
        active: bool,
    },
    /// Kind 8. Lockstep: harness time advanced to `now_us` in small steps; handle timers up to
    /// it, then answer `ClockAck`.
    ClockTick {
        /// Harness time, µs.
        now_us: u64,
    },
    /// Kind 9. Lockstep: harness time skipped idle time to `now_us`; nothing happened on the
    /// plant in between. Handle timers up to it, then answer `ClockAck`.
    ClockJump {
        /// Harness time, µs.
        now_us: u64,
    },
}

message_set!(PlantToBoard {
    MoveDone,
    HomeSensor,
    DoorSwitch,
    TagResult,
    Occupancy,
    Sensors,
    Power,
    Tamper,
    ClockTick,
    ClockJump
});
