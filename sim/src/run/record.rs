//! What a run records: trace events, the observations expectations judge, problems, and what
//! comes out of the electronics (plant commands, captures, display lines, audit records, link
//! messages), each handled and written as it comes.

use controller::alerts::AlertKind;
use controller::event::Event;
use controller::{Camera, Input};
use firmware_proto::message::Message as _;
use image::RgbImage;

use super::{CAROUSEL_PATH_STEP, Run, fmt_time};
use crate::electronics::Outgoing;
use crate::expect::{self, Observation, Observed};
use crate::plant::{CameraFault, Item};
use crate::scene::{Pose, Swing};
use crate::trace::{
    Cabinet, CaptureResult, Dir, HookItem, Link, LinkMessage, LinkNote, Purpose, SceneAutomat, SceneUser,
    TraceEvent,
};
use firmware_proto::types::IndicatorMode;

impl Run {
    pub(super) fn show_scene(&mut self) {
        let sc = &self.scenario;
        let automats = sc
            .automats
            .iter()
            .map(|a| SceneAutomat { id: a.id, name: a.name.clone(), slots: a.slots })
            .collect();
        let users = sc
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| SceneUser {
                name: u.name.clone(),
                automat: u.automat.and_then(|a| self.automat_index(a)).unwrap_or(0),
                look: Some(u.look.person(i)),
            })
            .collect();
        let expectations = expect::descriptions(&sc.expect);
        self.emit(TraceEvent::Scene { automats, users, expectations });
    }

    /// Writes what changed on the plants since the trace last said (only when tracing): the
    /// carousel's path, the cabinet's outside, the hooks. Called once an instant has settled.
    pub(super) fn show_plants(&mut self) {
        if !self.trace.is_on() {
            return;
        }
        for i in 0..self.plants.len() {
            let plant = &self.plants[i];
            let shown = &mut self.shown[i];
            let mut events = Vec::new();
            let revision = plant.carousel.revision();
            if shown.carousel != Some(revision) {
                shown.carousel = Some(revision);
                let path = plant.carousel.path(self.now, CAROUSEL_PATH_STEP);
                let path = path.into_iter().map(|(t, p)| (t.as_micros(), p)).collect();
                events.push(TraceEvent::Carousel { automat: i, path });
            }
            let cabinet = Cabinet {
                door_open: plant.door.open,
                latched: !plant.door.releases(),
                leds: plant.indicators,
                powered: plant.powered,
                mains: plant.mains,
            };
            if shown.cabinet != Some(cabinet) {
                shown.cabinet = Some(cabinet);
                events.push(TraceEvent::Cabinet { automat: i, cabinet });
            }
            shown.hooks.resize(plant.hooks.len(), None);
            for (slot, (now, was)) in plant.hooks.iter().zip(shown.hooks.iter_mut()).enumerate() {
                if now != was {
                    was.clone_from(now);
                    let item =
                        now.as_ref().map(|it| HookItem { key: it.key.map(|k| k.0), look: it.look.clone() });
                    events.push(TraceEvent::Hook { automat: i, slot: slot as u8, item });
                }
            }
            for e in events {
                self.emit(e);
            }
        }
    }

    /// Something expectations can match happened: judged now, its summary line kept, and
    /// dropped (a run keeps nothing per observation).
    pub(super) fn observe(&mut self, what: Observation) {
        let o = Observed { at: self.now, what };
        self.judge.observe(&o);
        self.summary.extend(expect::summary_line(&o));
    }

    pub(super) fn problem(&mut self, text: String) {
        let text = match self.in_step {
            Some(i) => format!("{}: timeline[{i}]: {text}", fmt_time(self.now)),
            None => format!("{}: {text}", fmt_time(self.now)),
        };
        self.emit(TraceEvent::Problem { text: text.clone() });
        self.problems.push(text);
    }

    pub(super) fn outgoing(&mut self, o: Outgoing) {
        match o {
            Outgoing::Plant(i, cmd) => {
                self.observe(Observation::Plant(cmd.name()));
                if self.operator.is_none() {
                    self.plants[i].handle(self.now, cmd);
                }
            }
            Outgoing::Capture(i, camera, purpose, id) => self.capture(i, camera, purpose, id),
            Outgoing::Display(i, text) => {
                self.emit(TraceEvent::Display { automat: i, text: text.clone() });
                let screen = &mut self.screens[i];
                screen.lines += 1;
                if text.contains("Wrong key") {
                    screen.wrong_key = Some(screen.lines);
                }
                self.observe(Observation::Display(text));
            }
            Outgoing::Record(r) => self.record(r),
            Outgoing::Message(i, message) => {
                if let LinkMessage::HostUp(m) = &message {
                    self.observe(Observation::Board(m.name()));
                }
                if !self.leave_out.contains(&message.name()) {
                    self.emit(TraceEvent::Message { automat: i, message });
                }
            }
            Outgoing::FrameCaptured(i, name, payload) => {
                let note = LinkNote::FrameCaptured { name: name.clone(), bytes: payload.len() };
                self.emit(TraceEvent::Link { automat: i, link: Link::Host, note });
                self.frames.insert(name, payload);
            }
            Outgoing::LinkNote(i, link, note) => self.emit(TraceEvent::Link { automat: i, link, note }),
            Outgoing::RecoveryFailed(e) => self.problem(format!("the controller could not recover: {e}")),
            Outgoing::Wire(i, down, bytes) => {
                if self.trace.is_on() {
                    let hex = bytes.iter().map(|b| format!("{b:02x}")).collect();
                    let dir = if down { Dir::Down } else { Dir::Up };
                    self.emit(TraceEvent::Bytes { automat: i, dir, hex });
                }
            }
            Outgoing::BoardLost(i, why) => {
                self.problem(format!("automat {}: the line to its board is lost: {why}", i + 1));
                // Nothing more can be learnt: end the run here, the trace complete up to now.
                self.finished = true;
            }
        }
    }

    /// An audit record: traced, observed, and who opened each session noted (for the hands
    /// invariant and the people who wait their turn).
    fn record(&mut self, r: controller::audit::Record) {
        let name = r.event.name();
        match &r.event {
            Event::AlertRaised(a) => {
                self.alert_kinds.insert(a.id, (a.kind, a.key));
                self.observe(Observation::Alert(a.kind.name(), a.key.map(|k| k.0)));
            }
            Event::AlertCleared { alert } => {
                let (kind, key) = self.alert_kinds.get(alert).copied().unwrap_or((AlertKind::Tamper, None));
                self.observe(Observation::AlertCleared(kind.name(), key.map(|k| k.0)));
            }
            Event::SessionOpened { automat, .. } | Event::ReturnCodeUsed { automat, .. } => {
                if let Some(i) = self.automat_index(automat.0) {
                    let typist = self.last_user[i].clone();
                    self.owners[i] = typist.and_then(|name| self.user(&name));
                }
            }
            Event::SessionClosed { automat } => {
                if let Some(i) = self.automat_index(automat.0) {
                    self.owners[i] = None;
                }
            }
            _ => {}
        }
        let reason = match &r.event {
            Event::CodeRefused { reason, .. } => Some(reason.name()),
            _ => None,
        };
        self.observe(Observation::Audit(name, event_key(&r.event), reason));
        self.emit(TraceEvent::Audit { seq: r.seq, record: r.event });
    }

    /// Automat `i` as its cameras see it now: the carousel, the door, the hooks, the light,
    /// and the person who last used its keypad.
    pub(super) fn pose(&self, i: usize) -> Pose {
        let plant = &self.plants[i];
        let person =
            self.last_user[i].as_deref().and_then(|name| self.user(name)).map(|u| self.users[u].look);
        Pose {
            slots: plant.hooks.len() as u8,
            carousel: plant.carousel.position(self.now) / f64::from(super::COUNTS_PER_SLOT),
            door: if plant.door.open { 1.0 } else { 0.0 },
            hooks: plant.hooks.iter().map(|h| h.as_ref().map(|item| item.look.clone())).collect(),
            swing: Swing::default(),
            leds: plant.indicators.map(|m| m != IndicatorMode::Off),
            light: if plant.powered { 1.0 } else { 0.0 },
            person,
        }
    }

    fn capture(&mut self, i: usize, camera: Camera, purpose: Purpose, id: u64) {
        let plant = &self.plants[i];
        let (fault, cam) = match camera {
            Camera::Front => (plant.front_camera, "front"),
            Camera::Internal => (plant.internal_camera, "internal"),
        };
        let seed = self.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // The clock stands still while a rendered capture is drawn.
        let image = match fault {
            CameraFault::Fail => None,
            _ => match self.cameras.capture(camera, &self.pose(i), seed) {
                Ok(image) => Some(image),
                Err(e) => {
                    self.problem(format!("automat {}: the {cam} camera's capture {id} failed: {e}", i + 1));
                    None
                }
            },
        };
        let (image, result) = match (fault, image) {
            (_, None) => (None, CaptureResult::Fail),
            (CameraFault::Black, Some(image)) => {
                (Some(RgbImage::new(image.width(), image.height())), CaptureResult::Black)
            }
            (_, Some(image)) => (Some(image), CaptureResult::Ok),
        };
        let mut file = None;
        if let (Some(dir), Some(img)) = (&self.images, &image) {
            let name = format!("images/{:08}-a{i}-{cam}-{id}.png", self.now.as_micros() / 1000);
            let path = dir.join(&name);
            match img.save(&path) {
                Ok(()) => file = Some(name),
                Err(e) => self.problems.push(format!("cannot write {}: {e}", path.display())),
            }
        }
        self.emit(TraceEvent::Capture { automat: i, camera, purpose, id, file, result });
        let automat = self.automats[i];
        self.electronics.controller_input(self.now, Input::Image { automat, id, image });
    }
}

pub(super) fn describe(item: &Item) -> String {
    match item.key {
        Some(k) => format!("{k}"),
        None => format!("an untagged {} fob", item.look.label),
    }
}

fn event_key(e: &Event) -> Option<u32> {
    match e {
        Event::KeyFetched { key, .. }
        | Event::KeyReturned { key, .. }
        | Event::ReturnCodeUsed { key, .. } => Some(key.0),
        Event::WrongItemLeft { expected, .. } => Some(expected.0),
        Event::KeyEnrolled(k) => Some(k.id.0),
        Event::KeyReferenceSet { key, .. } => Some(key.0),
        Event::AlertRaised(a) => a.key.map(|k| k.0),
        _ => None,
    }
}
