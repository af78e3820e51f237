//! The reference board firmware: the motor/lock board between the controller and the
//! mechanics, sans-IO.
//!
//! [`Board`] takes host-link commands ([`Board::handle_host`]), plant-link reports
//! ([`Board::handle_plant`]) and the time ([`Board::handle_timeout`]), and emits
//! [`BoardOutput`]s: reports for the host and commands for the plant. It is written only in
//! terms of plant-link messages and `now`, so it drives the simulated plant in-process, a plant
//! across a serial line, or real mechanics behind a plant-link adapter.
//!
//! What it does:
//! - at power-up, reads the sensors and homes (not while the door is open);
//! - positions the carousel to a slot the shorter way round, by encoder counts, correcting
//!   small errors and treating large ones as a stall: report, re-home, retry once;
//! - releases the latch for an unlock window, re-locks when it expires, reports the door;
//! - authenticates `PresentSlot` and `UnlockDoor` (MAC + counter, see [`crate::auth`]);
//! - reads tags on request, reports occupancy changes, power and tamper events, heartbeats;
//! - in lockstep, acknowledges the harness's clock with its next deadline.

mod door;
mod drive;

use alloc::collections::VecDeque;
use core::time::Duration;

use crate::auth::{self, PairingKey};
use crate::host::{BoardToHost, HostToBoard, MAX_TEXT};
use crate::message::Message;
use crate::plant::{BoardToPlant, PlantToBoard};
use crate::time::Instant;
use crate::types::*;

pub use drive::Drive;

/// Battery voltage under which a `BatteryLow` is reported while on battery, millivolts.
pub const BATTERY_LOW_MV: u16 = 11_500;

/// What a board is and how it drives its mechanics.
#[derive(Clone, Debug)]
pub struct BoardConfig {
    /// Unique per board; part of every MAC input.
    pub board_id: u32,
    /// The pairing key shared with the controller.
    pub key: PairingKey,
    /// The version the hello reports.
    pub firmware: FirmwareVersion,
    /// Slots on the carousel (1..=255).
    pub slot_count: u8,
    /// Encoder counts from one slot to the next.
    pub counts_per_slot: u32,
    /// Cruise speed of positioning moves, counts per second.
    pub max_velocity: u32,
    /// Acceleration of every move, counts per second².
    pub acceleration: u32,
    /// Cruise speed while searching for the home sensor, counts per second.
    pub homing_velocity: u32,
    /// A move that ends within this many counts of its target is on target.
    pub position_tolerance: u32,
    /// A move that ends further off than the tolerance but within this many counts is corrected
    /// by a short move (twice at most); further off is a stall.
    pub correction_limit: u32,
    /// How long after a profile's computed end `MoveDone` may still arrive.
    pub settle: Duration,
    /// Interval of `Heartbeat` reports.
    pub heartbeat: Duration,
    /// Longest unlock window accepted.
    pub max_unlock_window: Duration,
}

impl BoardConfig {
    /// The reference board: 30 slots of 200 counts, 10 slots/s.
    pub fn reference(board_id: u32, key: PairingKey) -> Self {
        BoardConfig {
            board_id,
            key,
            firmware: FirmwareVersion { major: 1, minor: 0, patch: 0 },
            slot_count: 30,
            counts_per_slot: 200,
            max_velocity: 2_000,
            acceleration: 4_000,
            homing_velocity: 800,
            position_tolerance: 4,
            correction_limit: 50,
            settle: Duration::from_millis(200),
            heartbeat: Duration::from_secs(2),
            max_unlock_window: Duration::from_secs(120),
        }
    }

    /// Encoder counts in one revolution.
    pub fn counts_per_rev(&self) -> i64 {
        i64::from(self.slot_count) * i64::from(self.counts_per_slot)
    }
}

/// What a board keeps in non-volatile memory across power cuts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NvState {
    /// The last secured-command counter accepted.
    pub last_counter: u32,
}

/// A message the board wants sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoardOutput {
    /// To the controller.
    Host(BoardToHost),
    /// To the plant.
    Plant(BoardToPlant),
}

/// The reference firmware's whole state. See the [module docs](self).
#[derive(Debug)]
pub struct Board {
    cfg: BoardConfig,
    nv: NvState,
    boot: Instant,
    now: Instant,
    out: VecDeque<BoardOutput>,
    /// Waiting for the first `Sensors` report.
    booting: bool,
    /// Home once the door is closed (a power-up with the door open).
    home_when_closed: bool,
    // drive
    drive: Drive,
    /// Encoder counts with slot 0 at the window; `None` until homed or after a fault.
    origin: Option<i32>,
    encoder: i32,
    fault: Option<MotorFault>,
    // door
    door: DoorState,
    coil: bool,
    unlock_until: Option<Instant>,
    // sensors
    occupied: Option<bool>,
    mains: bool,
    battery_low_reported: bool,
    tag_requested: bool,
    next_heartbeat: Instant,
}

impl Board {
    /// A board powered up at `now` with its non-volatile state `nv`. It reports `Booted` and
    /// asks the plant for its sensors, then homes.
    pub fn new(cfg: BoardConfig, nv: NvState, now: Instant) -> Self {
        let next_heartbeat = now + cfg.heartbeat;
        let mut board = Board {
            cfg,
            nv,
            boot: now,
            now,
            out: VecDeque::new(),
            booting: true,
            home_when_closed: false,
            drive: Drive::Idle,
            origin: None,
            encoder: 0,
            fault: None,
            door: DoorState::Locked,
            coil: false,
            unlock_until: None,
            occupied: None,
            mains: true,
            battery_low_reported: false,
            tag_requested: false,
            next_heartbeat,
        };
        board.host(BoardToHost::Booted { cause: ResetCause::PowerOn });
        board.plant(BoardToPlant::LockCoil { energised: false });
        board.plant(BoardToPlant::ReadSensors);
        board
    }

    /// The configuration.
    pub fn config(&self) -> &BoardConfig {
        &self.cfg
    }

    /// What must survive a power cut.
    pub fn nv_state(&self) -> NvState {
        self.nv
    }

    /// What `Status` would report now.
    pub fn status(&self) -> BoardStatus {
        BoardStatus {
            homed: self.origin.is_some() && self.fault.is_none(),
            slot: self.slot_at_rest(),
            moving: !matches!(self.drive, Drive::Idle),
            door: self.door,
            coil: self.coil,
            fault: self.fault,
            occupied: self.slot_at_rest().and(self.occupied),
            last_counter: self.nv.last_counter,
            uptime_ms: (self.now - self.boot).as_millis() as u64,
        }
    }

    /// The next message to send.
    pub fn poll_output(&mut self) -> Option<BoardOutput> {
        self.out.pop_front()
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.next_heartbeat;
        for d in [self.unlock_until, self.drive.deadline()].into_iter().flatten() {
            t = t.min(d);
        }
        Some(t)
    }

    /// Fires the timers due at `now`: heartbeat, unlock window, drive watchdog.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.next_heartbeat <= now {
            // One heartbeat however much time passed; the next stays on the same phase.
            while self.next_heartbeat <= now {
                self.next_heartbeat += self.cfg.heartbeat;
            }
            let uptime_ms = (now - self.boot).as_millis() as u64;
            self.host(BoardToHost::Heartbeat { uptime_ms });
        }
        self.door_timeout(now);
        self.drive_timeout(now);
    }

    /// Handles a command from the controller.
    pub fn handle_host(&mut self, now: Instant, message: HostToBoard) {
        self.handle_timeout(now);
        if let Some((command, argument, a)) = auth::secured_parts(&message) {
            let counter = a.counter;
            if !auth::verify_command(&self.cfg.key, self.cfg.board_id, command, argument, a) {
                self.host(BoardToHost::Tamper { source: TamperSource::BadMac { command, counter } });
                return;
            }
            if counter <= self.nv.last_counter {
                self.host(BoardToHost::Tamper { source: TamperSource::Replay { command, counter } });
                return;
            }
            self.nv.last_counter = counter;
        }
        let kind = message.kind();
        let moves = matches!(
            message,
            HostToBoard::Home | HostToBoard::PresentSlot { .. } | HostToBoard::UnlockDoor { .. }
        );
        if self.booting && moves {
            // Until the first sensor report the board knows neither the door nor the encoder.
            self.host(BoardToHost::Rejected { command: kind, reason: Rejection::Busy });
            return;
        }
        let refusal = match message {
            HostToBoard::Hello { challenge, .. } => {
                let proof = auth::pairing_proof(&self.cfg.key, self.cfg.board_id, &challenge);
                self.host(BoardToHost::Hello {
                    protocol: u16::from(crate::frame::PROTOCOL_VERSION),
                    board_id: self.cfg.board_id,
                    firmware: self.cfg.firmware,
                    slot_count: self.cfg.slot_count,
                    capabilities: Capabilities::REFERENCE,
                    last_counter: self.nv.last_counter,
                    proof,
                });
                None
            }
            HostToBoard::Home => self.command_home(),
            HostToBoard::PresentSlot { slot, .. } => self.command_present(slot),
            HostToBoard::UnlockDoor { window_ms, .. } => self.command_unlock(window_ms),
            HostToBoard::LockDoor => {
                self.command_lock();
                None
            }
            HostToBoard::ReadTag => {
                self.tag_requested = true;
                self.plant(BoardToPlant::ReadTag);
                None
            }
            HostToBoard::Status => {
                self.host(BoardToHost::Status(self.status()));
                None
            }
            HostToBoard::SetIndicator { indicator, mode } => {
                self.plant(BoardToPlant::Indicator { indicator, mode });
                None
            }
            HostToBoard::ShowText { mut text } => {
                let mut end = text.len().min(MAX_TEXT);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
                self.plant(BoardToPlant::Display { text });
                None
            }
            HostToBoard::Ping { nonce } => {
                self.host(BoardToHost::Pong { nonce });
                None
            }
        };
        if let Some(reason) = refusal {
            self.host(BoardToHost::Rejected { command: kind, reason });
        }
    }

    /// Handles a report from the plant.
    pub fn handle_plant(&mut self, now: Instant, message: PlantToBoard) {
        self.handle_timeout(now);
        match message {
            PlantToBoard::MoveDone { encoder } => {
                self.encoder = encoder;
                self.on_move_done(encoder);
            }
            PlantToBoard::HomeSensor { active, encoder } => self.on_home_sensor(active, encoder),
            PlantToBoard::DoorSwitch { open } => self.on_door_switch(open),
            PlantToBoard::TagResult { tag } => {
                if core::mem::take(&mut self.tag_requested) {
                    let slot = self.slot_at_rest();
                    self.host(BoardToHost::TagRead { slot, tag });
                }
            }
            PlantToBoard::Occupancy { occupied } => self.on_occupancy(occupied),
            PlantToBoard::Sensors { encoder, door_open, occupied, tamper, mains, battery_mv, .. } => {
                self.encoder = encoder;
                self.occupied = Some(occupied);
                self.on_power(mains, battery_mv);
                if tamper {
                    self.host(BoardToHost::Tamper { source: TamperSource::CaseOpened });
                }
                if !self.booting {
                    self.on_door_switch(door_open);
                } else if door_open {
                    self.door = DoorState::Open;
                }
                if core::mem::take(&mut self.booting) {
                    if door_open {
                        self.home_when_closed = true;
                    } else {
                        self.start_homing(None, 0);
                    }
                }
            }
            PlantToBoard::Power { mains, battery_mv } => self.on_power(mains, battery_mv),
            PlantToBoard::Tamper { active } => {
                if active {
                    self.host(BoardToHost::Tamper { source: TamperSource::CaseOpened });
                }
            }
            PlantToBoard::ClockTick { now_us } | PlantToBoard::ClockJump { now_us } => {
                // The firmware around the board lowers this to its link ends' timers when they
                // are earlier (PROTOCOL.md §8.3): it owns them, the board does not.
                let next_deadline_us = self.poll_timeout().map(Instant::as_micros);
                self.plant(BoardToPlant::ClockAck { now_us, next_deadline_us });
            }
        }
    }

    fn on_power(&mut self, mains: bool, battery_mv: u16) {
        if mains != self.mains {
            self.mains = mains;
            let event = if mains { PowerEvent::MainsRestored } else { PowerEvent::MainsLost };
            self.host(BoardToHost::Power { event, battery_mv });
            if mains {
                self.battery_low_reported = false;
            }
        }
        if !mains && battery_mv < BATTERY_LOW_MV && !self.battery_low_reported {
            self.battery_low_reported = true;
            self.host(BoardToHost::Power { event: PowerEvent::BatteryLow, battery_mv });
        }
    }

    fn on_occupancy(&mut self, occupied: bool) {
        let changed = self.occupied != Some(occupied);
        self.occupied = Some(occupied);
        // At rest, a change is a key taken or hung; on arrival the presentation reports it.
        if changed
            && matches!(self.drive, Drive::Idle)
            && let Some(slot) = self.slot_at_rest()
        {
            self.host(BoardToHost::Occupancy { slot, occupied });
        }
    }

    fn host(&mut self, m: BoardToHost) {
        self.out.push_back(BoardOutput::Host(m));
    }

    fn plant(&mut self, m: BoardToPlant) {
        self.out.push_back(BoardOutput::Plant(m));
    }
}
