//! The door: latch coil, unlock window, door switch.

use core::time::Duration;

use super::Board;
use crate::host::BoardToHost;
use crate::plant::BoardToPlant;
use crate::time::Instant;
use crate::types::{DoorState, Rejection};

impl Board {
    pub(super) fn command_unlock(&mut self, window_ms: u32) -> Option<Rejection> {
        let window = Duration::from_millis(u64::from(window_ms));
        if window_ms == 0 || window > self.cfg.max_unlock_window {
            return Some(Rejection::BadArgument);
        }
        if !self.drive.is_idle() {
            return Some(Rejection::Busy);
        }
        if self.door == DoorState::Open {
            return Some(Rejection::DoorOpen);
        }
        self.set_coil(true);
        self.door = DoorState::Unlocked;
        self.unlock_until = Some(self.now + window);
        self.host(BoardToHost::DoorUnlocked { window_ms });
        None
    }

    pub(super) fn command_lock(&mut self) {
        self.set_coil(false);
        self.unlock_until = None;
        if self.door == DoorState::Unlocked {
            self.door = DoorState::Locked;
        }
    }

    pub(super) fn door_timeout(&mut self, now: Instant) {
        if self.unlock_until.is_some_and(|t| t <= now) {
            self.unlock_until = None;
            self.set_coil(false);
            self.door = DoorState::Locked;
            self.host(BoardToHost::UnlockExpired);
        }
    }

    pub(super) fn on_door_switch(&mut self, open: bool) {
        match (open, self.door) {
            (true, DoorState::Unlocked) => {
                // The latch has let go; drop the coil so it catches when the door closes.
                self.unlock_until = None;
                self.set_coil(false);
                self.door = DoorState::Open;
                self.host(BoardToHost::DoorOpened);
            }
            (true, DoorState::Locked) => {
                self.door = DoorState::Open;
                self.host(BoardToHost::DoorForced);
                self.abort_motion();
            }
            (false, DoorState::Open) => {
                self.set_coil(false);
                self.door = DoorState::Locked;
                self.host(BoardToHost::DoorClosed);
                if core::mem::take(&mut self.home_when_closed) {
                    self.start_homing(None, 0);
                }
            }
            _ => {}
        }
    }

    fn set_coil(&mut self, energised: bool) {
        if self.coil != energised {
            self.coil = energised;
            self.plant(BoardToPlant::LockCoil { energised });
        }
    }
}
