//! What happens at an automat: the keypad, authorisation, and the take and return flow of a
//! session, step by step with the board and the cameras.
//!
//! A session runs its tasks (take key K from slot S, return key K into slot S) in the planned
//! order. Each task: present the slot → internal camera "before" → unlock → door opened → the
//! key is taken or hung (occupancy, tag) → door closed → internal camera "after" → verify.
//! A wrong key noticed while the door is open makes the display ask for it back; one found
//! after the door closed makes the controller present the slot again for the user to take it
//! back; one left behind is an incident, with the user's photo and both slot images.

use std::collections::{BTreeSet, VecDeque};

use firmware_proto::auth::CommandSigner;
use firmware_proto::host::BoardToHost;
use firmware_proto::types::{IndicatorMode, TagId};
use image::RgbImage;
use jiff::Timestamp;

use crate::alerts::{Alert, AlertKind};
use crate::allocation;
use crate::controller::{Camera, Controller, KeypadKey, after};
use crate::event::{Event, ImageRef, Images, Refusal, Verdict, Verification};
use crate::ids::*;
use crate::model::{KeyLocation, Pin, Purpose, ReturnCode, Storage};
use crate::verify::Signature;

/// Why a capture was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapturePurpose {
    /// The user at PIN entry.
    UserPhoto,
    /// The slot before the door opens.
    Before,
    /// The slot after the door closed.
    After,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskKind {
    Take,
    Return,
    /// Present the slot (without unlocking) and compare what hangs there with the record.
    Check,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Task {
    kind: TaskKind,
    key: KeyId,
    /// The contract it is taken under, or was held under.
    contract: Option<ContractId>,
    slot: Slot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// `PresentSlot` sent.
    Presenting,
    /// Waiting for the "before" image.
    Before,
    /// `UnlockDoor` sent; waiting for the user to open.
    Unlocking,
    /// The door is open.
    Open,
    /// The door closed; waiting for the "after" image (and, for a return, the tag).
    Closing,
}

#[derive(Clone, Debug)]
struct Active {
    task: Task,
    step: Step,
    images: Images,
    /// The occupancy sensor's last word on the slot.
    occupied: bool,
    /// `Some(answer)` once the tag read after closing came back.
    tag: Option<Option<TagId>>,
    /// Waiting for a tag read.
    tag_pending: bool,
    /// `Some(signature or camera failure)` once the after image came back.
    after: Option<Option<Signature>>,
    /// The user is asked to take a wrong item back out.
    take_back: bool,
    /// What the check found when it sent the user to take it back.
    wrong: Option<(Option<KeyId>, Verification)>,
    /// A take: the key left its hook and `KeyFetched` is committed.
    fetched: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Session {
    photo: Option<ImageRef>,
    tasks: VecDeque<Task>,
    active: Option<Active>,
    /// Deadline of a step that waits on a machine (board or camera).
    deadline: Option<Timestamp>,
    /// Slots found occupied although the registry has them free.
    avoid: BTreeSet<Slot>,
}

/// Runtime state of one automat (not durable: a restart starts it afresh).
#[derive(Debug)]
pub(crate) struct AutomatRt {
    pub(crate) signer: CommandSigner,
    /// Hello challenges sent and not answered yet (the last few).
    pub(crate) challenges: Vec<[u8; 16]>,
    pub(crate) paired: bool,
    digits: String,
    star: bool,
    entry_deadline: Option<Timestamp>,
    wrong: u8,
    locked_until: Option<Timestamp>,
    session: Option<Session>,
    door_open_since: Option<Timestamp>,
    door_alerted: bool,
    at_window: Option<Slot>,
    /// Homed since it booted: the carousel can present.
    homed: bool,
    /// Keys whose slots to check once the board is paired and homed: those of a session a
    /// power cut interrupted.
    pub(crate) check: BTreeSet<KeyId>,
    /// The user's photo of that session: what the check finds is on record with it.
    pub(crate) check_photo: Option<ImageRef>,
    /// The indicator modes last sent (Ready, Busy, Fault, Window); `None` after (re)pairing.
    pub(crate) leds: Option<[IndicatorMode; 4]>,
}

impl AutomatRt {
    pub(crate) fn new(signer: CommandSigner) -> Self {
        AutomatRt {
            signer,
            challenges: Vec::new(),
            paired: false,
            digits: String::new(),
            star: false,
            entry_deadline: None,
            wrong: 0,
            locked_until: None,
            session: None,
            door_open_since: None,
            door_alerted: false,
            at_window: None,
            homed: false,
            check: BTreeSet::new(),
            check_photo: None,
            leds: None,
        }
    }

    /// What the indicators should show: Ready while the automat can serve someone, Busy during
    /// a session, Fault while `fault` (an open fault alert), Window while the door is open.
    pub(crate) fn indicators(&self, now: Timestamp, fault: bool) -> [IndicatorMode; 4] {
        let on = |b: bool| if b { IndicatorMode::On } else { IndicatorMode::Off };
        let locked = self.locked_until.is_some_and(|t| now < t);
        [
            on(self.paired && self.session.is_none() && !locked && !fault),
            on(self.session.is_some()),
            on(fault),
            on(self.door_open_since.is_some()),
        ]
    }

    /// The automat's timers; `door_limit` is how long the door may stay open.
    pub(crate) fn deadlines(&self, door_limit: std::time::Duration) -> impl Iterator<Item = Timestamp> + '_ {
        let door = self.door_open_since.filter(|_| !self.door_alerted).map(|s| after(s, door_limit));
        [self.entry_deadline, self.locked_until, self.session.as_ref().and_then(|s| s.deadline), door]
            .into_iter()
            .flatten()
    }

    /// Whether a session is running.
    pub(crate) fn in_session(&self) -> bool {
        self.session.is_some()
    }

    /// Whether the session in progress (if any) is returning `key`, now or later.
    pub(crate) fn returning(&self, key: KeyId) -> bool {
        self.session.as_ref().is_some_and(|s| {
            s.active
                .iter()
                .map(|a| &a.task)
                .chain(&s.tasks)
                .any(|t| t.kind == TaskKind::Return && t.key == key)
        })
    }
}

/// What a PIN allows at an automat now.
#[derive(Debug, Default)]
pub struct Authorisation {
    /// The contracts the PIN matched (usable now or not).
    pub contracts: Vec<ContractId>,
    tasks: Vec<Task>,
    /// What to tell the user about matched contracts that allow nothing now.
    pub notices: Vec<String>,
    /// Why, notice by notice.
    pub refusals: Vec<Refusal>,
    /// Shared keys of the contracts that another holder has out.
    pub shared_out: Vec<(KeyId, ContractId)>,
}

impl Authorisation {
    /// Keys to take now, with their slots.
    pub fn takes(&self) -> impl Iterator<Item = (KeyId, Slot)> + '_ {
        self.tasks.iter().filter(|t| t.kind == TaskKind::Take).map(|t| (t.key, t.slot))
    }

    /// Keys to return now.
    pub fn returns(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.tasks.iter().filter(|t| t.kind == TaskKind::Return).map(|t| t.key)
    }

    /// Why the code opens nothing, when it does not: the first contract's reason, a key out
    /// with someone else before "nothing due".
    pub fn refusal(&self) -> Refusal {
        match self.refusals.iter().find(|r| **r != Refusal::NothingDue) {
            Some(r) => *r,
            None if !self.shared_out.is_empty() => Refusal::KeyHeldElsewhere,
            None => Refusal::NothingDue,
        }
    }

    fn notice(&mut self, reason: Refusal, text: impl Into<String>) {
        self.notices.push(text.into());
        self.refusals.push(reason);
    }
}

impl Controller {
    // ---- keypad ----

    pub(crate) fn on_keypad(&mut self, automat: AutomatId, key: KeypadKey) {
        let timeout = self.cfg.entry_timeout;
        let now = self.now;
        let Some(rt) = self.automats.get_mut(&automat) else { return };
        if rt.in_session() {
            return;
        }
        rt.entry_deadline = Some(after(now, timeout));
        match key {
            KeypadKey::Digit(d) if d < 10 => {
                if rt.digits.len() < Pin::MAX_LEN {
                    rt.digits.push(char::from(b'0' + d));
                }
            }
            KeypadKey::Digit(_) => {}
            KeypadKey::Star => {
                rt.digits.clear();
                rt.star = true;
            }
            KeypadKey::Cancel => {
                rt.digits.clear();
                rt.star = false;
                rt.entry_deadline = None;
            }
            KeypadKey::Enter => {
                let digits = std::mem::take(&mut rt.digits);
                let star = std::mem::take(&mut rt.star);
                rt.entry_deadline = None;
                self.on_code(automat, &digits, star);
            }
        }
    }

    fn on_code(&mut self, automat: AutomatId, digits: &str, star: bool) {
        let photo = self.capture(automat, Camera::Front, CapturePurpose::UserPhoto);
        let now = self.now;
        if self.automats.get(&automat).and_then(|rt| rt.locked_until).is_some_and(|t| now < t) {
            self.display(automat, "Keypad locked. Try again later.");
            let attempts = self.cfg.max_wrong_codes;
            self.refuse(automat, Refusal::LockedOut, Vec::new(), attempts, photo);
            return;
        }
        if star {
            self.on_return_code(automat, digits, photo);
            return;
        }
        let pin = Pin::parse(digits);
        let auth = pin.as_ref().map(|pin| self.authorise(automat, pin)).unwrap_or_default();
        if auth.contracts.is_empty() {
            match pin.as_ref().and_then(|pin| self.held_elsewhere(automat, pin)) {
                Some((text, contract)) => {
                    self.display(automat, text);
                    self.refuse(automat, Refusal::ReturnElsewhere, vec![contract], 0, photo);
                }
                None => self.wrong_code(automat, photo),
            }
            return;
        }
        if let Some(rt) = self.automats.get_mut(&automat) {
            rt.wrong = 0;
        }
        for notice in &auth.notices {
            self.display(automat, notice.clone());
        }
        for &(key, holder) in &auth.shared_out {
            let name = self.key_name(key);
            self.display(automat, format!("{name} is out with another user."));
            if self.cfg.alert_shared_key_out {
                self.raise(
                    AlertKind::SharedKeyOut,
                    Some(automat),
                    Some(key),
                    Some(holder),
                    format!("{name} is out"),
                );
            }
        }
        if auth.tasks.is_empty() {
            if auth.notices.is_empty() && auth.shared_out.is_empty() {
                self.display(automat, "Nothing to take or return now.");
            }
            let reason = auth.refusal();
            self.refuse(automat, reason, auth.contracts, 0, photo);
            return;
        }
        self.commit(Event::SessionOpened { automat, contracts: auth.contracts.clone(), photo: Some(photo) });
        self.start_session(automat, photo, auth.tasks);
    }

    /// Records a code that opened nothing (never the code itself), with the user's photo.
    fn refuse(
        &mut self,
        automat: AutomatId,
        reason: Refusal,
        contracts: Vec<ContractId>,
        attempts: u8,
        photo: ImageRef,
    ) {
        self.commit(Event::CodeRefused { automat, reason, contracts, attempts, photo: Some(photo) });
    }

    fn on_return_code(&mut self, automat: AutomatId, digits: &str, photo: ImageRef) {
        let Some(code) = ReturnCode::parse(digits) else {
            self.wrong_code(automat, photo);
            return;
        };
        let found = self.registry.keys().find(|e| {
            e.key.return_code == Some(code)
                && matches!(e.key.storage, Storage::Slot { automat: a, .. } if a == automat)
                && matches!(e.location, KeyLocation::Held { .. })
        });
        let Some(entry) = found else {
            self.wrong_code(automat, photo);
            return;
        };
        let (key, contract) = (entry.key.id, self.registry.holder(entry.key.id));
        let Storage::Slot { slot, .. } = entry.key.storage else { return };
        if self.registry.slot(automat, slot).is_some() {
            self.display(automat, "The key's slot is occupied: the return code cannot be used now.");
            self.refuse(automat, Refusal::SlotOccupied, contract.into_iter().collect(), 0, photo);
            return;
        }
        if let Some(rt) = self.automats.get_mut(&automat) {
            rt.wrong = 0;
        }
        self.commit(Event::ReturnCodeUsed { automat, key, photo: Some(photo) });
        let task = Task { kind: TaskKind::Return, key, contract, slot };
        self.start_session(automat, photo, vec![task]);
    }

    fn wrong_code(&mut self, automat: AutomatId, photo: ImageRef) {
        let (max, lockout, now) = (self.cfg.max_wrong_codes, self.cfg.lockout, self.now);
        let Some(rt) = self.automats.get_mut(&automat) else { return };
        rt.wrong = rt.wrong.saturating_add(1);
        let attempts = rt.wrong;
        let locked = attempts >= max;
        if locked {
            rt.locked_until = Some(after(now, lockout));
            rt.wrong = 0;
        }
        self.display(automat, "Wrong code.");
        self.refuse(automat, Refusal::WrongCode, Vec::new(), attempts, photo);
        if locked {
            let until = after(now, lockout);
            self.commit(Event::Lockout { automat, until });
            self.display(automat, "Too many wrong codes: keypad locked.");
            self.raise_with(Alert {
                id: self.registry.next_alert_id(),
                kind: AlertKind::Lockout,
                raised_at: now,
                automat: Some(automat),
                key: None,
                contract: None,
                found: None,
                images: Images { user: Some(photo), before: None, after: None },
                detail: format!("{attempts} wrong codes"),
            });
        }
    }

    /// Which of the contracts behind this PIN allow what at the controller's `now`: keys due
    /// to be taken, keys due to be returned, and why others are not.
    pub fn authorise(&self, automat: AutomatId, pin: &Pin) -> Authorisation {
        let digest = self.pins.digest(automat, pin);
        let now = self.now;
        let mut auth = Authorisation::default();
        for &id in self.registry.contracts_with_pin(automat, digest) {
            let Some(c) = self.registry.contract(id) else { continue };
            if c.revoked {
                auth.contracts.push(id);
                auth.notice(Refusal::Revoked, "This code has been revoked.");
                continue;
            }
            if !c.covers(now) || c.schedule.as_ref().is_some_and(|s| !s.allows(now)) {
                let (reason, why) = if now < c.start {
                    (Refusal::NotStarted, "Your contract has not started yet.")
                } else if c.end.is_some_and(|e| now >= e) {
                    (Refusal::Ended, "Your contract has ended.")
                } else {
                    (Refusal::OutsideSchedule, "Your contract does not allow access at this time.")
                };
                auth.contracts.push(id);
                auth.notice(reason, why);
                continue;
            }
            auth.contracts.push(id);
            for &key in &c.keys {
                let Some(entry) = self.registry.key(key) else { continue };
                match entry.location {
                    KeyLocation::Stored(Storage::Slot { automat: a, slot }) if a == automat => {
                        if c.purpose != Purpose::Return && !auth.tasks.iter().any(|t| t.key == key) {
                            auth.tasks.push(Task { kind: TaskKind::Take, key, contract: Some(id), slot });
                        }
                    }
                    KeyLocation::Held { contract: holder, .. } => {
                        let same = holder == id
                            || c.reservation.is_some()
                                && self
                                    .registry
                                    .contract(holder)
                                    .is_some_and(|h| h.reservation == c.reservation);
                        if same {
                            if c.purpose != Purpose::Fetch && !auth.tasks.iter().any(|t| t.key == key) {
                                auth.tasks.push(Task {
                                    kind: TaskKind::Return,
                                    key,
                                    contract: Some(holder),
                                    slot: 0,
                                });
                            }
                        } else {
                            auth.shared_out.push((key, holder));
                        }
                    }
                    KeyLocation::Stored(_) => {
                        auth.notice(
                            Refusal::NothingDue,
                            format!("{} is not in this automat.", entry.key.name),
                        );
                    }
                }
            }
        }
        auth
    }

    /// Roaming returns are not accepted: a key goes back to the automat it is stored in. A PIN
    /// of another automat's contract whose key is out tells the user where to return it (and
    /// is not counted as a wrong code); `None` when the PIN means nothing anywhere.
    fn held_elsewhere(&self, automat: AutomatId, pin: &Pin) -> Option<(String, ContractId)> {
        self.registry.automats().filter(|a| a.id != automat).find_map(|home| {
            let digest = self.pins.digest(home.id, pin);
            self.registry.contracts_with_pin(home.id, digest).iter().find_map(|&id| {
                let contract = self.registry.contract(id)?;
                let key = contract.keys.iter().find(|&&k| self.registry.holder(k) == Some(id))?;
                Some((format!("Return {} at {}.", self.key_name(*key), home.name), id))
            })
        })
    }

    /// After a power cut interrupted a session: once the board is paired and homed, presents
    /// the slots of that session's keys, without unlocking, and raises `SlotMismatch` for
    /// each slot whose content differs from the record.
    pub(crate) fn start_check(&mut self, automat: AutomatId) {
        let Some(rt) = self.automats.get(&automat) else { return };
        if !rt.paired || !rt.homed || rt.session.is_some() || rt.check.is_empty() {
            return;
        }
        let keys = rt.check.clone();
        let tasks: Vec<Task> = keys
            .iter()
            .filter_map(|&key| match self.registry.key(key)?.key.storage {
                Storage::Slot { automat: a, slot } if a == automat => {
                    Some(Task { kind: TaskKind::Check, key, contract: None, slot })
                }
                _ => None,
            })
            .collect();
        let photo = self.automats.get_mut(&automat).and_then(|rt| {
            rt.check.clear();
            rt.check_photo.take()
        });
        self.begin_session(automat, photo, tasks);
    }

    /// The board homed (after a boot, or a motor fault).
    pub(crate) fn homed(&mut self, automat: AutomatId) {
        if let Some(rt) = self.automats.get_mut(&automat) {
            rt.homed = true;
        }
        self.start_check(automat);
    }

    /// The board booted: it must home again before it presents.
    pub(crate) fn booted(&mut self, automat: AutomatId) {
        if let Some(rt) = self.automats.get_mut(&automat) {
            rt.homed = false;
        }
    }

    fn start_session(&mut self, automat: AutomatId, photo: ImageRef, mut tasks: Vec<Task>) {
        let n = self.registry.automat(automat).map_or(30, |a| a.slots);
        // Returns go to the key's own slot, or the nearest free one.
        let mut reserved: BTreeSet<Slot> = BTreeSet::new();
        tasks.retain_mut(|t| {
            if t.kind == TaskKind::Take {
                return true;
            }
            let own = match self.registry.key(t.key).map(|e| e.key.storage) {
                Some(Storage::Slot { automat: a, slot }) if a == automat => slot,
                _ => 0,
            };
            let free = |s: Slot| self.registry.slot(automat, s).is_none() && !reserved.contains(&s);
            match allocation::return_slot(n, own, free) {
                Some(s) => {
                    t.slot = s;
                    reserved.insert(s);
                    true
                }
                None => false,
            }
        });
        self.begin_session(automat, Some(photo), tasks);
    }

    /// Opens the session of `tasks`, in the order that turns the carousel least from the slot
    /// at the window, and starts the first.
    fn begin_session(&mut self, automat: AutomatId, photo: Option<ImageRef>, tasks: Vec<Task>) {
        let n = self.registry.automat(automat).map_or(30, |a| a.slots);
        let from = self.automats.get(&automat).and_then(|rt| rt.at_window).unwrap_or(0);
        let slots: Vec<Slot> = tasks.iter().map(|t| t.slot).collect();
        let (order, _) = allocation::plan(n, from, &slots);
        let ordered: VecDeque<Task> =
            order.iter().filter_map(|s| tasks.iter().find(|t| t.slot == *s).copied()).collect();
        if let Some(rt) = self.automats.get_mut(&automat) {
            rt.session =
                Some(Session { photo, tasks: ordered, active: None, deadline: None, avoid: BTreeSet::new() });
        }
        self.next_task(automat);
    }

    fn next_task(&mut self, automat: AutomatId) {
        let Some(rt) = self.automats.get_mut(&automat) else { return };
        let Some(session) = rt.session.as_mut() else { return };
        let Some(task) = session.tasks.pop_front() else {
            rt.session = None;
            self.display(automat, "Thank you.");
            self.commit(Event::SessionClosed { automat });
            self.session_ended();
            return;
        };
        session.active = Some(Active {
            task,
            step: Step::Presenting,
            images: Images { user: session.photo, before: None, after: None },
            occupied: false,
            tag: None,
            tag_pending: false,
            after: None,
            take_back: false,
            wrong: None,
            fetched: false,
        });
        self.present(automat, task.slot);
    }

    fn present(&mut self, automat: AutomatId, slot: Slot) {
        let deadline = after(self.now, self.cfg.step_timeout);
        let Some(rt) = self.automats.get_mut(&automat) else { return };
        let message = rt.signer.present_slot(slot);
        if let Some(s) = rt.session.as_mut() {
            s.deadline = Some(deadline);
        }
        self.display(automat, "Please wait…");
        self.send_board(automat, message);
    }

    fn unlock(&mut self, automat: AutomatId) {
        let window = self.cfg.unlock_window.as_millis().min(u128::from(u32::MAX)) as u32;
        let Some(rt) = self.automats.get_mut(&automat) else { return };
        let message = rt.signer.unlock_door(window);
        if let Some(s) = rt.session.as_mut() {
            s.deadline = None;
            if let Some(a) = s.active.as_mut() {
                a.step = Step::Unlocking;
            }
        }
        self.send_board(automat, message);
    }

    fn active(&mut self, automat: AutomatId) -> Option<&mut Active> {
        self.automats.get_mut(&automat)?.session.as_mut()?.active.as_mut()
    }

    fn set_deadline(&mut self, automat: AutomatId, deadline: Option<Timestamp>) {
        if let Some(s) = self.automats.get_mut(&automat).and_then(|rt| rt.session.as_mut()) {
            s.deadline = deadline;
        }
    }

    /// Whether a session at any automat is returning `key`.
    pub(crate) fn returning(&self, key: KeyId) -> bool {
        self.automats.values().any(|rt| rt.returning(key))
    }

    fn key_name(&self, key: KeyId) -> String {
        self.registry.key(key).map_or_else(|| key.to_string(), |e| e.key.name.clone())
    }

    // ---- board reports in a session ----

    pub(crate) fn session_board(&mut self, automat: AutomatId, message: BoardToHost) {
        match message {
            BoardToHost::SlotPresented { slot, occupied } => {
                if let Some(rt) = self.automats.get_mut(&automat) {
                    rt.at_window = Some(slot);
                }
                self.slot_presented(automat, slot, occupied);
            }
            BoardToHost::PresentFailed { .. } | BoardToHost::Rejected { .. } => {
                let waiting = self
                    .active(automat)
                    .is_some_and(|a| matches!(a.step, Step::Presenting | Step::Unlocking));
                if waiting {
                    self.abort_session(automat, "Out of order. Please contact staff.");
                }
            }
            BoardToHost::UnlockExpired => self.unlock_expired(automat),
            BoardToHost::DoorOpened => {
                let now = self.now;
                if let Some(rt) = self.automats.get_mut(&automat) {
                    rt.door_open_since = Some(now);
                    rt.door_alerted = false;
                }
                let Some(a) = self.active(automat) else { return };
                a.step = Step::Open;
                let (kind, take_back, key) = (a.task.kind, a.take_back, a.task.key);
                let name = self.key_name(key);
                let text = match (kind, take_back) {
                    (_, true) => "Please take the wrong item back.".to_string(),
                    (TaskKind::Take, false) => format!("Take {name}."),
                    (TaskKind::Return, false) => format!("Hang {name} on the hook."),
                    (TaskKind::Check, false) => "Please close the door.".to_string(),
                };
                self.display(automat, text);
            }
            BoardToHost::Occupancy { occupied, .. } => {
                let Some(a) = self.active(automat) else { return };
                a.occupied = occupied;
                if a.step != Step::Open {
                    return;
                }
                let (kind, take_back, key) = (a.task.kind, a.take_back, a.task.key);
                if kind == TaskKind::Return && occupied && !take_back {
                    a.tag_pending = true;
                    self.send_board(automat, firmware_proto::host::HostToBoard::ReadTag);
                } else if kind == TaskKind::Take && !occupied && !a.fetched {
                    // The take is a fact the moment the key leaves its hook: committed now, it
                    // survives a power cut before the door closes.
                    a.fetched = true;
                    let (task, images) = (a.task, a.images);
                    if let Some(contract) = task.contract {
                        self.commit(Event::KeyFetched { key, contract, automat, slot: task.slot, images });
                        self.schedule_overdue(key);
                    }
                } else if take_back && !occupied {
                    let name = self.key_name(key);
                    self.display(automat, format!("Thank you. Close the door, then return {name}."));
                }
            }
            BoardToHost::TagRead { tag, .. } => self.tag_read(automat, tag),
            BoardToHost::DoorClosed => {
                if let Some(rt) = self.automats.get_mut(&automat) {
                    rt.door_open_since = None;
                }
                self.clear_alerts(|a| a.kind == AlertKind::DoorHeldOpen && a.automat == Some(automat));
                let Some(a) = self.active(automat) else { return };
                if a.step != Step::Open {
                    return;
                }
                // A return, or a take whose key (or something) hangs on the hook again.
                let wants_tag = a.occupied && (a.task.kind == TaskKind::Return || a.fetched);
                self.inspect(automat, wants_tag);
            }
            _ => {}
        }
    }

    /// The door is closed on the active task's slot: takes the "after" picture and, when
    /// `wants_tag`, reads the tag; [`Controller::try_finish`] decides once both are in.
    fn inspect(&mut self, automat: AutomatId, wants_tag: bool) {
        let step_timeout = after(self.now, self.cfg.step_timeout);
        let Some(a) = self.active(automat) else { return };
        a.step = Step::Closing;
        a.after = None;
        a.tag = None;
        a.tag_pending = wants_tag;
        self.set_deadline(automat, Some(step_timeout));
        let id = self.capture(automat, Camera::Internal, CapturePurpose::After);
        if let Some(a) = self.active(automat) {
            a.images.after = Some(id);
            if a.task.kind == TaskKind::Check {
                // The slot as the check finds it, door closed: before and after are one picture.
                a.images.before = Some(id);
            }
        }
        if wants_tag {
            self.send_board(automat, firmware_proto::host::HostToBoard::ReadTag);
        }
    }

    fn slot_presented(&mut self, automat: AutomatId, slot: Slot, occupied: bool) {
        let Some(a) = self.active(automat) else { return };
        if a.step != Step::Presenting || a.task.slot != slot {
            return;
        }
        a.occupied = occupied;
        let (kind, take_back, key) = (a.task.kind, a.take_back, a.task.key);
        if take_back {
            self.unlock(automat);
            return;
        }
        match (kind, occupied) {
            (TaskKind::Check, _) => {
                let stored = matches!(
                    self.registry.key(key).map(|e| e.location),
                    Some(KeyLocation::Stored(Storage::Slot { automat: a, slot: s })) if a == automat && s == slot
                );
                if stored && !occupied {
                    let name = self.key_name(key);
                    let detail = format!("{name} is not in slot {slot}, where the record has it");
                    self.raise(AlertKind::SlotMismatch, Some(automat), Some(key), None, detail);
                }
                if !stored && occupied {
                    // Something hangs where the record has the key out: identified as a return
                    // would be, by tag and camera (see `identify_checked`).
                    self.inspect(automat, true);
                    return;
                }
                self.next_task(automat);
            }
            (TaskKind::Take, false) => {
                let name = self.key_name(key);
                self.display(automat, format!("{name} is not in its slot. Staff have been told."));
                self.raise(
                    AlertKind::WrongKey,
                    Some(automat),
                    Some(key),
                    None,
                    format!("{name} missing from slot {slot}"),
                );
                self.next_task(automat);
            }
            (TaskKind::Return, true) => {
                // The registry had the slot free but something hangs there: go elsewhere.
                let n = self.registry.automat(automat).map_or(30, |a| a.slots);
                let Some(session) = self.automats.get_mut(&automat).and_then(|rt| rt.session.as_mut()) else {
                    return;
                };
                session.avoid.insert(slot);
                let avoid = session.avoid.clone();
                let free = |s: Slot| self.registry.slot(automat, s).is_none() && !avoid.contains(&s);
                match allocation::return_slot(n, slot, free) {
                    Some(s) => {
                        if let Some(a) = self.active(automat) {
                            a.task.slot = s;
                        }
                        self.present(automat, s);
                    }
                    None => self.abort_session(automat, "No free slot. Please contact staff."),
                }
            }
            _ => {
                let deadline = after(self.now, self.cfg.step_timeout);
                if let Some(a) = self.active(automat) {
                    a.step = Step::Before;
                }
                self.set_deadline(automat, Some(deadline));
                let id = self.capture(automat, Camera::Internal, CapturePurpose::Before);
                if let Some(a) = self.active(automat) {
                    a.images.before = Some(id);
                }
            }
        }
    }

    fn tag_read(&mut self, automat: AutomatId, tag: Option<TagId>) {
        let Some(a) = self.active(automat) else { return };
        if !a.tag_pending {
            return;
        }
        a.tag_pending = false;
        let (step, key) = (a.step, a.task.key);
        match step {
            Step::Open => {
                let expected = self.registry.key(key).and_then(|e| e.key.tag);
                if tag.is_some() && tag != expected {
                    self.display(automat, "Wrong key! Please take it back.");
                }
            }
            Step::Closing => {
                if let Some(a) = self.active(automat) {
                    a.tag = Some(tag);
                }
                self.try_finish(automat);
            }
            _ => {}
        }
    }

    fn unlock_expired(&mut self, automat: AutomatId) {
        let Some(a) = self.active(automat) else { return };
        if a.step != Step::Unlocking {
            return;
        }
        let a = a.clone();
        if a.take_back {
            self.incident(automat, &a);
        } else {
            let name = self.key_name(a.task.key);
            self.display(automat, format!("Door not opened: {name} stays where it is."));
        }
        self.next_task(automat);
    }

    /// The signature of an image from `automat`'s internal camera: against its plate if it
    /// was calibrated.
    pub(crate) fn signature(&self, automat: AutomatId, image: &RgbImage) -> Signature {
        match self.cfg.plate(automat) {
            Some(plate) => Signature::against(image, plate),
            None => Signature::of(image),
        }
    }

    pub(crate) fn on_image(&mut self, automat: AutomatId, id: ImageRef, image: Option<RgbImage>) {
        let Some((owner, purpose)) = self.captures.remove(&id) else { return };
        if owner != automat {
            return;
        }
        match purpose {
            CapturePurpose::UserPhoto => {}
            CapturePurpose::Before => {
                if self.active(automat).is_some_and(|a| a.step == Step::Before && a.images.before == Some(id))
                {
                    self.unlock(automat);
                }
            }
            CapturePurpose::After => {
                let signature =
                    image.filter(|i| !Signature::is_blank(i)).map(|i| self.signature(automat, &i));
                let Some(a) = self.active(automat) else { return };
                if a.step == Step::Closing && a.images.after == Some(id) {
                    a.after = Some(signature);
                    self.try_finish(automat);
                }
            }
        }
    }

    /// After the door closed: once the image (and for a return, the tag) are in, decide.
    fn try_finish(&mut self, automat: AutomatId) {
        let Some(a) = self.active(automat) else { return };
        if a.step != Step::Closing || a.after.is_none() || a.tag_pending {
            return;
        }
        if a.task.kind == TaskKind::Take && a.fetched && a.occupied {
            // Taken and hung back before the door closed: judged as a return of the key.
            a.task.kind = TaskKind::Return;
        }
        let a = a.clone();
        self.set_deadline(automat, None);
        match (a.task.kind, a.take_back) {
            (TaskKind::Check, _) => {
                self.identify_checked(automat, &a);
                self.next_task(automat);
            }
            (TaskKind::Take, _) => {
                if a.occupied {
                    let name = self.key_name(a.task.key);
                    self.display(automat, format!("{name} was not taken."));
                }
                self.next_task(automat);
            }
            (TaskKind::Return, true) => {
                if a.occupied {
                    self.incident(automat, &a);
                    self.next_task(automat);
                } else {
                    // Taken back: let the user hang the right key now.
                    if let Some(a) = self.active(automat) {
                        a.take_back = false;
                        a.wrong = None;
                        a.images.before = a.images.after;
                    }
                    self.unlock(automat);
                }
            }
            (TaskKind::Return, false) => {
                if !a.occupied {
                    let name = self.key_name(a.task.key);
                    self.display(automat, format!("{name} was not returned."));
                    self.next_task(automat);
                    return;
                }
                let (check, found) = self.verify_return(&a);
                match check.verdict {
                    Verdict::Match | Verdict::Unverified => {
                        self.accept_return(automat, &a, a.task.contract, check);
                        self.next_task(automat);
                    }
                    Verdict::Mismatch => {
                        self.display(automat, "Wrong key! Please take it back.");
                        if let Some(x) = self.active(automat) {
                            x.take_back = true;
                            x.wrong = Some((found, check));
                            x.step = Step::Presenting;
                        }
                        let slot = a.task.slot;
                        self.present(automat, slot);
                    }
                }
            }
        }
    }

    /// Records a return judged to be the key (or accepted unverified, with an alert).
    fn accept_return(
        &mut self,
        automat: AutomatId,
        a: &Active,
        contract: Option<ContractId>,
        check: Verification,
    ) {
        let key = a.task.key;
        self.commit(Event::KeyReturned {
            key,
            contract,
            automat,
            slot: a.task.slot,
            check,
            images: a.images,
        });
        self.schedule_overdue(key);
        self.clear_alerts(|x| {
            x.key == Some(key) && matches!(x.kind, AlertKind::Overdue | AlertKind::RevokedKeyOut)
        });
        if check.verdict == Verdict::Unverified {
            self.raise(
                AlertKind::VerificationUnavailable,
                Some(automat),
                Some(key),
                contract,
                "tag reader and camera both failed; return accepted unverified".into(),
            );
        }
    }

    /// After a power cut, something hangs in the slot of a key the record has out: the key
    /// itself (its return was cut short: recorded now) or something else (an incident naming
    /// what was found, with the interrupted session's photo and the check's picture).
    fn identify_checked(&mut self, automat: AutomatId, a: &Active) {
        let (check, found) = self.verify_return(a);
        match check.verdict {
            Verdict::Match | Verdict::Unverified => {
                let holder = self.registry.holder(a.task.key);
                self.accept_return(automat, a, holder, check);
            }
            Verdict::Mismatch => {
                let task = Task { contract: self.registry.holder(a.task.key), ..a.task };
                let a = Active { task, wrong: Some((found, check)), ..a.clone() };
                self.incident(automat, &a);
            }
        }
    }

    /// Judges what hangs in the slot after a return: the tag first, the camera when the tag
    /// cannot decide, and the documented fallback when neither can.
    fn verify_return(&self, a: &Active) -> (Verification, Option<KeyId>) {
        let expected = self.registry.key(a.task.key);
        let expected_tag = expected.and_then(|e| e.key.tag);
        let tag = a.tag.flatten();
        let found = tag.and_then(|t| self.registry.keys().find(|e| e.key.tag == Some(t)).map(|e| e.key.id));
        let distance = match (
            a.after.as_ref().and_then(Option::as_ref),
            expected.and_then(|e| e.key.reference.as_ref()),
        ) {
            (Some(after), Some(reference)) => Some(reference.distance(after)),
            _ => None,
        };
        let image_match = distance.map(|d| d < crate::verify::MATCH_THRESHOLD);
        let verdict = match (tag, expected_tag) {
            (Some(t), Some(e)) if t == e => Verdict::Match,
            (Some(_), _) => Verdict::Mismatch,
            (None, _) => match image_match {
                Some(true) => Verdict::Match,
                Some(false) => Verdict::Mismatch,
                None => Verdict::Unverified,
            },
        };
        // Without a tag, the camera names the item when it is one of the keys that are out.
        let after = a.after.as_ref().and_then(Option::as_ref);
        let found = found.or_else(|| {
            let after = after.filter(|_| verdict == Verdict::Mismatch)?;
            self.registry
                .keys()
                .filter(|e| e.key.id != a.task.key && matches!(e.location, KeyLocation::Held { .. }))
                .filter_map(|e| Some((e.key.reference.as_ref()?.distance(after), e.key.id)))
                .filter(|(d, _)| *d < crate::verify::MATCH_THRESHOLD)
                .min_by(|x, y| x.0.total_cmp(&y.0))
                .map(|(_, k)| k)
        });
        let check = Verification { tag, tag_reader_ok: tag.is_some(), image_distance: distance, verdict };
        (check, found.filter(|&k| k != a.task.key))
    }

    fn incident(&mut self, automat: AutomatId, a: &Active) {
        let (found, check) = a.wrong.unwrap_or((
            None,
            Verification {
                tag: None,
                tag_reader_ok: false,
                image_distance: None,
                verdict: Verdict::Mismatch,
            },
        ));
        let expected = a.task.key;
        self.commit(Event::WrongItemLeft {
            automat,
            slot: a.task.slot,
            expected,
            found,
            check,
            images: a.images,
        });
        let name = self.key_name(expected);
        let detail = match found {
            Some(f) => format!("{} left in slot {} instead of {name}", self.key_name(f), a.task.slot),
            None => format!("unidentified item left in slot {} instead of {name}", a.task.slot),
        };
        self.raise_with(Alert {
            id: self.registry.next_alert_id(),
            kind: AlertKind::WrongKey,
            raised_at: self.now,
            automat: Some(automat),
            key: Some(expected),
            contract: a.task.contract,
            found,
            images: a.images,
            detail,
        });
        self.display(automat, "A wrong key was left. Staff have been told.");
        if found.is_some() {
            self.schedule_overdue(expected);
        }
    }

    fn abort_session(&mut self, automat: AutomatId, text: &str) {
        self.display(automat, text.to_string());
        if let Some(rt) = self.automats.get_mut(&automat) {
            rt.session = None;
        }
        self.commit(Event::SessionClosed { automat });
        self.session_ended();
    }

    // ---- timers ----

    pub(crate) fn automat_timeouts(&mut self, automat: AutomatId) {
        let now = self.now;
        let limit = self.cfg.door_open_limit;
        let Some(rt) = self.automats.get_mut(&automat) else { return };
        if rt.entry_deadline.is_some_and(|t| t <= now) {
            rt.entry_deadline = None;
            rt.digits.clear();
            rt.star = false;
        }
        if rt.locked_until.is_some_and(|t| t <= now) {
            rt.locked_until = None;
            self.clear_alerts(|a| a.kind == AlertKind::Lockout && a.automat == Some(automat));
        }
        let Some(rt) = self.automats.get_mut(&automat) else { return };
        if let Some(since) = rt.door_open_since
            && !rt.door_alerted
            && after(since, limit) <= now
        {
            rt.door_alerted = true;
            self.raise(AlertKind::DoorHeldOpen, Some(automat), None, None, "door held open".into());
        }
        let Some(rt) = self.automats.get_mut(&automat) else { return };
        if rt.session.as_ref().and_then(|s| s.deadline).is_some_and(|t| t <= now) {
            self.abort_session(automat, "Out of order. Please contact staff.");
        }
    }
}
