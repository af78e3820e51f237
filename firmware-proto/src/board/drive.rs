//! The carousel drive: homing, positioning the shorter way, corrections, stall handling.

use super::Board;
use crate::host::BoardToHost;
use crate::motion::Trapezoid;
use crate::plant::BoardToPlant;
use crate::time::Instant;
use crate::types::{DoorState, MotorFault, Rejection};

/// Homing searches this many revolutions forward for the home edge before giving up.
const HOMING_SEARCH_REVS: f64 = 1.25;
/// Corrective moves allowed per positioning.
const MAX_CORRECTIONS: u8 = 2;
/// Re-home-and-retry rounds after a stall, per `PresentSlot`.
const MAX_RETRIES: u8 = 1;

/// What the drive is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drive {
    /// At rest.
    Idle,
    /// Moving forward looking for the home sensor's rising edge.
    HomingSearch {
        /// When `MoveDone` must have come.
        deadline: Instant,
        /// Encoder counts at the edge, once seen (the motor is being stopped).
        edge: Option<i32>,
        /// Slot to present once homed.
        then: Option<u8>,
        /// Retry round of that presentation.
        retry: u8,
    },
    /// Moving back to the edge found, which is slot 0.
    HomingReturn {
        /// When `MoveDone` must have come.
        deadline: Instant,
        /// Slot to present once homed.
        then: Option<u8>,
        /// Retry round of that presentation.
        retry: u8,
    },
    /// Positioning a slot at the window.
    Moving {
        /// The slot.
        slot: u8,
        /// Its encoder position.
        target: i32,
        /// When `MoveDone` must have come.
        deadline: Instant,
        /// Corrective moves made.
        corrections: u8,
        /// Retry round.
        retry: u8,
    },
}

impl Drive {
    /// The watchdog deadline, when moving.
    pub fn deadline(&self) -> Option<Instant> {
        match *self {
            Drive::Idle => None,
            Drive::HomingSearch { deadline, .. }
            | Drive::HomingReturn { deadline, .. }
            | Drive::Moving { deadline, .. } => Some(deadline),
        }
    }

    /// Whether at rest.
    pub fn is_idle(&self) -> bool {
        matches!(self, Drive::Idle)
    }
}

impl Board {
    /// The slot at the window, when homed, at rest and on a slot position.
    pub(super) fn slot_at_rest(&self) -> Option<u8> {
        let origin = self.origin?;
        if !self.drive.is_idle() {
            return None;
        }
        let cps = i64::from(self.cfg.counts_per_slot);
        let offset = i64::from(self.encoder) - i64::from(origin);
        let nearest = (offset as f64 / cps as f64).round() as i64;
        if (offset - nearest * cps).unsigned_abs() > u64::from(self.cfg.position_tolerance) {
            return None;
        }
        Some(nearest.rem_euclid(i64::from(self.cfg.slot_count)) as u8)
    }

    pub(super) fn command_home(&mut self) -> Option<Rejection> {
        if self.door != DoorState::Locked {
            return Some(Rejection::DoorOpen);
        }
        if !self.drive.is_idle() {
            return Some(Rejection::Busy);
        }
        self.start_homing(None, 0);
        None
    }

    pub(super) fn command_present(&mut self, slot: u8) -> Option<Rejection> {
        if slot >= self.cfg.slot_count {
            return Some(Rejection::BadSlot);
        }
        if self.door != DoorState::Locked {
            return Some(Rejection::DoorOpen);
        }
        if !self.drive.is_idle() {
            return Some(Rejection::Busy);
        }
        if self.origin.is_none() {
            self.start_homing(Some(slot), 0);
        } else {
            self.move_to(slot, 0);
        }
        None
    }

    pub(super) fn start_homing(&mut self, then: Option<u8>, retry: u8) {
        self.origin = None;
        let distance = (self.cfg.counts_per_rev() as f64 * HOMING_SEARCH_REVS) as i64;
        let target = (i64::from(self.encoder) + distance) as i32;
        let profile = Trapezoid::new(distance, self.cfg.homing_velocity, self.cfg.acceleration);
        let deadline = self.now + profile.duration() + self.cfg.settle;
        self.drive = Drive::HomingSearch { deadline, edge: None, then, retry };
        self.plant(BoardToPlant::MotorMove {
            target,
            max_velocity: self.cfg.homing_velocity,
            acceleration: self.cfg.acceleration,
        });
    }

    /// Starts positioning `slot` the shorter way round (forward on a tie).
    fn move_to(&mut self, slot: u8, retry: u8) {
        let Some(origin) = self.origin else { return };
        let n = i64::from(self.cfg.slot_count);
        let cps = i64::from(self.cfg.counts_per_slot);
        let offset = i64::from(self.encoder) - i64::from(origin);
        let here = (offset as f64 / cps as f64).round() as i64;
        let mut delta = (i64::from(slot) - here).rem_euclid(n);
        if delta > n / 2 {
            delta -= n;
        }
        let target = (i64::from(origin) + (here + delta) * cps) as i32;
        self.start_move(slot, target, 0, retry);
    }

    fn start_move(&mut self, slot: u8, target: i32, corrections: u8, retry: u8) {
        let distance = i64::from(target) - i64::from(self.encoder);
        if distance.unsigned_abs() <= u64::from(self.cfg.position_tolerance) {
            self.drive = Drive::Idle;
            let occupied = self.occupied.unwrap_or(false);
            self.host(BoardToHost::SlotPresented { slot, occupied });
            return;
        }
        let profile = Trapezoid::new(distance, self.cfg.max_velocity, self.cfg.acceleration);
        let deadline = self.now + profile.duration() + self.cfg.settle;
        self.drive = Drive::Moving { slot, target, deadline, corrections, retry };
        self.plant(BoardToPlant::MotorMove {
            target,
            max_velocity: self.cfg.max_velocity,
            acceleration: self.cfg.acceleration,
        });
    }

    pub(super) fn on_home_sensor(&mut self, active: bool, encoder: i32) {
        if let Drive::HomingSearch { edge: edge @ None, .. } = &mut self.drive
            && active
        {
            *edge = Some(encoder);
            self.plant(BoardToPlant::MotorStop);
        }
    }

    pub(super) fn on_move_done(&mut self, encoder: i32) {
        match self.drive {
            Drive::Idle => {}
            Drive::HomingSearch { edge: None, .. } => self.homing_failed(),
            Drive::HomingSearch { edge: Some(edge), then, retry, .. } => {
                self.origin = Some(edge);
                let distance = i64::from(edge) - i64::from(encoder);
                let profile = Trapezoid::new(distance, self.cfg.homing_velocity, self.cfg.acceleration);
                let deadline = self.now + profile.duration() + self.cfg.settle;
                self.drive = Drive::HomingReturn { deadline, then, retry };
                self.plant(BoardToPlant::MotorMove {
                    target: edge,
                    max_velocity: self.cfg.homing_velocity,
                    acceleration: self.cfg.acceleration,
                });
            }
            Drive::HomingReturn { then, retry, .. } => {
                let origin = self.origin.unwrap_or(encoder);
                if (i64::from(encoder) - i64::from(origin)).unsigned_abs()
                    > u64::from(self.cfg.correction_limit)
                {
                    self.homing_failed();
                    return;
                }
                self.drive = Drive::Idle;
                self.fault = None;
                self.host(BoardToHost::Homed { slot: 0 });
                if let Some(slot) = then {
                    self.move_to(slot, retry);
                }
            }
            Drive::Moving { slot, target, corrections, retry, .. } => {
                let error = (i64::from(encoder) - i64::from(target)).unsigned_abs();
                if error <= u64::from(self.cfg.position_tolerance) {
                    self.drive = Drive::Idle;
                    let occupied = self.occupied.unwrap_or(false);
                    self.host(BoardToHost::SlotPresented { slot, occupied });
                } else if error <= u64::from(self.cfg.correction_limit) && corrections < MAX_CORRECTIONS {
                    self.start_move(slot, target, corrections + 1, retry);
                } else {
                    self.stalled(slot, MotorFault::Stall { expected: target, encoder }, retry);
                }
            }
        }
    }

    /// A positioning failed: report, re-home and retry, or give up.
    fn stalled(&mut self, slot: u8, fault: MotorFault, retry: u8) {
        self.drive = Drive::Idle;
        self.origin = None;
        self.fault = Some(fault);
        self.host(BoardToHost::MotorFault { fault });
        if retry < MAX_RETRIES && self.door == DoorState::Locked {
            self.start_homing(Some(slot), retry + 1);
        } else {
            self.host(BoardToHost::PresentFailed { slot, fault });
        }
    }

    fn homing_failed(&mut self) {
        self.fail_motion(MotorFault::HomingFailed, true);
    }

    /// `MoveDone` did not come in time: stop, report, and do not retry (the drive is not
    /// answering, so a re-home would not either). A late `MoveDone` is ignored at rest.
    pub(super) fn drive_timeout(&mut self, now: Instant) {
        if self.drive.deadline().is_none_or(|d| d > now) {
            return;
        }
        self.plant(BoardToPlant::MotorStop);
        self.fail_motion(MotorFault::Timeout, true);
    }

    /// The door was forced while the carousel may be turning: stop at once.
    pub(super) fn abort_motion(&mut self) {
        if self.drive.is_idle() {
            return;
        }
        self.plant(BoardToPlant::MotorStop);
        self.fail_motion(MotorFault::Timeout, false);
    }

    /// Ends the current motion as failed: forget the origin, record and report the fault, and
    /// fail the presentation it served.
    fn fail_motion(&mut self, fault: MotorFault, report_fault: bool) {
        let slot = match self.drive {
            Drive::Moving { slot, .. } => Some(slot),
            Drive::HomingSearch { then, .. } | Drive::HomingReturn { then, .. } => then,
            Drive::Idle => None,
        };
        self.drive = Drive::Idle;
        self.origin = None;
        self.fault = Some(fault);
        if report_fault {
            self.host(BoardToHost::MotorFault { fault });
        }
        if let Some(slot) = slot {
            self.host(BoardToHost::PresentFailed { slot, fault });
        }
    }
}
