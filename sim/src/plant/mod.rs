//! The physical automat: plain structs with plain step functions, tested without Bevy. The
//! [`crate::app`] steps them inside a Bevy app.
//!
//! [`AutomatPlant`] is one cabinet: its [`Carousel`], door and latch, the hooks and what hangs
//! on them, the tag reader and occupancy sensor at the window, the cameras, power and tamper
//! switch. It speaks the plant link: it takes [`BoardToPlant`] commands and schedules the
//! [`PlantToBoard`] reports they and the user cause.

pub mod carousel;
pub mod look;

use std::collections::VecDeque;

use controller::ids::KeyId;
use firmware_proto::Instant;
use firmware_proto::plant::{BoardToPlant, PlantToBoard};
use firmware_proto::types::{IndicatorMode, TagId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use carousel::{Carousel, CarouselEvent};
pub use look::{Look, Shape};

/// Something that hangs on a hook or in a hand.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Item {
    /// The key it is, when it is one of the fleet's keys.
    pub key: Option<KeyId>,
    /// Its tag, if it has one.
    pub tag: Option<TagId>,
    /// How its fob looks.
    pub look: Look,
}

/// Tag reader faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum TagFault {
    /// Reads what hangs at the window.
    #[default]
    None,
    /// Never answers.
    NoRead,
    /// Answers with this tag whatever hangs there.
    WrongRead(TagId),
}

/// Camera faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CameraFault {
    /// Works.
    #[default]
    None,
    /// Returns no image.
    Fail,
    /// Returns an all-black image.
    Black,
}

/// Latch faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LatchFault {
    /// Follows the coil.
    #[default]
    None,
    /// Stays latched whatever the coil does.
    StuckLatched,
    /// Stays released whatever the coil does.
    StuckReleased,
}

/// The door.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Door {
    /// Open.
    pub open: bool,
    /// The lock coil is energised (latch released).
    pub coil: bool,
    /// Latch fault.
    pub fault: LatchFault,
}

impl Door {
    /// Whether a user pulling the handle opens it.
    pub fn releases(&self) -> bool {
        match self.fault {
            LatchFault::StuckLatched => false,
            LatchFault::StuckReleased => true,
            LatchFault::None => self.coil,
        }
    }
}

/// One cabinet. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct AutomatPlant {
    /// The carousel drive.
    pub carousel: Carousel,
    /// The door.
    pub door: Door,
    /// What hangs on each slot's hook.
    pub hooks: Vec<Option<Item>>,
    /// Tag reader fault.
    pub tag_fault: TagFault,
    /// Internal camera fault.
    pub internal_camera: CameraFault,
    /// Front camera fault.
    pub front_camera: CameraFault,
    /// Mains present.
    pub mains: bool,
    /// Battery voltage, millivolts.
    pub battery_mv: u16,
    /// Case tamper switch open.
    pub tamper: bool,
    /// The board has power.
    pub powered: bool,
    /// Indicator LEDs (Ready, Busy, Fault, Window).
    pub indicators: [IndicatorMode; 4],
    /// The board's display line.
    pub display: String,
    /// Reports scheduled for the board, in time order.
    out: VecDeque<(Instant, PlantToBoard)>,
    /// Home edges are reported once: the last instant checked.
    edges_checked: Instant,
    rng: ChaCha8Rng,
}

impl AutomatPlant {
    /// A cabinet with `slots` slots of `counts_per_slot`, at rest with slot `at_window` at the
    /// window, door closed and latched, mains on.
    pub fn new(slots: u8, counts_per_slot: u32, at_window: u8, seed: u64) -> Self {
        let position = f64::from(at_window) * f64::from(counts_per_slot)
            + 3.0 * f64::from(slots) * f64::from(counts_per_slot);
        AutomatPlant {
            carousel: Carousel::new(slots, counts_per_slot, position),
            door: Door::default(),
            hooks: vec![None; usize::from(slots)],
            tag_fault: TagFault::None,
            internal_camera: CameraFault::None,
            front_camera: CameraFault::None,
            mains: true,
            battery_mv: 13_200,
            tamper: false,
            powered: true,
            indicators: [IndicatorMode::Off; 4],
            display: String::new(),
            out: VecDeque::new(),
            edges_checked: Instant::ZERO,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    fn noise(&mut self) -> i32 {
        let n = self.carousel.noise as i32;
        if n == 0 { 0 } else { self.rng.random_range(-n..=n) }
    }

    fn schedule(&mut self, at: Instant, report: PlantToBoard) {
        if !self.powered {
            return;
        }
        let i = self.out.partition_point(|(t, _)| *t <= at);
        self.out.insert(i, (at, report));
    }

    /// The slot at the window, if the carousel rests on one.
    pub fn window_slot(&self, now: Instant) -> Option<u8> {
        if self.carousel.is_moving() {
            return None;
        }
        self.carousel.window_slot(now)
    }

    /// What hangs at the window, if the carousel rests on a slot.
    pub fn at_window(&self, now: Instant) -> Option<&Item> {
        self.window_slot(now).and_then(|s| self.hooks[usize::from(s)].as_ref())
    }

    fn occupied(&self, now: Instant) -> bool {
        self.at_window(now).is_some()
    }

    /// The full sensor report.
    pub fn sensors(&mut self, now: Instant) -> PlantToBoard {
        let encoder = self.carousel.encoder(now, 0);
        PlantToBoard::Sensors {
            encoder,
            home: self.carousel.home_active(now),
            door_open: self.door.open,
            occupied: self.occupied(now),
            tamper: self.tamper,
            mains: self.mains,
            battery_mv: self.battery_mv,
        }
    }

    /// Handles a command from the board.
    pub fn handle(&mut self, now: Instant, command: BoardToPlant) {
        match command {
            BoardToPlant::MotorMove { target, max_velocity, acceleration } => {
                if !self.door.open && self.carousel.start_move(now, target, max_velocity, acceleration) {
                    self.edges_checked = now;
                }
            }
            BoardToPlant::MotorStop => {
                if self.carousel.stop(now) {
                    self.at_rest(now);
                }
            }
            BoardToPlant::LockCoil { energised } => self.door.coil = energised,
            BoardToPlant::Indicator { indicator, mode } => self.indicators[indicator.index()] = mode,
            BoardToPlant::Display { text } => self.display = text,
            BoardToPlant::ReadTag => {
                let tag = match self.tag_fault {
                    TagFault::NoRead => None,
                    TagFault::WrongRead(t) => Some(t),
                    TagFault::None => self.at_window(now).and_then(|i| i.tag),
                };
                self.schedule(now, PlantToBoard::TagResult { tag });
            }
            BoardToPlant::ReadSensors => {
                let s = self.sensors(now);
                self.schedule(now, s);
            }
            BoardToPlant::ClockAck { .. } => {}
        }
    }

    fn at_rest(&mut self, now: Instant) {
        let occupied = self.occupied(now);
        let encoder = self.carousel.encoder(now, 0) + self.noise();
        self.schedule(now, PlantToBoard::Occupancy { occupied });
        self.schedule(now, PlantToBoard::MoveDone { encoder });
    }

    /// When the plant next has something to report.
    pub fn next_event(&self) -> Option<Instant> {
        let queued = self.out.front().map(|(t, _)| *t);
        let edge = self.carousel.next_home_edge(self.edges_checked).map(|(t, _)| t);
        let end = self.carousel.move_end();
        [queued, edge, end].into_iter().flatten().min()
    }

    /// Everything due at or before `now`, in time order.
    pub fn poll(&mut self, now: Instant) -> Vec<PlantToBoard> {
        // Sensor edges and the end of the move first: they schedule reports.
        let mut last = None;
        while let Some((t, active)) = self.carousel.next_home_edge(self.edges_checked) {
            // Never report one edge twice, whatever the rounding.
            if t > now || last == Some((t, active)) {
                break;
            }
            last = Some((t, active));
            self.edges_checked = t;
            let encoder = self.carousel.encoder(t, 0) + self.noise();
            self.schedule(t, PlantToBoard::HomeSensor { active, encoder });
        }
        if let Some(end) = self.carousel.move_end()
            && end <= now
        {
            self.carousel.finish(end);
            self.at_rest(end);
        }
        let mut due = Vec::new();
        while self.out.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, r)) = self.out.pop_front() {
                due.push(r);
            }
        }
        due
    }

    // ---- what people do ----

    /// A user pulls the door (or forces it). Returns whether it opened.
    pub fn open_door(&mut self, now: Instant, force: bool) -> bool {
        if self.door.open || !(force || self.door.releases()) {
            return false;
        }
        self.door.open = true;
        self.schedule(now, PlantToBoard::DoorSwitch { open: true });
        true
    }

    /// A user shuts the door.
    pub fn close_door(&mut self, now: Instant) -> bool {
        if !self.door.open {
            return false;
        }
        self.door.open = false;
        self.schedule(now, PlantToBoard::DoorSwitch { open: false });
        true
    }

    /// A user takes what hangs at the window (the door must be open).
    pub fn take(&mut self, now: Instant) -> Option<Item> {
        if !self.door.open {
            return None;
        }
        let slot = self.window_slot(now)?;
        let item = self.hooks[usize::from(slot)].take()?;
        self.schedule(now, PlantToBoard::Occupancy { occupied: false });
        Some(item)
    }

    /// A user hangs `item` at the window (the door must be open and the hook free).
    pub fn hang(&mut self, now: Instant, item: Item) -> Result<(), Item> {
        let Some(slot) = self.window_slot(now).filter(|_| self.door.open) else { return Err(item) };
        let hook = &mut self.hooks[usize::from(slot)];
        if hook.is_some() {
            return Err(item);
        }
        *hook = Some(item);
        self.schedule(now, PlantToBoard::Occupancy { occupied: true });
        Ok(())
    }

    /// Mains goes or comes back (the board runs on battery meanwhile).
    pub fn set_mains(&mut self, now: Instant, mains: bool) {
        self.mains = mains;
        let battery_mv = self.battery_mv;
        self.schedule(now, PlantToBoard::Power { mains, battery_mv });
    }

    /// The board loses power: nothing is reported until it is back.
    pub fn power_off(&mut self, now: Instant) {
        self.carousel.stop(now);
        self.door.coil = false;
        self.powered = false;
        self.out.clear();
    }

    /// The board gets power again: the plant reports its sensors unasked.
    pub fn power_on(&mut self, now: Instant) {
        self.powered = true;
        let s = self.sensors(now);
        self.schedule(now, s);
    }

    /// The case tamper switch opens or closes.
    pub fn set_tamper(&mut self, now: Instant, open: bool) {
        self.tamper = open;
        self.schedule(now, PlantToBoard::Tamper { active: open });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u64) -> Item {
        Item {
            key: Some(KeyId(n as u32)),
            tag: Some(TagId(n)),
            look: Look { colour: [1, 2, 3], shape: Shape::Round, label: String::new() },
        }
    }

    #[test]
    fn a_move_reports_edges_then_occupancy_then_move_done() {
        let mut p = AutomatPlant::new(30, 200, 29, 1);
        p.hooks[1] = Some(item(1));
        let now = Instant::from_millis(10);
        p.handle(
            now,
            BoardToPlant::MotorMove { target: 18_000 + 6_000 + 200, max_velocity: 2000, acceleration: 4000 },
        );
        let mut reports = Vec::new();
        while let Some(t) = p.next_event() {
            reports.extend(p.poll(t));
        }
        assert!(
            matches!(reports[0], PlantToBoard::HomeSensor { active: true, encoder: 24_000 }),
            "{reports:?}"
        );
        assert!(matches!(reports[1], PlantToBoard::HomeSensor { active: false, .. }));
        assert_eq!(reports[2], PlantToBoard::Occupancy { occupied: true });
        assert_eq!(reports[3], PlantToBoard::MoveDone { encoder: 24_200 });
    }

    #[test]
    fn the_door_opens_only_when_released_and_never_moves_the_carousel_while_open() {
        let mut p = AutomatPlant::new(30, 200, 0, 1);
        let now = Instant::from_millis(5);
        assert!(!p.open_door(now, false));
        p.handle(now, BoardToPlant::LockCoil { energised: true });
        assert!(p.open_door(now, false));
        p.handle(now, BoardToPlant::MotorMove { target: 99_999, max_velocity: 2000, acceleration: 4000 });
        assert!(!p.carousel.is_moving());
    }

    #[test]
    fn tag_reader_faults() {
        let mut p = AutomatPlant::new(30, 200, 0, 1);
        p.hooks[0] = Some(item(7));
        let now = Instant::from_millis(1);
        p.handle(now, BoardToPlant::ReadTag);
        p.tag_fault = TagFault::NoRead;
        p.handle(now, BoardToPlant::ReadTag);
        p.tag_fault = TagFault::WrongRead(TagId(9));
        p.handle(now, BoardToPlant::ReadTag);
        let r = p.poll(now);
        assert_eq!(
            r,
            [
                PlantToBoard::TagResult { tag: Some(TagId(7)) },
                PlantToBoard::TagResult { tag: None },
                PlantToBoard::TagResult { tag: Some(TagId(9)) }
            ]
        );
    }
}
