//! A small in-test plant and a harness that drives a `Board` against it in virtual time.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use firmware_proto::Instant;
use firmware_proto::auth::{CommandSigner, PairingKey};
use firmware_proto::board::{Board, BoardConfig, BoardOutput, NvState};
use firmware_proto::host::{BoardToHost, HostToBoard};
use firmware_proto::motion::Trapezoid;
use firmware_proto::plant::{BoardToPlant, PlantToBoard};
use firmware_proto::types::TagId;

pub const KEY: PairingKey = PairingKey([0x5A; 32]);
pub const BOARD_ID: u32 = 0x0B0A_0001;

/// How the test motor misbehaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stall {
    None,
    /// The next `n` moves freeze after `counts` counts.
    Moves {
        n: u32,
        counts: f64,
    },
    /// Every move freezes at once.
    Forever,
}

struct Move {
    start: Instant,
    from: f64,
    profile: Trapezoid,
    /// Counts travelled (absolute) at which the rotor freezes.
    freeze_at: Option<f64>,
}

/// Carousel with a home sensor at 0 mod one revolution, a door, a tag reader, occupancy.
pub struct TestPlant {
    pub rev: i64,
    pub cps: i64,
    pub home_width: i64,
    pos: f64,
    motion: Option<Move>,
    pub stall: Stall,
    pub door_open: bool,
    pub coil: bool,
    pub hooks: Vec<Option<TagId>>,
    pub moves: Vec<(i32, i32)>,
    events: Vec<(Instant, PlantToBoard)>,
}

impl TestPlant {
    pub fn new(cfg: &BoardConfig, start_pos: f64) -> Self {
        let slots = usize::from(cfg.slot_count);
        TestPlant {
            rev: cfg.counts_per_rev(),
            cps: i64::from(cfg.counts_per_slot),
            home_width: 20,
            pos: start_pos,
            motion: None,
            stall: Stall::None,
            door_open: false,
            coil: false,
            hooks: (0..slots).map(|i| Some(TagId(0xA000 + i as u64))).collect(),
            moves: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn position(&self) -> f64 {
        self.pos
    }

    /// The slot whose hook is at the window (nearest).
    pub fn window_slot(&self) -> usize {
        let s = (self.pos / self.cps as f64).round() as i64;
        s.rem_euclid(self.rev / self.cps) as usize
    }

    fn home_active(&self, p: f64) -> bool {
        (p.floor() as i64).rem_euclid(self.rev) < self.home_width
    }

    pub fn next_event(&self) -> Option<Instant> {
        self.events.iter().map(|e| e.0).min()
    }

    /// Takes the events due at `now`, in time order.
    pub fn due(&mut self, now: Instant) -> Vec<PlantToBoard> {
        self.events.sort_by_key(|e| e.0);
        let n = self.events.iter().take_while(|e| e.0 <= now).count();
        let due: Vec<_> = self.events.drain(..n).map(|e| e.1).collect();
        if due.iter().any(|m| matches!(m, PlantToBoard::MoveDone { .. })) {
            self.settle(now);
        }
        due
    }

    fn settle(&mut self, now: Instant) {
        if let Some(m) = self.motion.take() {
            self.pos = Self::position_of(&m, now);
        }
    }

    fn position_of(m: &Move, now: Instant) -> f64 {
        let t = (now - m.start).as_secs_f64();
        let mut travelled = m.profile.travelled(t);
        if let Some(f) = m.freeze_at {
            travelled = travelled.clamp(-f, f);
        }
        m.from + travelled
    }

    fn occupied(&self) -> bool {
        self.hooks[self.window_slot()].is_some()
    }

    pub fn handle(&mut self, now: Instant, msg: BoardToPlant) {
        match msg {
            BoardToPlant::MotorMove { target, max_velocity, acceleration } => {
                if self.motion.is_some() {
                    return;
                }
                let from = self.pos;
                self.moves.push((from.round() as i32, target));
                let distance = i64::from(target) - from.round() as i64;
                let profile = Trapezoid::new(distance, max_velocity, acceleration);
                let freeze_at = match &mut self.stall {
                    Stall::None => None,
                    Stall::Forever => Some(0.0),
                    Stall::Moves { n, counts } => {
                        let f = *counts;
                        *n -= 1;
                        if *n == 0 {
                            self.stall = Stall::None;
                        }
                        Some(f)
                    }
                };
                let reach = freeze_at.unwrap_or(f64::INFINITY).min(distance.abs() as f64);
                // Home sensor edges on the way (sampled per count: good enough for a test).
                let dir = distance.signum();
                let mut active = self.home_active(from);
                for c in 1..=reach as i64 {
                    let p = from + (dir * c) as f64;
                    let now_active = self.home_active(p);
                    if now_active != active {
                        active = now_active;
                        let t = profile.time_to(c as f64).unwrap_or(0.0);
                        let at = now + Duration::from_secs_f64(t);
                        self.events
                            .push((at, PlantToBoard::HomeSensor { active, encoder: p.round() as i32 }));
                    }
                }
                let end = now + profile.duration();
                let final_pos = from + dir as f64 * reach;
                let occupied = self.hooks[Self::slot_at(final_pos, self.cps, self.rev)].is_some();
                self.events.push((end, PlantToBoard::Occupancy { occupied }));
                self.events.push((end, PlantToBoard::MoveDone { encoder: final_pos.round() as i32 }));
                self.motion = Some(Move { start: now, from, profile, freeze_at });
            }
            BoardToPlant::MotorStop => {
                if let Some(m) = self.motion.take() {
                    self.pos = Self::position_of(&m, now).round();
                    self.events.retain(|e| {
                        !matches!(
                            e.1,
                            PlantToBoard::MoveDone { .. }
                                | PlantToBoard::HomeSensor { .. }
                                | PlantToBoard::Occupancy { .. }
                        )
                    });
                    let occupied = self.occupied();
                    self.events.push((now, PlantToBoard::Occupancy { occupied }));
                    self.events.push((now, PlantToBoard::MoveDone { encoder: self.pos as i32 }));
                }
            }
            BoardToPlant::LockCoil { energised } => self.coil = energised,
            BoardToPlant::ReadTag => {
                let tag = if self.motion.is_none() { self.hooks[self.window_slot()] } else { None };
                self.events.push((now, PlantToBoard::TagResult { tag }));
            }
            BoardToPlant::ReadSensors => {
                let home = self.home_active(self.pos);
                let sensors = PlantToBoard::Sensors {
                    encoder: self.pos.round() as i32,
                    home,
                    door_open: self.door_open,
                    occupied: self.occupied(),
                    tamper: false,
                    mains: true,
                    battery_mv: 13_000,
                };
                self.events.push((now, sensors));
            }
            BoardToPlant::Indicator { .. } | BoardToPlant::Display { .. } | BoardToPlant::ClockAck { .. } => {
            }
        }
    }

    fn slot_at(p: f64, cps: i64, rev: i64) -> usize {
        ((p / cps as f64).round() as i64).rem_euclid(rev / cps) as usize
    }

    /// A user opens the door (it opens only if the latch is released, or `force`).
    pub fn open_door(&mut self, now: Instant, force: bool) -> bool {
        if self.coil || force {
            self.door_open = true;
            self.events.push((now, PlantToBoard::DoorSwitch { open: true }));
            return true;
        }
        false
    }

    pub fn close_door(&mut self, now: Instant) {
        self.door_open = false;
        self.events.push((now, PlantToBoard::DoorSwitch { open: false }));
    }

    /// A user takes the key at the window.
    pub fn take_key(&mut self, now: Instant) -> Option<TagId> {
        let slot = self.window_slot();
        let tag = self.hooks[slot].take();
        self.events.push((now, PlantToBoard::Occupancy { occupied: false }));
        tag
    }
}

/// A board and a plant in virtual time; host reports are logged with their time.
pub struct Rig {
    pub now: Instant,
    pub board: Board,
    pub plant: TestPlant,
    pub signer: CommandSigner,
    pub host_log: Vec<(Instant, BoardToHost)>,
    pub plant_log: Vec<(Instant, BoardToPlant)>,
}

impl Rig {
    pub fn new(start_pos: f64) -> Self {
        Self::with_plant(start_pos, |_| {})
    }

    /// A rig whose plant is set up by `setup` before the board powers up.
    pub fn with_plant(start_pos: f64, setup: impl FnOnce(&mut TestPlant)) -> Self {
        let cfg = BoardConfig::reference(BOARD_ID, KEY);
        let mut plant = TestPlant::new(&cfg, start_pos);
        setup(&mut plant);
        let board = Board::new(cfg, NvState::default(), Instant::ZERO);
        let mut rig = Rig {
            now: Instant::ZERO,
            board,
            plant,
            signer: CommandSigner::new(KEY, BOARD_ID, 0),
            host_log: Vec::new(),
            plant_log: Vec::new(),
        };
        rig.pump();
        rig
    }

    /// A rig that has booted and homed.
    #[track_caller]
    pub fn homed() -> Self {
        let mut rig = Rig::new(1234.0);
        rig.run_for(Duration::from_secs(20));
        assert!(rig.saw(|m| matches!(m, BoardToHost::Homed { slot: 0 })), "did not home: {:?}", rig.host_log);
        rig.host_log.clear();
        rig.plant.moves.clear();
        rig
    }

    fn pump(&mut self) {
        while let Some(out) = self.board.poll_output() {
            match out {
                BoardOutput::Host(m) => self.host_log.push((self.now, m)),
                BoardOutput::Plant(m) => {
                    self.plant_log.push((self.now, m.clone()));
                    self.plant.handle(self.now, m);
                }
            }
        }
    }

    pub fn send(&mut self, msg: HostToBoard) {
        self.board.handle_host(self.now, msg);
        self.pump();
    }

    /// Feeds plant events and board timers in time order until `now + d`.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.pump();
            let plant_next = self.plant.next_event();
            let board_next = self.board.poll_timeout();
            let next = [plant_next, board_next].into_iter().flatten().min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for m in self.plant.due(self.now) {
                        self.board.handle_plant(self.now, m);
                        self.pump();
                    }
                    self.board.handle_timeout(self.now);
                }
                _ => {
                    self.now = end;
                    self.board.handle_timeout(end);
                    self.pump();
                    return;
                }
            }
        }
    }

    pub fn saw(&self, f: impl Fn(&BoardToHost) -> bool) -> bool {
        self.host_log.iter().any(|(_, m)| f(m))
    }

    /// Host reports other than heartbeats, in order.
    pub fn reports(&self) -> Vec<BoardToHost> {
        self.host_log
            .iter()
            .map(|(_, m)| m.clone())
            .filter(|m| !matches!(m, BoardToHost::Heartbeat { .. }))
            .collect()
    }
}
