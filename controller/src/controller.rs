//! The controller: the sans-IO façade over the registry, the sessions at each automat, alerts
//! and the audit chain.
//!
//! Inputs come in through [`Controller::handle`] (keypad presses, board reports, camera images,
//! link state) and [`Controller::handle_timeout`]; the API is a set of methods
//! (`create_contract`, …, in `api.rs`). Everything the controller wants done comes out of
//! [`Controller::poll_output`] in order: commands for boards, camera captures, display texts, and
//! audit records to append to the journal. [`Controller::poll_timeout`] says when to call
//! `handle_timeout` next. The controller reads no clock and does no I/O.
//!
//! # Acknowledged means durable
//!
//! The controller writes ahead: nothing it says to the world (a board command, a screen line,
//! a capture request) leaves [`Controller::poll_output`] before every record committed ahead
//! of it is durable. The driver appends each [`Output::Record`] to its journal and reports how
//! many records the journal holds durably with [`Controller::journal_synced`]; while an output
//! waits for that, [`Controller::awaiting_sync`] says so and the driver syncs. That is group
//! commit: the driver may let records gather (everything one instant produces, or up to
//! `fsync_every` of them) and make them durable with one sync, then every output waiting on
//! them is released. Records pass a held output, so a group can grow while it waits; the
//! outputs keep their order.
//!
//! An API result is acknowledged the same way: the caller may report it once
//! [`Controller::durable`] has reached the [`Controller::committed`] it read right after the
//! call. So a power cut loses only records nobody was told about: a take whose key left its
//! hook a moment before the cut, say, but never a contract the API answered "ok", a take or
//! return the screen confirmed, or anything that came before either.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use firmware_proto::auth::CommandSigner;
use firmware_proto::host::{BoardToHost, HostToBoard};
use firmware_proto::types::{Indicator, PowerEvent, TamperSource};
use image::RgbImage;
use jiff::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::alerts::{Alert, AlertKind};
use crate::audit::{self, Chain, ChainError, Record};
use crate::config::ControllerConfig;
use crate::event::{BoardFact, Event, ImageRef, Images};
use crate::ids::*;
use crate::model::{KeyLocation, Purpose};
use crate::pin::PinHasher;
use crate::registry::Registry;
use crate::session::AutomatRt;
pub use crate::session::CapturePurpose;

/// A camera of an automat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Camera {
    /// Faces the user at the keypad.
    Front,
    /// Faces the presented slot.
    Internal,
}

/// A key of the keypad.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeypadKey {
    /// 0 to 9.
    Digit(u8),
    /// `*`: starts a return code.
    Star,
    /// Enter.
    Enter,
    /// Clears the entry.
    Cancel,
}

/// Something that happened, for the controller.
#[derive(Clone, Debug)]
pub enum Input {
    /// A key pressed on an automat's keypad.
    Keypad {
        /// Which automat.
        automat: AutomatId,
        /// Which key.
        key: KeypadKey,
    },
    /// A message from an automat's board.
    Board {
        /// Which automat.
        automat: AutomatId,
        /// The message.
        message: BoardToHost,
    },
    /// The host link to a board came up.
    LinkUp {
        /// Which automat.
        automat: AutomatId,
    },
    /// The host link to a board went down.
    LinkDown {
        /// Which automat.
        automat: AutomatId,
    },
    /// A capture the controller asked for; `None` when the camera failed.
    Image {
        /// Which automat.
        automat: AutomatId,
        /// The id of the capture request.
        id: ImageRef,
        /// The picture.
        image: Option<RgbImage>,
    },
}

/// Something the controller wants done, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send a message to a board.
    ToBoard {
        /// Which automat.
        automat: AutomatId,
        /// The message.
        message: HostToBoard,
    },
    /// Take a picture; answer with [`Input::Image`] carrying the same id.
    Capture {
        /// Which automat.
        automat: AutomatId,
        /// Which camera.
        camera: Camera,
        /// What the picture is for.
        purpose: CapturePurpose,
        /// The capture's id.
        id: ImageRef,
    },
    /// Show a line to the user at an automat's screen.
    Display {
        /// Which automat.
        automat: AutomatId,
        /// What to say.
        text: String,
    },
    /// Append to the journal (and so to the audit trail).
    Record(Record),
}

/// The controller. See the [module docs](self).
#[derive(Debug)]
pub struct Controller {
    pub(crate) cfg: ControllerConfig,
    pub(crate) pins: PinHasher,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) registry: Registry,
    chain: Chain,
    pub(crate) now: Timestamp,
    /// Outputs in order, each with the number of records that must be durable before it may
    /// leave (records themselves leave at once).
    out: VecDeque<(u64, Output)>,
    /// Records the journal holds durably (reported by the driver).
    durable: u64,
    pub(crate) automats: BTreeMap<AutomatId, AutomatRt>,
    next_capture: ImageRef,
    pub(crate) captures: BTreeMap<ImageRef, (AutomatId, CapturePurpose)>,
    /// When each held key falls overdue (the first microsecond after its deadline).
    overdue: BTreeSet<(Timestamp, KeyId)>,
    /// Keys that fell overdue while a session was returning them: overdue only if that
    /// session ends without them.
    overdue_waiting: BTreeSet<KeyId>,
    /// When each fetch contract ends (for `KeyNotFetched`).
    fetch_ends: BTreeSet<(Timestamp, ContractId)>,
}

pub(crate) fn after(t: Timestamp, d: Duration) -> Timestamp {
    t.saturating_add(d).unwrap_or(Timestamp::MAX)
}

impl Controller {
    /// A controller with an empty registry, started at `now`.
    pub fn new(cfg: ControllerConfig, now: Timestamp) -> Self {
        Self::build(cfg, now, Registry::new(), Chain::default(), 0)
    }

    /// A controller rebuilt from the records of its journal (after a power cut). The chain is
    /// verified first; the records are replayed into the registry; the boards are greeted again.
    pub fn recover(cfg: ControllerConfig, now: Timestamp, records: &[Record]) -> Result<Self, ChainError> {
        audit::verify_chain(records)?;
        let mut registry = Registry::new();
        let mut chain = Chain::default();
        // Sessions the cut interrupted, with the keys they could have moved and the user's photo.
        let mut open: BTreeMap<AutomatId, (BTreeSet<KeyId>, Option<ImageRef>)> = BTreeMap::new();
        for r in records {
            registry.apply(r.at, &r.event);
            chain.follow(r);
            match &r.event {
                Event::SessionOpened { automat, contracts, photo } => {
                    let keys =
                        contracts.iter().filter_map(|c| registry.contract(*c)).flat_map(|c| c.keys.clone());
                    let entry = open.entry(*automat).or_default();
                    entry.0.extend(keys);
                    entry.1 = *photo;
                }
                Event::ReturnCodeUsed { automat, key, photo } => {
                    let entry = open.entry(*automat).or_default();
                    entry.0.insert(*key);
                    entry.1 = *photo;
                }
                Event::SessionClosed { automat } => {
                    open.remove(automat);
                }
                _ => {}
            }
        }
        let mut c = Self::build(cfg, now, registry, chain, records.len() as u64);
        for (automat, (keys, photo)) in open {
            if let Some(rt) = c.automats.get_mut(&automat) {
                rt.check = keys;
                rt.check_photo = photo;
            }
        }
        Ok(c)
    }

    fn build(cfg: ControllerConfig, now: Timestamp, registry: Registry, chain: Chain, replayed: u64) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ chain.next_seq.rotate_left(32));
        let automats = cfg
            .boards
            .iter()
            .map(|b| (b.automat, AutomatRt::new(CommandSigner::new(b.key.clone(), b.board_id, 0))))
            .collect();
        let mut c = Controller {
            pins: PinHasher::new(&cfg.secret),
            cfg,
            rng,
            registry,
            chain,
            now,
            out: VecDeque::new(),
            durable: replayed,
            automats,
            next_capture: 0,
            captures: BTreeMap::new(),
            overdue: BTreeSet::new(),
            overdue_waiting: BTreeSet::new(),
            fetch_ends: BTreeSet::new(),
        };
        c.next_capture = c.chain.next_seq << 16;
        c.rebuild_timers();
        if replayed > 0 || c.chain.next_seq == 0 {
            c.commit(Event::ControllerStarted { replayed });
        }
        let ids: Vec<AutomatId> = c.automats.keys().copied().collect();
        for automat in ids {
            c.hello(automat);
        }
        c
    }

    /// The durable state.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The time of the last input.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The head of the audit chain.
    pub fn chain(&self) -> Chain {
        self.chain
    }

    /// The next thing to do. A record comes out at once; anything else only once every record
    /// committed before it is durable (see [`Controller::journal_synced`]). While the first
    /// output waits, later records still come out, so that one sync can cover them all.
    pub fn poll_output(&mut self) -> Option<Output> {
        let (needs, first) = self.out.front()?;
        let i = if matches!(first, Output::Record(_)) || *needs <= self.durable {
            0
        } else {
            self.out.iter().position(|(_, o)| matches!(o, Output::Record(_)))?
        };
        self.out.remove(i).map(|(_, o)| o)
    }

    /// The driver's journal holds the first `records` records durably (a count: what
    /// [`crate::journal::Journal::synced`] says). Outputs waiting for them are released.
    pub fn journal_synced(&mut self, records: u64) {
        self.durable = self.durable.max(records);
    }

    /// `Some(n)` while an output waits for the first `n` records to be durable: the driver
    /// should sync its journal (now, or once the records it is gathering into one sync are in)
    /// and report it with [`Controller::journal_synced`].
    pub fn awaiting_sync(&self) -> Option<u64> {
        self.out
            .iter()
            .find(|(_, o)| !matches!(o, Output::Record(_)))
            .map(|(n, _)| *n)
            .filter(|&n| n > self.durable)
    }

    /// Records committed so far (durable or not): read after an API call, the point its result
    /// may be acknowledged at.
    pub fn committed(&self) -> u64 {
        self.chain.next_seq
    }

    /// Records known to be durable.
    pub fn durable(&self) -> u64 {
        self.durable
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let mut t: Option<Timestamp> = None;
        let mut consider = |x: Timestamp| t = Some(t.map_or(x, |t| t.min(x)));
        if let Some(&(d, _)) = self.overdue.first() {
            consider(d);
        }
        if let Some(&(d, _)) = self.fetch_ends.first() {
            consider(d);
        }
        for rt in self.automats.values() {
            for d in rt.deadlines(self.cfg.door_open_limit) {
                consider(d);
            }
        }
        t
    }

    /// Handles one input at `now`.
    pub fn handle(&mut self, now: Timestamp, input: Input) {
        self.handle_timeout(now);
        match input {
            Input::Keypad { automat, key } => self.on_keypad(automat, key),
            Input::Board { automat, message } => self.on_board(automat, message),
            Input::LinkUp { automat } => {
                self.clear_alerts(|a| a.kind == AlertKind::BoardOffline && a.automat == Some(automat));
                self.hello(automat);
            }
            Input::LinkDown { automat } => {
                self.raise(AlertKind::BoardOffline, Some(automat), None, None, "board link down".into());
            }
            Input::Image { automat, id, image } => self.on_image(automat, id, image),
        }
        self.refresh_indicators();
    }

    /// Sends each paired board the indicator modes that changed (all four after pairing).
    fn refresh_indicators(&mut self) {
        let mut changes = Vec::new();
        for (&automat, rt) in &self.automats {
            if !rt.paired {
                continue;
            }
            let fault = self.registry.alerts().any(|a| a.automat == Some(automat) && a.kind.is_fault());
            let want = rt.indicators(self.now, fault);
            if rt.leds != Some(want) {
                changes.push((automat, rt.leds, want));
            }
        }
        for (automat, had, want) in changes {
            for (i, indicator) in Indicator::ALL.into_iter().enumerate() {
                if had.map(|h| h[i]) != Some(want[i]) {
                    self.send_board(automat, HostToBoard::SetIndicator { indicator, mode: want[i] });
                }
            }
            if let Some(rt) = self.automats.get_mut(&automat) {
                rt.leds = Some(want);
            }
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
        let now = self.now;
        if self.poll_timeout().is_none_or(|t| t > now) {
            return;
        }
        while let Some(&(t, key)) = self.overdue.first() {
            if t > now {
                break;
            }
            self.overdue.pop_first();
            self.key_overdue(key);
        }
        while let Some(&(t, contract)) = self.fetch_ends.first() {
            if t > now {
                break;
            }
            self.fetch_ends.pop_first();
            self.fetch_ended(contract);
        }
        let ids: Vec<AutomatId> = self.automats.keys().copied().collect();
        for automat in ids {
            self.automat_timeouts(automat);
        }
        self.refresh_indicators();
    }

    // ---- plumbing used by the other parts ----

    /// Records an event: applies it, chains it, and hands the record out for the journal.
    pub(crate) fn commit(&mut self, event: Event) {
        self.registry.apply(self.now, &event);
        let record = self.chain.append(self.now, event);
        self.out.push_back((0, Output::Record(record)));
    }

    /// Queues an output for the world: it waits for every record committed so far.
    fn tell(&mut self, output: Output) {
        self.out.push_back((self.chain.next_seq, output));
    }

    pub(crate) fn send_board(&mut self, automat: AutomatId, message: HostToBoard) {
        self.tell(Output::ToBoard { automat, message });
    }

    pub(crate) fn display(&mut self, automat: AutomatId, text: impl Into<String>) {
        self.tell(Output::Display { automat, text: text.into() });
    }

    pub(crate) fn capture(
        &mut self,
        automat: AutomatId,
        camera: Camera,
        purpose: CapturePurpose,
    ) -> ImageRef {
        let id = self.next_capture;
        self.next_capture += 1;
        self.captures.insert(id, (automat, purpose));
        self.tell(Output::Capture { automat, camera, purpose, id });
        id
    }

    /// Raises an alert unless one of the same kind is open for the same automat and key.
    pub(crate) fn raise(
        &mut self,
        kind: AlertKind,
        automat: Option<AutomatId>,
        key: Option<KeyId>,
        contract: Option<ContractId>,
        detail: String,
    ) -> AlertId {
        self.raise_with(Alert {
            id: self.registry.next_alert_id(),
            kind,
            raised_at: self.now,
            automat,
            key,
            contract,
            found: None,
            images: Images::default(),
            detail,
        })
    }

    pub(crate) fn raise_with(&mut self, alert: Alert) -> AlertId {
        let duplicate = self
            .registry
            .alerts()
            .find(|a| a.kind == alert.kind && a.automat == alert.automat && a.key == alert.key)
            .map(|a| a.id);
        if let (Some(id), false) = (duplicate, alert.kind == AlertKind::WrongKey) {
            return id;
        }
        let alert = Alert { id: self.registry.next_alert_id(), ..alert };
        let id = alert.id;
        self.commit(Event::AlertRaised(alert));
        id
    }

    pub(crate) fn clear_alerts(&mut self, which: impl Fn(&Alert) -> bool) {
        let ids: Vec<AlertId> = self.registry.alerts().filter(|a| which(a)).map(|a| a.id).collect();
        for alert in ids {
            self.commit(Event::AlertCleared { alert });
        }
    }

    fn hello(&mut self, automat: AutomatId) {
        let challenge: [u8; 16] = self.rng.random();
        if let Some(rt) = self.automats.get_mut(&automat) {
            if rt.challenges.len() >= 4 {
                rt.challenges.remove(0);
            }
            rt.challenges.push(challenge);
        }
        self.send_board(automat, HostToBoard::Hello { protocol: 1, challenge });
    }

    // ---- board reports outside the session flow ----

    fn on_board(&mut self, automat: AutomatId, message: BoardToHost) {
        match &message {
            BoardToHost::Hello { last_counter, proof, .. } => {
                if let Some(rt) = self.automats.get_mut(&automat) {
                    // Any outstanding challenge may be the one answered (hellos cross on the link).
                    let answered = rt.challenges.iter().position(|c| rt.signer.check_proof(c, proof));
                    let ok = answered.is_some();
                    if let Some(i) = answered {
                        rt.challenges.drain(..=i);
                    }
                    rt.signer.observe_board_counter(*last_counter);
                    rt.paired = ok;
                    rt.leds = None;
                }
                if self.automats.get(&automat).is_some_and(|rt| rt.paired) {
                    self.start_check(automat);
                } else {
                    self.raise(
                        AlertKind::Tamper,
                        Some(automat),
                        None,
                        None,
                        "board failed the pairing check".into(),
                    );
                }
            }
            BoardToHost::Booted { .. } => {
                self.commit(Event::Board { automat, fact: BoardFact::Rebooted });
                self.booted(automat);
                self.hello(automat);
            }
            BoardToHost::DoorForced => {
                self.commit(Event::Board { automat, fact: BoardFact::DoorForced });
                self.raise(
                    AlertKind::DoorForced,
                    Some(automat),
                    None,
                    None,
                    "door opened while locked".into(),
                );
            }
            BoardToHost::Tamper { source } => {
                let fact = match source {
                    TamperSource::CaseOpened => BoardFact::CaseOpened,
                    TamperSource::BadMac { .. } | TamperSource::Replay { .. } => BoardFact::CommandRefused,
                };
                self.commit(Event::Board { automat, fact });
                self.raise(AlertKind::Tamper, Some(automat), None, None, format!("{source:?}"));
            }
            BoardToHost::MotorFault { fault } => {
                self.commit(Event::Board { automat, fact: BoardFact::Motor(*fault) });
                self.raise(AlertKind::MotorFault, Some(automat), None, None, format!("{fault:?}"));
            }
            BoardToHost::Homed { .. } => {
                self.clear_alerts(|a| a.kind == AlertKind::MotorFault && a.automat == Some(automat));
                self.homed(automat);
            }
            BoardToHost::Power { event, .. } => match event {
                PowerEvent::MainsLost => {
                    self.commit(Event::Board { automat, fact: BoardFact::MainsLost });
                    self.raise(AlertKind::PowerLoss, Some(automat), None, None, "mains lost".into());
                }
                PowerEvent::MainsRestored => {
                    self.commit(Event::Board { automat, fact: BoardFact::MainsRestored });
                    self.clear_alerts(|a| a.kind == AlertKind::PowerLoss && a.automat == Some(automat));
                }
                PowerEvent::BatteryLow => {
                    self.raise(AlertKind::PowerLoss, Some(automat), None, None, "battery low".into());
                }
            },
            _ => {}
        }
        self.session_board(automat, message);
    }

    // ---- timers ----

    /// Recomputes the overdue and fetch timers from the registry (after recovery).
    fn rebuild_timers(&mut self) {
        self.overdue.clear();
        self.fetch_ends.clear();
        let held: Vec<KeyId> = self
            .registry
            .keys()
            .filter(|e| matches!(e.location, KeyLocation::Held { .. }))
            .map(|e| e.key.id)
            .collect();
        for key in held {
            self.schedule_overdue(key);
        }
        let fetches: Vec<(Timestamp, ContractId)> = self
            .registry
            .contracts()
            .filter(|c| c.purpose == Purpose::Fetch && !c.revoked)
            .filter_map(|c| c.end.map(|e| (e, c.id)))
            .collect();
        self.fetch_ends.extend(fetches);
    }

    /// A held key's deadline: its contract's end plus grace, or its next daily deadline after
    /// it was taken, whichever is first. It is overdue strictly after that instant (a key
    /// returned at the deadline is on time), and not while a session is returning it. Keys of
    /// permanent contracts without a daily deadline are never overdue.
    pub(crate) fn overdue_at(&self, key: KeyId) -> Option<Timestamp> {
        let entry = self.registry.key(key)?;
        let KeyLocation::Held { contract, since } = entry.location else { return None };
        let c = self.registry.contract(contract)?;
        // A split reservation's key is due by the end of its return contract.
        let end = match c.reservation {
            Some(r) => self
                .registry
                .contracts()
                .filter(|o| o.reservation == Some(r) && o.keys.contains(&key))
                .filter_map(|o| o.end)
                .max(),
            None => c.end,
        };
        let by_contract = end.map(|e| after(e, self.cfg.overdue_grace));
        let daily = entry.key.daily_deadline.and_then(|time| {
            let tz = &self.cfg.time_zone;
            let local = tz.to_datetime(since);
            let mut date = local.date();
            if local.time() >= time {
                date = date.tomorrow().ok()?;
            }
            tz.to_timestamp(jiff::civil::DateTime::from_parts(date, time)).ok()
        });
        match (by_contract, daily) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn schedule_overdue(&mut self, key: KeyId) {
        self.overdue.retain(|&(_, k)| k != key);
        self.overdue_waiting.remove(&key);
        if let Some(t) = self.overdue_at(key) {
            // Timers fire at their instant; overdue begins just after the deadline.
            self.overdue.insert((after(t, Duration::from_micros(1)), key));
        }
    }

    /// A session at an automat ended: keys that fell overdue while it was returning them and
    /// are still out are overdue now.
    pub(crate) fn session_ended(&mut self) {
        let waiting: Vec<KeyId> = self.overdue_waiting.iter().copied().collect();
        for key in waiting {
            if !self.returning(key) {
                self.overdue_waiting.remove(&key);
                self.key_overdue(key);
            }
        }
    }

    pub(crate) fn schedule_fetch_end(&mut self, contract: ContractId) {
        if let Some(c) = self.registry.contract(contract)
            && c.purpose == Purpose::Fetch
            && let Some(end) = c.end
        {
            self.fetch_ends.insert((end, contract));
        }
    }

    fn key_overdue(&mut self, key: KeyId) {
        let Some(contract) = self.registry.holder(key) else { return };
        if self.returning(key) {
            self.overdue_waiting.insert(key);
            return;
        }
        let automat = self.registry.contract(contract).map(|c| c.automat);
        let name = self.registry.key(key).map(|e| e.key.name.clone()).unwrap_or_default();
        self.raise(AlertKind::Overdue, automat, Some(key), Some(contract), format!("{name} not returned"));
    }

    fn fetch_ended(&mut self, contract: ContractId) {
        let Some(c) = self.registry.contract(contract).cloned() else { return };
        if c.revoked {
            return;
        }
        for key in c.keys {
            let fetched = match self.registry.key(key).map(|e| e.location) {
                Some(KeyLocation::Held { contract: h, .. }) => {
                    h == contract || self.registry.contract(h).is_some_and(|o| o.reservation == c.reservation)
                }
                _ => false,
            };
            if !fetched {
                self.raise(
                    AlertKind::KeyNotFetched,
                    Some(c.automat),
                    Some(key),
                    Some(contract),
                    "not fetched".into(),
                );
            }
        }
    }
}
