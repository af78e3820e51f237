//! One run of one scenario: the virtual clock, the electronics, the plants, the users and the
//! timeline, advanced event by event. Idle time is skipped: the clock jumps to the next thing
//! anything has scheduled. Same scenario and seed, same trace bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use controller::alerts::AlertKind;
use controller::api::{NewContract, Reservation};
use controller::event::Event;
use controller::ids::*;
use controller::model::{self as cm, Purpose};
use controller::schedule::{AccessSchedule, WeeklyWindow};
use controller::{BoardPairing, Camera, ControllerConfig, Input, KeypadKey};
use firmware_proto::Instant;
use firmware_proto::auth::{CommandSigner, PairingKey};
use firmware_proto::board::BoardConfig;
use firmware_proto::frame::Channel;
use firmware_proto::types::TagId;
use image::RgbImage;
use jiff::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::board_box::BoardClock;
use crate::electronics::{Direction, Electronics, ElectronicsConfig, Outgoing, PlacedBoard};
use crate::expect::{self, Observation, Observed};
use crate::plant::look::{self, Conditions};
use crate::plant::{AutomatPlant, CameraFault, Item, Look, TagFault};
use crate::scenario::{self, Action, Code, ContractSpec, OnWrong, Scenario};
use crate::trace::{Cabinet, Header, HookItem, SceneAutomat, SceneUser, TraceEvent, TraceWriter};
use crate::users::{Act, REACTION, User};

mod invariants;

/// Encoder counts per slot of simulated carousels.
pub const COUNTS_PER_SLOT: u32 = 200;

/// How a run is set up beyond its scenario.
#[derive(Default)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Where the trace goes.
    pub trace: Option<Box<dyn std::io::Write + Send + Sync>>,
    /// Where camera images are written as PNG (the trace names them relative to it).
    pub images: Option<PathBuf>,
    /// Puts boards somewhere else than in process (the HIL bridge); `None`: all simulated.
    pub boards: Option<Box<dyn BoardPlacer>>,
    /// Rig mode: a person does the users' physical steps when asked; the plant is real (not
    /// simulated), and steps nobody can perform on a rig are skipped.
    pub operator: Option<Box<dyn Operator>>,
}

/// The person at a rig, asked to do the users' physical steps.
pub trait Operator: Send + Sync {
    /// Shows what to do now (`at`: the simulated time).
    fn ask(&mut self, at: &str, instruction: &str);
    /// `Some(true)`: done; `Some(false)`: skipped; `None`: not answered yet (never blocks).
    fn answer(&mut self) -> Option<bool>;
}

/// Decides where each automat's board lives: the HIL bridge puts one across a serial port.
pub trait BoardPlacer: Send {
    /// The board for automat `index` (its spec given), or `None` to simulate it in process.
    /// An error (a board that does not fit the scenario) fails the run before it starts.
    fn place(&mut self, index: usize, automat: &scenario::AutomatSpec)
    -> Result<Option<PlacedBoard>, String>;
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions").field("seed", &self.seed).field("images", &self.images).finish()
    }
}

/// What a run found.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Every expectation met and nothing went wrong.
    pub passed: bool,
    /// The unmet expectations and problems, the first first, each with its simulated time.
    pub failures: Vec<String>,
    /// Simulated time covered.
    pub simulated: Duration,
    /// A stable summary of what happened, for snapshots.
    pub summary: Vec<String>,
    /// Link frames counted (all lines).
    pub bytes_on_lines: u64,
    /// Steps that could not be performed (rig mode): a run with any is not passed.
    pub skipped: Vec<String>,
}

impl Outcome {
    /// A run that did not get to its end: failed with `failure`, nothing else known.
    pub fn failed(failure: String) -> Outcome {
        Outcome {
            passed: false,
            failures: vec![failure],
            simulated: Duration::ZERO,
            summary: Vec::new(),
            bytes_on_lines: 0,
            skipped: Vec::new(),
        }
    }
}

/// The message a caught panic carried (`"a panic"` when it was not text).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".into())
}

/// How finely the trace samples a carousel's path.
const CAROUSEL_PATH_STEP: Duration = Duration::from_millis(50);

/// What the trace last said about a plant, so that only changes are written.
#[derive(Debug, Default)]
struct Shown {
    carousel: Option<u64>,
    cabinet: Option<Cabinet>,
    hooks: Vec<Option<Item>>,
}

/// A run in progress. See the [module docs](self).
pub struct Run {
    scenario: Scenario,
    seed: u64,
    now: Instant,
    end: Instant,
    start: Timestamp,
    electronics: Electronics,
    plants: Vec<AutomatPlant>,
    automats: Vec<AutomatId>,
    users: Vec<User>,
    timeline: Vec<(Instant, usize)>,
    next_step: usize,
    pins: BTreeMap<String, String>,
    contracts: BTreeMap<String, ContractId>,
    alert_kinds: BTreeMap<AlertId, (AlertKind, Option<KeyId>)>,
    observed: Vec<Observed>,
    displays: Vec<Vec<String>>,
    last_user: Vec<Option<String>>,
    problems: Vec<String>,
    trace: TraceWriter,
    /// What the trace last said about each plant.
    shown: Vec<Shown>,
    images: Option<PathBuf>,
    rng: ChaCha8Rng,
    finished: bool,
    /// Real time: the wall-clock instant of simulated time 0 (a board on its own clock).
    pace: Option<std::time::Instant>,
    /// Rig mode's person, and the step they were asked to do, if not answered yet.
    operator: Option<Box<dyn Operator>>,
    asked: Option<String>,
    skipped: Vec<String>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Run({:?} at {})", self.scenario.name, self.now)
    }
}

/// Runs a scenario to its end and judges it, as a headless Bevy app (see [`crate::app`]).
pub fn run_scenario(scenario: &Scenario, options: RunOptions) -> Outcome {
    crate::app::run_headless(Run::new(scenario.clone(), options))
}

/// Runs a scenario with the plain loop, without Bevy (the same run, event for event).
pub fn run_plain(scenario: &Scenario, options: RunOptions) -> Outcome {
    let mut run = Run::new(scenario.clone(), options);
    while run.step() {}
    run.finish()
}

impl Run {
    /// Sets a run up: the fleet, its keys, contacts, contracts and users, at simulated time 0.
    pub fn new(scenario: Scenario, mut options: RunOptions) -> Self {
        let seed = options.seed.unwrap_or(scenario.seed);
        let start: Timestamp = scenario
            .start
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| "2026-06-01T08:00:00Z".parse().unwrap_or(Timestamp::UNIX_EPOCH));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let automats: Vec<AutomatId> = scenario.automats.iter().map(|a| AutomatId(a.id)).collect();
        let mut boards = Vec::new();
        let mut pairings = Vec::new();
        let mut setup_problems = Vec::new();
        let mut pace = None;
        let mut placer = options.boards.take();
        for (i, a) in scenario.automats.iter().enumerate() {
            let mut key = PairingKey(rng.random());
            let mut board_id = 0x0B00_0000 + a.id;
            let placed = match placer.as_mut().map(|p| p.place(i, a)) {
                Some(Ok(placed)) => placed,
                Some(Err(e)) => {
                    setup_problems.push(format!("{}: automat {}: {e}", fmt_time(Instant::ZERO), a.id));
                    None
                }
                None => None,
            };
            let placed = placed.map(|p| {
                (board_id, key) = (p.board_id, p.key);
                if p.board.clock() == BoardClock::Realtime {
                    pace = Some(std::time::Instant::now());
                }
                p.board
            });
            let mut cfg = BoardConfig::reference(board_id, key.clone());
            cfg.slot_count = a.slots;
            cfg.counts_per_slot = COUNTS_PER_SLOT;
            boards.push((AutomatId(a.id), cfg, placed));
            pairings.push(BoardPairing { automat: AutomatId(a.id), board_id, key });
        }
        let mut ccfg = ControllerConfig::new(rng.random(), rng.random(), pairings);
        if let Some(tz) = scenario.time_zone.as_deref().and_then(|z| jiff::tz::TimeZone::get(z).ok()) {
            ccfg.time_zone = tz;
        }
        let c = &scenario.controller;
        if let Some(d) = c.door_open_limit {
            ccfg.door_open_limit = d.0;
        }
        if let Some(d) = c.unlock_window {
            ccfg.unlock_window = d.0;
        }
        if let Some(d) = c.lockout {
            ccfg.lockout = d.0;
        }
        if let Some(d) = c.overdue_grace {
            ccfg.overdue_grace = d.0;
        }
        if let Some(b) = c.alert_shared_key_out {
            ccfg.alert_shared_key_out = b;
        }
        if let Some(d) = c.split_after {
            ccfg.split_after = d.0;
        }
        if let Some(d) = c.fetch_window {
            ccfg.fetch_window = d.0;
        }
        if let Some(d) = c.return_window {
            ccfg.return_window = d.0;
        }
        let fsync = match c.fsync_every {
            None | Some(0) | Some(1) => controller::journal::FsyncPolicy::Always,
            Some(n) => controller::journal::FsyncPolicy::Every(n),
        };
        let ecfg =
            ElectronicsConfig { host_line: scenario.lines.host, plant_line: scenario.lines.plant, fsync };
        let electronics = Electronics::new(ccfg, start, boards, &ecfg, rng.random());
        let plants = scenario
            .automats
            .iter()
            .map(|a| AutomatPlant::new(a.slots, COUNTS_PER_SLOT, a.at_window, rng.random()))
            .collect();
        let last_step = scenario.timeline.iter().map(|s| s.at.0).max().unwrap_or(Duration::ZERO);
        let end = Instant::ZERO + scenario.duration.map_or(last_step + Duration::from_secs(600), |d| d.0);
        let mut timeline: Vec<(Instant, usize)> =
            scenario.timeline.iter().enumerate().map(|(i, s)| (Instant::ZERO + s.at.0, i)).collect();
        timeline.sort_by_key(|(t, i)| (*t, *i));
        let mut trace = TraceWriter::new(options.trace);
        trace.header(&Header {
            format: crate::trace::FORMAT,
            version: crate::trace::VERSION,
            scenario: &scenario.name,
            seed,
            start: start.to_string(),
            source: "sim",
        });
        let n = automats.len();
        let mut run = Run {
            scenario,
            seed,
            now: Instant::ZERO,
            end,
            start,
            electronics,
            plants,
            automats,
            users: Vec::new(),
            timeline,
            next_step: 0,
            pins: BTreeMap::new(),
            contracts: BTreeMap::new(),
            alert_kinds: BTreeMap::new(),
            observed: Vec::new(),
            displays: vec![Vec::new(); n],
            last_user: vec![None; n],
            finished: !setup_problems.is_empty(),
            problems: setup_problems,
            pace,
            operator: options.operator.take(),
            asked: None,
            skipped: Vec::new(),
            trace,
            shown: (0..n).map(|_| Shown::default()).collect(),
            images: options.images,
            rng,
        };
        run.show_scene();
        run.setup();
        run.tick();
        run
    }

    /// Simulated time now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The electronics (controller and boards).
    pub fn electronics(&self) -> &Electronics {
        &self.electronics
    }

    /// The plants.
    pub fn plants(&self) -> &[AutomatPlant] {
        &self.plants
    }

    fn ts(&self) -> Timestamp {
        self.electronics.timestamp(self.now)
    }

    fn emit(&mut self, event: TraceEvent) {
        self.trace.event(self.now.as_micros(), &event);
    }

    /// Writes the scene event: what a replay draws the run with.
    fn show_scene(&mut self) {
        let sc = &self.scenario;
        let automats = sc
            .automats
            .iter()
            .map(|a| SceneAutomat { id: a.id, name: a.name.clone(), slots: a.slots })
            .collect();
        let users = sc
            .users
            .iter()
            .map(|u| SceneUser {
                name: u.name.clone(),
                automat: u.automat.and_then(|a| self.automat_index(a)).unwrap_or(0),
            })
            .collect();
        let expectations = expect::descriptions(&sc.expect);
        self.emit(TraceEvent::Scene { automats, users, expectations });
    }

    /// Writes what changed on the plants since the trace last said (only when tracing): the
    /// carousel's path, the cabinet's outside, the hooks. Called once an instant has settled.
    pub fn show_plants(&mut self) {
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

    fn observe(&mut self, what: Observation) {
        self.observed.push(Observed { at: self.now, what });
    }

    fn problem(&mut self, text: String) {
        let text = format!("{}: {text}", fmt_time(self.now));
        self.emit(TraceEvent::Problem { text: text.clone() });
        self.problems.push(text);
    }

    fn automat_index(&self, id: u32) -> Option<usize> {
        self.automats.iter().position(|a| a.0 == id)
    }

    fn item_of(&self, k: &scenario::KeySpec) -> Item {
        Item {
            key: Some(KeyId(k.id)),
            tag: k.tag.as_deref().and_then(scenario::load::tag).map(TagId),
            look: look_of(&k.look),
        }
    }

    fn setup(&mut self) {
        let now = self.ts();
        let sc = self.scenario.clone();
        let Some(ctl) = self.electronics.controller_mut() else { return };
        let mut results = Vec::new();
        for a in &sc.automats {
            let automat = cm::Automat {
                id: AutomatId(a.id),
                name: a.name.clone(),
                slots: a.slots,
                location: cm::Location { lat: a.location.0, lon: a.location.1 },
            };
            results.push((
                format!("add automat {}", a.id),
                ctl.add_automat(now, automat).map(|_| String::new()),
            ));
        }
        for c in &sc.contacts {
            let contact = cm::Contact { id: ContactId(c.id), name: c.name.clone() };
            results.push((
                format!("add contact {}", c.id),
                ctl.add_contact(now, contact).map(|_| String::new()),
            ));
        }
        for k in &sc.keys {
            let key = cm::Key {
                id: KeyId(k.id),
                name: if k.name.is_empty() { format!("key {}", k.id) } else { k.name.clone() },
                tag: k.tag.as_deref().and_then(scenario::load::tag).map(TagId),
                shared: k.shared,
                return_code: k.return_code.as_deref().and_then(cm::ReturnCode::parse),
                storage: cm::Storage::Slot { automat: AutomatId(k.automat), slot: k.slot },
                reference: None,
                daily_deadline: k.daily_deadline.as_deref().and_then(scenario::load::clock),
            };
            results.push((format!("enrol key {}", k.id), ctl.enrol_key(now, key).map(|_| String::new())));
            let reference = look::render_slot(Some(&look_of(&k.look)), Conditions::NOMINAL, 0);
            results.push((
                format!("reference key {}", k.id),
                ctl.set_key_reference(now, KeyId(k.id), &reference).map(|_| String::new()),
            ));
        }
        for g in &sc.groups {
            let group = cm::DeviceGroup {
                id: DeviceGroupId(g.id),
                automats: g.automats.iter().map(|a| AutomatId(*a)).collect(),
                entities: g
                    .entities
                    .iter()
                    .map(|(e, ks)| (e.clone(), ks.iter().map(|k| KeyId(*k)).collect()))
                    .collect(),
            };
            results.push((
                format!("add group {}", g.id),
                ctl.add_device_group(now, group).map(|_| String::new()),
            ));
        }
        for (call, result) in results {
            if let Err(e) = result {
                self.problem(format!("setup: {call}: {e}"));
            }
        }
        for k in &sc.keys {
            if let Some(i) = self.automat_index(k.automat) {
                let item = self.item_of(k);
                self.plants[i].hooks[usize::from(k.slot)] = Some(item);
            }
        }
        for c in &sc.contracts {
            self.create_contract(c);
        }
        for u in &sc.users {
            let automat = u.automat.and_then(|a| self.automat_index(a)).unwrap_or(0);
            let carries = u
                .carries
                .iter()
                .map(|(name, l)| (name.clone(), Item { key: None, tag: None, look: look_of(l) }))
                .collect();
            self.users.push(User::new(u.name.clone(), automat, carries));
        }
    }

    fn create_contract(&mut self, c: &ContractSpec) {
        let now = self.ts();
        let at =
            |o: Option<scenario::Offset>| o.map(|o| self.start.saturating_add(o.0).unwrap_or(Timestamp::MAX));
        let schedule = c.schedule.as_ref().and_then(|s| {
            let windows = s
                .windows
                .iter()
                .filter_map(|w| {
                    let days: Vec<_> = w.days.iter().filter_map(|d| scenario::load::weekday(d)).collect();
                    Some(WeeklyWindow::new(
                        &days,
                        scenario::load::clock(&w.from)?,
                        scenario::load::clock(&w.to)?,
                    ))
                })
                .collect();
            AccessSchedule::new(&s.time_zone, windows).ok()
        });
        let new = NewContract {
            automat: AutomatId(c.automat),
            keys: c.keys.iter().map(|k| KeyId(*k)).collect(),
            contacts: c.contacts.iter().map(|k| ContactId(*k)).collect(),
            start: at(c.start).or(Some(now)),
            end: at(c.end),
            pin: c.pin.clone(),
            purpose: Purpose::FetchAndReturn,
            schedule,
        };
        let Some(ctl) = self.electronics.controller_mut() else {
            self.problem(format!("create contract {:?}: the controller is down", c.name));
            return;
        };
        let result = ctl.create_contract(now, new);
        let call = format!("create contract {:?}", c.name);
        match (result, &c.expect_error) {
            (Ok((id, pin)), None) => {
                self.emit(TraceEvent::Api { call, result: format!("ok {id}") });
                self.pins.insert(c.name.clone(), pin.expose().to_string());
                self.contracts.insert(c.name.clone(), id);
            }
            (Ok((id, _)), Some(want)) => {
                self.emit(TraceEvent::Api { call: call.clone(), result: format!("ok {id}") });
                self.problem(format!("{call}: expected the error {want:?}, but it was created as {id}"));
            }
            (Err(e), want) => self.api_refused(call, &e, want.as_deref()),
        }
    }

    /// When the plants, the timeline or the users next need attention.
    fn next_external(&self) -> Option<Instant> {
        let mut next = self.timeline.get(self.next_step).map(|(t, _)| *t);
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        for p in &self.plants {
            consider(p.next_event());
        }
        for u in &self.users {
            consider(u.next_event());
        }
        next
    }

    /// Moves the clock to the next moment the physical world must react: electronics events
    /// that concern only the electronics (keepalives, acks, heartbeats) are handled on the way
    /// without stopping. Returns `false` once the run is over.
    pub fn advance_clock(&mut self) -> bool {
        if self.finished {
            return false;
        }
        let limit = self.next_external().map_or(self.end, |t| t.min(self.end));
        if let Some(wall0) = self.pace {
            // A board on its own clock: simulated time follows the wall clock, and bytes from
            // the board may arrive at any moment.
            let target = self.electronics.next_event().map_or(limit, |t| t.min(limit));
            let arrived = self.electronics.wait(wall0 + Duration::from_micros(target.as_micros()));
            let wall = Instant::from_micros(u64::try_from(wall0.elapsed().as_micros()).unwrap_or(u64::MAX));
            self.now = self.now.max(if arrived { wall.min(target) } else { target });
            if self.now >= self.end && self.next_external().is_none_or(|t| t > self.end) {
                self.finished = true;
            }
            return true;
        }
        while let Some(t) = self.electronics.next_event() {
            if t > limit {
                break;
            }
            self.now = self.now.max(t);
            let mut out = Vec::new();
            self.electronics.run(self.now, &mut out);
            let physical = out
                .iter()
                .any(|o| matches!(o, Outgoing::Plant(..) | Outgoing::Capture(..) | Outgoing::Display(..)));
            for o in out {
                self.outgoing(o);
            }
            if physical {
                return true;
            }
        }
        if self.next_external().is_none_or(|t| t > self.end) {
            self.now = self.end;
            self.finished = true;
            return true;
        }
        self.now = self.now.max(limit);
        true
    }

    /// Whether the clock has reached the end.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Rig mode: a step for the person, or one nobody can perform on a rig (skipped), or
    /// `false` for one the harness performs as usual (API calls, cameras, the line).
    fn rig_step(&mut self, action: &Action) -> bool {
        let ask = |run: &mut Self, text: String| {
            let at = fmt_time(run.now);
            if let Some(o) = run.operator.as_mut() {
                o.ask(&at, &text);
            }
            run.asked = Some(text);
        };
        let typed = |run: &mut Self, user: &str, code: &Code| {
            // The keypad is the host's: the harness types, the person does the rest.
            if let (Some(u), Some(keys)) = (run.user(user), run.code_keys(code)) {
                run.begin_intent(u, &keys);
            }
        };
        match action {
            Action::Take { user, code } => {
                typed(self, user, code);
                ask(
                    self,
                    format!(
                        "{user}: when the latch releases, open the door, take what is presented, close the door"
                    ),
                );
            }
            Action::Return { user, code, item, on_wrong, then } => {
                typed(self, user, code);
                let wrong = match (on_wrong, then) {
                    (OnWrong::TakeBack, Some(then)) => {
                        format!("; if told it is wrong, take it back and hang {then:?}")
                    }
                    (OnWrong::TakeBack, None) => "; if told it is wrong, take it back".into(),
                    (OnWrong::Leave, _) => "; if told it is wrong, leave it there".into(),
                };
                ask(
                    self,
                    format!(
                        "{user}: when the latch releases, open the door, hang {item:?}, close the door{wrong}"
                    ),
                );
            }
            Action::Press { user, keys } => {
                if let Some(u) = self.user(user) {
                    self.begin_intent(u, keys);
                }
            }
            Action::OpenDoor { user, force } => {
                let how = if *force { "break the door open" } else { "open the door" };
                ask(self, format!("{user}: {how}"));
            }
            Action::CloseDoor { user } => ask(self, format!("{user}: close the door")),
            Action::TakeKey { user } => ask(self, format!("{user}: take what hangs at the window")),
            Action::Hang { user, item } => ask(self, format!("{user}: hang {item:?} at the window")),
            Action::Give { from, to, key } => ask(self, format!("{from}: hand key {key} to {to}")),
            Action::Stall { .. }
            | Action::ClearStall { .. }
            | Action::LoseSteps { .. }
            | Action::EncoderNoise { .. }
            | Action::Latch { .. }
            | Action::TagReader { .. }
            | Action::PowerCut { .. }
            | Action::PowerRestore
            | Action::Mains { .. }
            | Action::Tamper { .. } => {
                let text = format!(
                    "{}: {} cannot be done on a rig (the plant is real)",
                    fmt_time(self.now),
                    first_word(&format!("{action:?}"))
                );
                self.emit(TraceEvent::User { user: "operator".into(), act: format!("skipped: {text}") });
                self.skipped.push(text);
            }
            _ => return false,
        }
        true
    }

    /// Timeline steps due now; returns whether any ran.
    pub fn phase_timeline(&mut self) -> bool {
        let mut progress = false;
        if let Some(step) = self.asked.clone() {
            match self.operator.as_mut().and_then(|o| o.answer()) {
                None => return false,
                Some(done) => {
                    self.asked = None;
                    progress = true;
                    let act = if done { "done" } else { "skipped" };
                    self.emit(TraceEvent::User { user: "operator".into(), act: format!("{act}: {step}") });
                    if !done {
                        self.skipped
                            .push(format!("{}: {step} (skipped by the operator)", fmt_time(self.now)));
                    }
                }
            }
        }
        while let Some(&(t, i)) = self.timeline.get(self.next_step) {
            if t > self.now || self.asked.is_some() {
                break;
            }
            self.next_step += 1;
            self.do_step(i);
            progress = true;
        }
        progress
    }

    /// Plant reports due now, into the plant links; returns whether there were any.
    pub fn phase_plants(&mut self) -> bool {
        if self.operator.is_some() {
            return false; // a rig's plant is real
        }
        let mut out = Vec::new();
        for i in 0..self.plants.len() {
            for report in self.plants[i].poll(self.now) {
                self.electronics.plant_report(i, self.now, &report, &mut out);
            }
        }
        let progress = !out.is_empty();
        for o in out {
            self.outgoing(o);
        }
        progress
    }

    /// The electronics at this instant, until quiet; plant commands, captures and display lines
    /// are handled as they come. Returns whether anything happened.
    pub fn phase_electronics(&mut self) -> bool {
        let mut out = Vec::new();
        self.electronics.run(self.now, &mut out);
        let progress = !out.is_empty();
        for o in out {
            self.outgoing(o);
        }
        progress
    }

    /// What the users can do now; returns whether anyone did something.
    pub fn phase_users(&mut self) -> bool {
        let mut progress = false;
        for u in 0..self.users.len() {
            progress |= self.user_act(u);
        }
        progress
    }

    /// Advances to the next event and handles everything due then; `false` once the run is over.
    pub fn step(&mut self) -> bool {
        let running = self.advance_clock();
        self.tick();
        running && !self.finished
    }

    /// Handles everything due now until nothing more happens at this instant.
    fn tick(&mut self) {
        for _round in 0..10_000 {
            let mut progress = self.phase_timeline();
            progress |= self.phase_plants();
            progress |= self.phase_electronics();
            progress |= self.phase_users();
            if !progress {
                self.show_plants();
                return;
            }
        }
        self.problem("the simulation did not settle at one instant (10,000 rounds)".into());
        self.show_plants();
    }

    fn outgoing(&mut self, o: Outgoing) {
        match o {
            Outgoing::Plant(i, cmd) => {
                let name = first_word(&format!("{cmd:?}"));
                self.observe(Observation::Plant(name));
                if self.operator.is_none() {
                    self.plants[i].handle(self.now, cmd);
                }
            }
            Outgoing::Capture(i, camera, id) => self.capture(i, camera, id),
            Outgoing::Display(i, text) => {
                self.emit(TraceEvent::Display { automat: i, text: text.clone() });
                self.observe(Observation::Display(text.clone()));
                self.displays[i].push(text);
            }
            Outgoing::Record(r) => {
                let body = format!("{:?}", r.event);
                let name = first_word(&body);
                self.emit(TraceEvent::Audit { seq: r.seq, name: name.clone(), body });
                match &r.event {
                    Event::AlertRaised(a) => {
                        self.alert_kinds.insert(a.id, (a.kind, a.key));
                        self.observe(Observation::Alert(a.kind.name().to_string(), a.key.map(|k| k.0)));
                    }
                    Event::AlertCleared { alert } => {
                        let (kind, key) =
                            self.alert_kinds.get(alert).copied().unwrap_or((AlertKind::Tamper, None));
                        self.observe(Observation::AlertCleared(kind.name().to_string(), key.map(|k| k.0)));
                    }
                    _ => {}
                }
                self.observe(Observation::Audit(name, event_key(&r.event)));
            }
            Outgoing::Message(i, channel, dir, body) => {
                let name = first_word(&body);
                if channel == Channel::Host && dir == Direction::Up {
                    self.observe(Observation::Board(name.clone()));
                }
                let link = if channel == Channel::Host { "host" } else { "plant" };
                let dir = if dir == Direction::Down { "down" } else { "up" };
                self.emit(TraceEvent::Message { automat: i, link: link.into(), dir: dir.into(), name, body });
            }
            Outgoing::LinkNote(i, channel, note) => {
                let link = if channel == Channel::Host { "host" } else { "plant" };
                self.emit(TraceEvent::Link { automat: i, link: link.into(), note });
            }
            Outgoing::RecoveryFailed(e) => self.problem(format!("the controller could not recover: {e}")),
            Outgoing::Wire(i, down, bytes) => {
                let hex = bytes.iter().map(|b| format!("{b:02x}")).collect();
                self.emit(TraceEvent::Bytes {
                    automat: i,
                    dir: (if down { "down" } else { "up" }).into(),
                    hex,
                });
            }
            Outgoing::BoardLost(i, why) => {
                self.problem(format!("automat {}: the line to its board is lost: {why}", i + 1));
                // Nothing more can be learnt: end the run here, the trace complete up to now.
                self.finished = true;
            }
        }
    }

    fn capture(&mut self, i: usize, camera: Camera, id: u64) {
        let plant = &self.plants[i];
        let (fault, cam) = match camera {
            Camera::Front => (plant.front_camera, "front"),
            Camera::Internal => (plant.internal_camera, "internal"),
        };
        let seed = self.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let image = match camera {
            Camera::Internal => {
                look::render_slot(plant.at_window(self.now).map(|i| &i.look), Conditions::random(seed), seed)
            }
            Camera::Front => look::render_user(self.last_user[i].as_deref().unwrap_or("nobody"), seed),
        };
        let (image, result) = match fault {
            CameraFault::None => (Some(image), "ok"),
            CameraFault::Fail => (None, "fail"),
            CameraFault::Black => (Some(RgbImage::new(image.width(), image.height())), "black"),
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
        self.emit(TraceEvent::Capture { automat: i, camera: cam.into(), id, file, result: result.into() });
        let automat = self.automats[i];
        self.electronics.controller_input(self.now, Input::Image { automat, id, image });
    }

    fn press(&mut self, i: usize, c: char) {
        let key = match c {
            '*' => KeypadKey::Star,
            '#' => KeypadKey::Enter,
            'C' => KeypadKey::Cancel,
            d => match d.to_digit(10) {
                Some(d) => KeypadKey::Digit(d as u8),
                None => return,
            },
        };
        let automat = self.automats[i];
        self.electronics.controller_input(self.now, Input::Keypad { automat, key });
    }

    fn code_keys(&mut self, code: &Code) -> Option<String> {
        match code {
            Code::Pin(p) => Some(format!("{p}#")),
            Code::ReturnCode(c) => Some(format!("*{c}#")),
            Code::ContractPin(name) => match self.pins.get(name) {
                Some(p) => Some(format!("{p}#")),
                None => {
                    self.problem(format!("no PIN for contract {name:?} (was it created?)"));
                    None
                }
            },
        }
    }

    fn user(&self, name: &str) -> Option<usize> {
        self.users.iter().position(|u| u.name == name)
    }

    fn do_step(&mut self, index: usize) {
        let action = self.scenario.timeline[index].action.clone();
        self.emit(TraceEvent::Step { index, action: format!("{action:?}") });
        let now = self.now;
        let automat = |run: &Self, id: u32| run.automat_index(id);
        if self.operator.is_some() && self.rig_step(&action) {
            return;
        }
        match action {
            Action::Take { user, code } | Action::Return { user, code, .. } if self.user(&user).is_none() => {
                let _ = code;
                self.problem(format!("no user {user:?}"));
            }
            Action::Take { user, code } => {
                let u = self.user(&user).unwrap_or(0);
                if let Some(keys) = self.code_keys(&code) {
                    self.begin_intent(u, &keys);
                    self.users[u].plan_take();
                }
            }
            Action::Return { user, code, item, on_wrong, then } => {
                let u = self.user(&user).unwrap_or(0);
                if let Some(keys) = self.code_keys(&code) {
                    self.begin_intent(u, &keys);
                    self.users[u].plan_return(item, on_wrong, then);
                }
            }
            Action::Press { user, keys } => {
                if let Some(u) = self.user(&user) {
                    self.begin_intent(u, &keys);
                }
            }
            Action::OpenDoor { user, force } => self.push_act(&user, Act::Open(force)),
            Action::CloseDoor { user } => self.push_act(&user, Act::Close),
            Action::TakeKey { user } => self.push_act(&user, Act::Take),
            Action::Hang { user, item } => self.push_act(&user, Act::Hang(item)),
            Action::Give { from, to, key } => {
                let (Some(f), Some(t)) = (self.user(&from), self.user(&to)) else {
                    self.problem(format!("give: no user {from:?} or {to:?}"));
                    return;
                };
                match self.users[f].take_from_hand(&scenario::ItemRef::Key(key)) {
                    Some(item) => {
                        self.emit(TraceEvent::User { user: from, act: format!("gives key {key} to {to}") });
                        self.users[t].hand.push(item);
                    }
                    None if self.scenario.improvise => self.emit(TraceEvent::User {
                        user: from,
                        act: format!("cannot give key {key}: does not hold it"),
                    }),
                    None => self.problem(format!("give: {from} does not hold key {key}")),
                }
            }
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
            Action::PowerCut { survive_bytes } => {
                let mut out = Vec::new();
                self.electronics.power_cut(survive_bytes as usize);
                for (i, p) in self.plants.iter_mut().enumerate() {
                    p.power_off(now);
                    self.electronics.supply_report(i, false, now, &mut out);
                }
                self.emit(TraceEvent::Plant { automat: 0, what: "power cut".into() });
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
                self.emit(TraceEvent::Plant { automat: 0, what: "power restored".into() });
                for o in out {
                    self.outgoing(o);
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
                    let mut out = Vec::new();
                    self.electronics.inject_message(i, now, &forged, &mut out);
                    for o in out {
                        self.outgoing(o);
                    }
                }
            }
            Action::CreateContract(c) => self.create_contract(&c),
            Action::DeleteContract { name, expect_error } => {
                let Some(&id) = self.contracts.get(&name) else {
                    self.problem(format!("delete contract: no contract {name:?}"));
                    return;
                };
                let ts = self.ts();
                let result = self.electronics.controller_mut().map(|c| c.delete_contract(ts, id));
                self.api_result(
                    format!("delete contract {name:?}"),
                    result.map(|r| r.map(|()| String::new())),
                    expect_error,
                );
            }
            Action::RevokeContact { contact } => {
                let ts = self.ts();
                let result =
                    self.electronics.controller_mut().map(|c| c.revoke_contact(ts, ContactId(contact)));
                self.api_result(
                    format!("revoke contact {contact}"),
                    result.map(|r| r.map(|v| format!("{v:?}"))),
                    None,
                );
            }
            Action::RegeneratePin { name } => {
                let Some(&id) = self.contracts.get(&name) else {
                    self.problem(format!("regenerate PIN: no contract {name:?}"));
                    return;
                };
                let ts = self.ts();
                match self.electronics.controller_mut().map(|c| c.regenerate_pin(ts, id)) {
                    Some(Ok(pin)) => {
                        self.pins.insert(name.clone(), pin.expose().to_string());
                        self.emit(TraceEvent::Api {
                            call: format!("regenerate PIN {name:?}"),
                            result: "ok".into(),
                        });
                    }
                    other => self.api_result(
                        format!("regenerate PIN {name:?}"),
                        other.map(|r| r.map(|_| String::new())),
                        None,
                    ),
                }
            }
            Action::Reservation(r) => {
                let ts = self.ts();
                let at = |o: scenario::Offset| self.start.saturating_add(o.0).unwrap_or(Timestamp::MAX);
                let res = Reservation {
                    entity: r.entity.clone(),
                    contacts: r.contacts.iter().map(|c| ContactId(*c)).collect(),
                    start: at(r.start),
                    end: at(r.end),
                    group: DeviceGroupId(r.group),
                    near: r.near.map(|(lat, lon)| cm::Location { lat, lon }),
                };
                match self.electronics.controller_mut().map(|c| c.create_reservation(ts, res)) {
                    Some(Ok(outcome)) => {
                        let names: Vec<String> = if outcome.contracts.len() == 2 {
                            vec![format!("{}/fetch", r.name), format!("{}/return", r.name)]
                        } else {
                            vec![r.name.clone()]
                        };
                        for (name, (id, pin)) in names.into_iter().zip(outcome.contracts) {
                            self.pins.insert(name.clone(), pin.expose().to_string());
                            self.contracts.insert(name, id);
                        }
                        self.emit(TraceEvent::Api {
                            call: format!("reservation {:?}", r.name),
                            result: format!("ok at {}", outcome.automat),
                        });
                        if let Some(want) = r.expect_automat
                            && outcome.automat.0 != want
                        {
                            self.problem(format!(
                                "reservation {:?}: chose automat {}, expected {want}",
                                r.name, outcome.automat.0
                            ));
                        }
                    }
                    other => self.api_result(
                        format!("reservation {:?}", r.name),
                        other.map(|r| r.map(|_| String::new())),
                        None,
                    ),
                }
            }
        }
    }

    fn api_result(
        &mut self,
        call: String,
        result: Option<Result<String, controller::registry::ApiError>>,
        expect_error: Option<String>,
    ) {
        match (result, expect_error) {
            // An API call while the power is out fails, as a real one would; improvising
            // scenarios (the swarm's) may meet that, written ones are told.
            (None, _) if self.scenario.improvise => {
                self.emit(TraceEvent::Api { call, result: "unavailable: the controller is down".into() })
            }
            (None, _) => self.problem(format!("{call}: the controller is down")),
            (Some(Ok(v)), None) => self.emit(TraceEvent::Api { call, result: format!("ok {v}") }),
            (Some(Ok(_)), Some(want)) => {
                self.problem(format!("{call}: expected the error {want:?}, but it succeeded"))
            }
            (Some(Err(e)), want) => self.api_refused(call, &e, want.as_deref()),
        }
    }

    /// An API call was refused: traced, observed, and a problem unless `want` expected it.
    fn api_refused(&mut self, call: String, error: &controller::registry::ApiError, want: Option<&str>) {
        let text = error.to_string();
        self.emit(TraceEvent::Api { call: call.clone(), result: format!("error {text}") });
        self.observe(Observation::ApiError(text.clone()));
        match want {
            Some(w) if text.contains(w) => {}
            Some(w) => self.problem(format!("{call}: expected an error containing {w:?}, got {text:?}")),
            None => self.problem(format!("{call}: refused: {text}")),
        }
    }

    fn push_act(&mut self, user: &str, act: Act) {
        if let Some(u) = self.user(user) {
            let now = self.now;
            let u = &mut self.users[u];
            u.ready_at = u.ready_at.max(now);
            u.acts.push_back(act);
        }
    }

    fn begin_intent(&mut self, u: usize, keys: &str) {
        let now = self.now;
        let automat = self.users[u].automat;
        let mark = self.displays[automat].len();
        let user = &mut self.users[u];
        user.acts.clear();
        user.ready_at = now;
        user.waiting_since = None;
        user.display_mark = mark;
        user.type_code(keys);
        self.last_user[automat] = Some(self.users[u].name.clone());
    }

    /// Lets user `u` do what they can now; returns whether anything happened.
    fn user_act(&mut self, u: usize) -> bool {
        let mut progress = false;
        loop {
            let now = self.now;
            let user = &self.users[u];
            if user.ready_at > now {
                return progress;
            }
            let Some(act) = user.acts.front().cloned() else { return progress };
            let i = user.automat;
            let name = user.name.clone();
            match act {
                Act::WaitUnlock(timeout) => {
                    let since = *self.users[u].waiting_since.get_or_insert(now);
                    if self.plants[i].door.releases() && !self.plants[i].door.open {
                        self.users[u].waiting_since = None;
                        self.users[u].acts.pop_front();
                        self.users[u].ready_at = now + REACTION;
                        return true;
                    }
                    if now >= since + timeout {
                        self.emit(TraceEvent::User {
                            user: name,
                            act: "gives up waiting for the door".into(),
                        });
                        self.users[u].acts.clear();
                        self.users[u].waiting_since = None;
                        return true;
                    }
                    return progress;
                }
                Act::TakeMore => {
                    self.users[u].acts.pop_front();
                    // Another key of the bundle: the latch releases again within a few seconds.
                    self.users[u].take_round(Duration::from_secs(15));
                    progress = true;
                    continue;
                }
                _ => {}
            }
            self.users[u].acts.pop_front();
            progress = true;
            match act {
                Act::Key(c) => {
                    self.emit(TraceEvent::User { user: name, act: "presses a key".into() });
                    self.press(i, c);
                }
                Act::Pause(d) => {
                    self.users[u].ready_at = now + d;
                }
                Act::Open(force) => {
                    let opened = self.plants[i].open_door(now, force);
                    let what = if force { "forces the door" } else { "opens the door" };
                    self.emit(TraceEvent::User {
                        user: name,
                        act: format!("{what}: {}", if opened { "open" } else { "it does not open" }),
                    });
                    if !opened && !force {
                        self.users[u].acts.clear();
                    }
                }
                Act::Close => {
                    if self.plants[i].close_door(now) {
                        self.emit(TraceEvent::User { user: name, act: "closes the door".into() });
                    }
                }
                Act::Take => match self.plants[i].take(now) {
                    Some(item) => {
                        self.emit(TraceEvent::User { user: name, act: format!("takes {}", describe(&item)) });
                        self.users[u].hand.push(item);
                    }
                    None => self.emit(TraceEvent::User { user: name, act: "finds nothing to take".into() }),
                },
                Act::Hang(item) => match self.users[u].take_from_hand(&item) {
                    Some(it) => {
                        let desc = describe(&it);
                        match self.plants[i].hang(now, it) {
                            Ok(()) => {
                                self.emit(TraceEvent::User { user: name, act: format!("hangs {desc}") })
                            }
                            Err(it) => {
                                self.users[u].hand.push(it);
                                self.emit(TraceEvent::User {
                                    user: name,
                                    act: format!("cannot hang {desc}"),
                                });
                            }
                        }
                    }
                    None if self.scenario.improvise => {
                        self.emit(TraceEvent::User { user: name, act: format!("has no {item:?} to hang") })
                    }
                    None => self.problem(format!("{name} does not hold {item:?}")),
                },
                Act::CheckWrong { on_wrong, then } => {
                    let mark = self.users[u].display_mark;
                    let told = self.displays[i][mark.min(self.displays[i].len())..]
                        .iter()
                        .any(|d| d.contains("Wrong key"));
                    if told && on_wrong == scenario::OnWrong::TakeBack {
                        self.emit(TraceEvent::User {
                            user: name,
                            act: "was told the key is wrong: takes it back".into(),
                        });
                        let user = &mut self.users[u];
                        user.take_once(Duration::from_secs(40));
                        if let Some(then) = then {
                            user.hang_once(then);
                        }
                    } else if told {
                        self.emit(TraceEvent::User {
                            user: name,
                            act: "was told the key is wrong: walks away".into(),
                        });
                    }
                }
                Act::WaitUnlock(_) | Act::TakeMore => {}
            }
        }
    }

    /// Ends the run: judges the expectations and closes the trace.
    pub fn finish(mut self) -> Outcome {
        let mut failures = self.problems.clone();
        let registry = self.electronics.controller().map(|c| c.registry().clone());
        let doors: Vec<bool> = self.plants.iter().map(|p| p.door.open).collect();
        let verdicts = expect::verdicts(
            &self.scenario.expect,
            &self.observed,
            registry.as_ref(),
            &self.automats,
            &doors,
        );
        for v in verdicts {
            let at = v.at.map(|t| t.as_micros());
            self.emit(TraceEvent::Expectation { text: v.text, met: v.failures.is_empty(), at });
            failures.extend(v.failures);
        }
        failures.extend(self.invariant_failures());
        if let Some(e) = self.trace.error() {
            failures.push(format!("trace not written: {e}"));
        }
        let passed = failures.is_empty() && self.skipped.is_empty();
        self.emit(TraceEvent::End { passed, failures: failures.clone() });
        self.trace.flush();
        let summary = expect::summary(&self.observed);
        let bytes_on_lines =
            (0..self.plants.len()).flat_map(|i| self.electronics.line_stats(i)).map(|s| s.bytes).sum();
        Outcome {
            passed,
            failures,
            simulated: Duration::from_micros(self.now.as_micros()),
            summary,
            bytes_on_lines,
            skipped: self.skipped.clone(),
        }
    }
}

/// The first word of a Debug string: the variant name.
pub fn first_word(s: &str) -> String {
    s.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("").to_string()
}

fn describe(item: &Item) -> String {
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

/// `hh:mm:ss.mmm` of simulated time.
pub fn fmt_time(t: Instant) -> String {
    let ms = t.as_micros() / 1000;
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

fn look_of(l: &scenario::LookSpec) -> Look {
    Look {
        colour: scenario::load::colour(&l.colour).unwrap_or([128, 128, 128]),
        shape: l.shape,
        label: l.label.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_scenario_passes_the_plain_way_too() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/happy_take_and_return.ron");
        let s = crate::scenario::load_file(std::path::Path::new(path)).expect("loads");
        let out = run_plain(&s, RunOptions::default());
        assert!(out.passed, "{:#?}\n{:#?}", out.failures, out.summary);
    }
}
