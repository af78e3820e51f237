//! The timeline's steps: each is traced, then handed to the users, the plants' fault models,
//! the lines, or the API.

use firmware_proto::auth::{CommandSigner, PairingKey};
use firmware_proto::types::TagId;
use rand::Rng;

use super::Run;
use crate::plant::TagFault;
use crate::scenario::{self, Action};
use crate::trace::{PlantChange, TraceEvent};

impl Run {
    /// Runs timeline step `index`; problems it meets name it (`timeline[3]`).
    pub(super) fn do_step(&mut self, index: usize) {
        self.in_step = Some(index);
        self.run_step(index);
        self.in_step = None;
    }

    fn run_step(&mut self, index: usize) {
        let action = self.scenario.timeline[index].action.clone();
        if self.trace.is_on() {
            self.emit(TraceEvent::Step { index, action: action.redacted() });
        }
        if self.operator.is_some() && self.rig_step(&action) {
            return;
        }
        match action {
            Action::Take { .. }
            | Action::Return { .. }
            | Action::Press { .. }
            | Action::OpenDoor { .. }
            | Action::CloseDoor { .. }
            | Action::TakeKey { .. }
            | Action::Grab { .. }
            | Action::Hang { .. }
            | Action::Give { .. } => self.user_step(action),
            Action::CreateContract(_)
            | Action::DeleteContract { .. }
            | Action::RevokeContact { .. }
            | Action::RegeneratePin { .. }
            | Action::Reservation(_) => self.api_step(action),
            Action::PowerCut { .. } | Action::PowerRestore => self.power_step(action),
            Action::HostLine { .. }
            | Action::DropHostLine { .. }
            | Action::InjectForgedUnlock { .. }
            | Action::CaptureFrame { .. }
            | Action::ReplayFrame { .. }
            | Action::InjectBytes { .. } => self.line_step(action),
            Action::Stall { .. }
            | Action::ClearStall { .. }
            | Action::LoseSteps { .. }
            | Action::EncoderNoise { .. }
            | Action::Latch { .. }
            | Action::TagReader { .. }
            | Action::Camera { .. }
            | Action::Mains { .. }
            | Action::Tamper { .. } => self.fault_step(action),
        }
    }

    /// A fault of an automat's mechanics or sensors.
    fn fault_step(&mut self, action: Action) {
        let now = self.now;
        let automat = |run: &Self, id: u32| run.automat_index(id);
        match action {
            Action::Stall { automat: a, duration } => {
                if let Some(i) = automat(self, a) {
                    self.plants[i].carousel.jam(now, duration.map(|d| d.0));
                }
            }
            Action::ClearStall { automat: a } => {
                if let Some(i) = automat(self, a) {
                    self.plants[i].carousel.clear_stall(now);
                }
            }
            Action::LoseSteps { automat: a, counts } => {
                if let Some(i) = automat(self, a) {
                    self.plants[i].carousel.lose_steps(counts);
                }
            }
            Action::EncoderNoise { automat: a, counts } => {
                if let Some(i) = automat(self, a) {
                    self.plants[i].carousel.noise = counts;
                }
            }
            Action::Latch { automat: a, fault } => {
                if let Some(i) = automat(self, a) {
                    self.plants[i].door.fault = fault;
                }
            }
            Action::TagReader { automat: a, fault } => {
                if let Some(i) = automat(self, a) {
                    self.plants[i].tag_fault = match fault {
                        scenario::TagFaultSpec::Ok => TagFault::None,
                        scenario::TagFaultSpec::NoRead => TagFault::NoRead,
                        scenario::TagFaultSpec::WrongRead(t) => {
                            TagFault::WrongRead(TagId(scenario::load::tag(&t).unwrap_or(0)))
                        }
                    };
                }
            }
            Action::Camera { automat: a, camera, fault } => {
                if let Some(i) = automat(self, a) {
                    match camera {
                        scenario::CameraSpec::Front => self.plants[i].front_camera = fault,
                        scenario::CameraSpec::Internal => self.plants[i].internal_camera = fault,
                    }
                }
            }
            Action::Mains { automat: a, on } => {
                if let Some(i) = automat(self, a) {
                    self.plants[i].set_mains(now, on);
                }
            }
            Action::Tamper { automat: a } => {
                if let Some(i) = automat(self, a) {
                    self.plants[i].set_tamper(now, true);
                }
            }
            _ => {}
        }
    }

    /// The site's power goes or comes back.
    fn power_step(&mut self, action: Action) {
        let now = self.now;
        match action {
            Action::PowerCut { survive_bytes } => {
                let mut out = Vec::new();
                self.electronics.power_cut(survive_bytes as usize);
                for (i, p) in self.plants.iter_mut().enumerate() {
                    p.power_off(now);
                    self.electronics.supply_report(i, false, now, &mut out);
                }
                self.emit(TraceEvent::Plant { automat: 0, change: PlantChange::PowerCut });
                for o in out {
                    self.outgoing(o);
                }
            }
            Action::PowerRestore => {
                let mut out = Vec::new();
                self.electronics.power_restore(now, &mut out);
                for (i, p) in self.plants.iter_mut().enumerate() {
                    p.power_on(now);
                    self.electronics.supply_report(i, true, now, &mut out);
                }
                self.emit(TraceEvent::Plant { automat: 0, change: PlantChange::PowerRestored });
                for o in out {
                    self.outgoing(o);
                }
            }
            _ => {}
        }
    }

    /// The host line: its behaviour, and an attacker on it.
    fn line_step(&mut self, action: Action) {
        let now = self.now;
        let automat = |run: &Self, id: u32| run.automat_index(id);
        let mut out = Vec::new();
        match action {
            Action::HostLine { automat: a, line } => {
                if let Some(i) = automat(self, a) {
                    self.electronics.set_host_line(i, line);
                }
            }
            Action::DropHostLine { automat: a, duration } => {
                if let Some(i) = automat(self, a) {
                    self.electronics.drop_host_line(i, now, now + duration.0);
                }
            }
            Action::InjectForgedUnlock { automat: a } => {
                if let Some(i) = automat(self, a) {
                    // The attacker knows the protocol but not the pairing key.
                    let mut forger =
                        CommandSigner::new(PairingKey(self.rng.random()), 0x0B00_0000 + a, 1_000_000);
                    let forged = forger.unlock_door(30_000);
                    self.electronics.inject_message(i, now, &forged, &mut out);
                }
            }
            Action::CaptureFrame { automat: a, name, message } => {
                if let Some(i) = automat(self, a) {
                    self.electronics.arm_capture(i, message.name(), name);
                }
            }
            Action::ReplayFrame { automat: a, name } => {
                let Some(payload) = self.frames.get(&name).cloned() else {
                    // The message never went (the session it was armed for did not unlock).
                    let text = format!("replay: nothing was captured as {name:?}");
                    if self.scenario.improvise {
                        self.emit(TraceEvent::User { user: "attacker".into(), act: text });
                    } else {
                        self.problem(text);
                    }
                    return;
                };
                if let Some(i) = automat(self, a) {
                    self.electronics.replay_payload(i, now, &payload, &mut out);
                }
            }
            Action::InjectBytes { automat: a, hex } => {
                if let Some(i) = automat(self, a) {
                    let bytes = crate::scenario::load::hex_bytes(&hex).unwrap_or_default();
                    self.electronics.inject_bytes(i, now, &bytes, &mut out);
                }
            }
            _ => {}
        }
        for o in out {
            self.outgoing(o);
        }
    }
}
