//! One run of one scenario: the virtual clock, the electronics, the plants, the users and the
//! timeline, advanced event by event. Idle time is skipped: the clock jumps to the next thing
//! anything has scheduled. Same scenario and seed, same trace bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use controller::alerts::AlertKind;
use controller::ids::*;
use controller::{BoardPairing, ControllerConfig};
use firmware_proto::Instant;
use firmware_proto::auth::PairingKey;
use firmware_proto::board::BoardConfig;
use jiff::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::board_box::BoardClock;
use crate::camera::{CameraMode, Cameras};
use crate::electronics::{Electronics, ElectronicsConfig, Outgoing, PlacedBoard};
use crate::expect;
use crate::plant::{AutomatPlant, Item, Look};
use crate::scenario::{self, Scenario};
use crate::trace::{Cabinet, Header, TraceEvent, TraceWriter};
use users::User;

mod api;
mod invariants;
mod record;
mod rig;
mod steps;
pub mod users;
mod watch;

pub use watch::LinkCounts;
use watch::Watchdog;

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
    /// The wall-clock instant the run gives up at: it ends there as failed, "timed out", with
    /// its trace complete up to that moment (`sim run --timeout`).
    pub deadline: Option<std::time::Instant>,
    /// Test only: the clock stops a minute in, as if the run were stuck, so that the deadline
    /// can be seen to end it (`sim run --hang NAME`, hidden).
    pub hang: bool,
    /// How camera images are made (`None`: as the scenario says, drawn by default).
    pub cameras: Option<CameraMode>,
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
        f.debug_struct("RunOptions")
            .field("seed", &self.seed)
            .field("images", &self.images)
            .field("cameras", &self.cameras)
            .finish()
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
    /// Bytes written on all lines.
    pub bytes_on_lines: u64,
    /// Frames written on all lines (the link frames the run carried).
    pub frames_on_lines: u64,
    /// Steps that could not be performed (rig mode): a run with any is not passed.
    pub skipped: Vec<String>,
    /// Per automat, what its lines and its host link carried.
    pub links: Vec<LinkCounts>,
    /// The PINs the controller generated for the run's contracts.
    pub secrets: Secrets,
}

/// Secrets a run handled, for tests that check no artifact holds one. Never written anywhere:
/// its `Debug` says only how many.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// The secrets themselves.
    pub fn expose(&self) -> &[String] {
        &self.0
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({})", self.0.len())
    }
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
            frames_on_lines: 0,
            skipped: Vec::new(),
            links: Vec::new(),
            secrets: Secrets::default(),
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

/// What the users of an automat know of its screen: how many lines it has shown, and which
/// was the last to say the key is wrong (numbered from 1).
#[derive(Clone, Copy, Debug, Default)]
struct Screen {
    lines: u64,
    wrong_key: Option<u64>,
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
    /// Every PIN the controller generated (regenerated ones too), for [`Outcome::secrets`].
    generated: Vec<String>,
    contracts: BTreeMap<String, ContractId>,
    alert_kinds: BTreeMap<AlertId, (AlertKind, Option<KeyId>)>,
    /// The expectations, judged as the run goes.
    judge: expect::Judge,
    /// The summary's lines so far (audit and alert events: what happened, not how long).
    summary: Vec<String>,
    /// Per automat, what users need to know of its screen.
    screens: Vec<Screen>,
    last_user: Vec<Option<String>>,
    /// Per automat, the people at it: the one being served first, then those waiting.
    queues: Vec<std::collections::VecDeque<usize>>,
    /// Per automat, the user whose code opened the session in progress.
    owners: Vec<Option<usize>>,
    /// Fleet keys people took off hooks.
    taken: Vec<users::Taken>,
    /// Host messages an attacker captured, by name: their payloads.
    frames: BTreeMap<String, Vec<u8>>,
    /// The timeline step being run, if any (its problems name it).
    in_step: Option<usize>,
    problems: Vec<String>,
    trace: TraceWriter,
    /// Link messages the trace leaves out (the scenario's `trace.leave_out`).
    leave_out: Vec<&'static str>,
    /// What the trace last said about each plant.
    shown: Vec<Shown>,
    images: Option<PathBuf>,
    /// The cameras: drawn, or rendered by the process's renderer.
    cameras: Cameras,
    rng: ChaCha8Rng,
    finished: bool,
    /// Real time: the wall-clock instant of simulated time 0 (a board on its own clock).
    pace: Option<std::time::Instant>,
    /// Rig mode's person, and the step they were asked to do, if not answered yet.
    operator: Option<Box<dyn Operator>>,
    asked: Option<String>,
    skipped: Vec<String>,
    watchdog: Watchdog,
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
        // A board across a line makes it a HIL run.
        let source = if options.boards.is_some() { "hil" } else { "sim" };
        let mut fleet = place_boards(&scenario, options.boards.take(), &mut rng);
        let mut ccfg = controller_config(&scenario, &mut rng, fleet.pairings);
        let mode = options.cameras.or(scenario.cameras).unwrap_or_default();
        let cameras = install_cameras(&scenario, mode, &mut ccfg, &mut fleet.problems);
        let electronics =
            Electronics::new(ccfg, start, fleet.boards, &electronics_config(&scenario), rng.random());
        let plants = scenario
            .automats
            .iter()
            .map(|a| AutomatPlant::new(a.slots, COUNTS_PER_SLOT, a.at_window, rng.random()))
            .collect();
        let last_step = scenario.timeline.iter().map(|s| s.at.0).max().unwrap_or(Duration::ZERO);
        let end = Instant::ZERO + scenario.duration.map_or(last_step + Duration::from_secs(600), |d| d.0);
        // The loader refuses a timeline out of order; the sort only keeps a hand-built one safe.
        let mut timeline: Vec<(Instant, usize)> =
            scenario.timeline.iter().enumerate().map(|(i, s)| (Instant::ZERO + s.at.0, i)).collect();
        timeline.sort_by_key(|(t, i)| (*t, *i));
        let (trace, leave_out) = open_trace(options.trace.take(), &scenario, seed, start, source);
        let n = automats.len();
        let judge = expect::Judge::new(&scenario.expect);
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
            generated: Vec::new(),
            contracts: BTreeMap::new(),
            alert_kinds: BTreeMap::new(),
            judge,
            summary: Vec::new(),
            screens: vec![Screen::default(); n],
            last_user: vec![None; n],
            queues: vec![std::collections::VecDeque::new(); n],
            owners: vec![None; n],
            taken: Vec::new(),
            frames: BTreeMap::new(),
            in_step: None,
            finished: !fleet.problems.is_empty(),
            problems: fleet.problems,
            pace: fleet.pace,
            operator: options.operator.take(),
            asked: None,
            skipped: Vec::new(),
            watchdog: Watchdog {
                started: std::time::Instant::now(),
                deadline: options.deadline,
                hang: options.hang,
            },
            trace,
            leave_out,
            shown: (0..n).map(|_| Shown::default()).collect(),
            images: options.images,
            cameras,
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
    fn advance_clock(&mut self) -> bool {
        if self.finished {
            return false;
        }
        if let Some(failure) = self.watchdog.expired(self.now) {
            self.problems.push(failure);
            self.finished = true;
            return false;
        }
        if self.watchdog.stuck(self.now) {
            std::thread::sleep(Duration::from_millis(5));
            return true;
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

    /// Timeline steps due now; returns whether any ran.
    fn phase_timeline(&mut self) -> bool {
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
    fn phase_plants(&mut self) -> bool {
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
    fn phase_electronics(&mut self) -> bool {
        let mut out = Vec::new();
        self.electronics.run(self.now, &mut out);
        let progress = !out.is_empty();
        for o in out {
            self.outgoing(o);
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

    pub fn finish(mut self) -> Outcome {
        let mut failures = self.problems.clone();
        let registry = self.electronics.controller().map(|c| c.registry().clone());
        let doors: Vec<bool> = self.plants.iter().map(|p| p.door.open).collect();
        let holders: Vec<(u32, &str)> = self
            .users
            .iter()
            .flat_map(|u| u.hand.iter().filter_map(|item| item.key).map(|k| (k.0, u.name.as_str())))
            .collect();
        let world = expect::World { automats: &self.automats, doors_open: &doors, holders: &holders };
        let verdicts = self.judge.verdicts(registry.as_ref(), world);
        for v in verdicts {
            let at = v.at.map(|t| t.as_micros());
            self.emit(TraceEvent::Expectation { text: v.text, met: v.failures.is_empty(), at });
            failures.extend(v.failures);
        }
        let mut broken = self.invariant_failures();
        for inv in self.scenario.expect.broken.clone() {
            let tag = format!("invariant {}:", inv.name());
            let (mine, rest): (Vec<String>, Vec<String>) = broken.into_iter().partition(|f| f.contains(&tag));
            broken = rest;
            let met = !mine.is_empty();
            let text = format!("invariant {} broken", inv.name());
            self.emit(TraceEvent::Expectation { text, met, at: None });
            if !met {
                failures.push(format!(
                    "{}: expected the invariant {} to be broken (the scenario says so), but it holds",
                    fmt_time(self.now),
                    inv.name()
                ));
            }
        }
        failures.extend(broken);
        if let Some(e) = self.trace.error() {
            failures.push(format!("trace not written: {e}"));
        }
        let passed = failures.is_empty() && self.skipped.is_empty();
        self.emit(TraceEvent::End { passed, failures: failures.clone() });
        self.trace.flush();
        let links = (0..self.plants.len()).map(|i| self.link_counts(i)).collect::<Vec<_>>();
        Outcome {
            passed,
            failures,
            simulated: Duration::from_micros(self.now.as_micros()),
            summary: std::mem::take(&mut self.summary),
            bytes_on_lines: links.iter().map(|l| l.bytes).sum(),
            frames_on_lines: links.iter().map(|l| l.frames).sum(),
            skipped: self.skipped.clone(),
            links,
            secrets: Secrets(std::mem::take(&mut self.generated)),
        }
    }
}

/// The first word of a Debug string: the variant name.
pub fn first_word(s: &str) -> String {
    s.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("").to_string()
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

/// The trace writer, its header written; and the link messages it leaves out.
fn open_trace(
    to: Option<Box<dyn std::io::Write + Send + Sync>>,
    scenario: &Scenario,
    seed: u64,
    start: Timestamp,
    source: &str,
) -> (TraceWriter, Vec<&'static str>) {
    let leave_out: Vec<&'static str> = scenario.trace.leave_out.iter().map(|n| n.name()).collect();
    let mut trace = TraceWriter::new(to);
    trace.header(&Header {
        format: crate::trace::FORMAT,
        version: crate::trace::VERSION,
        scenario: &scenario.name,
        seed,
        start: start.to_string(),
        source,
        leaves_out: &leave_out,
    });
    (trace, leave_out)
}

/// The boards of a fleet, where they live, and what they need to be paired.
struct Fleet {
    boards: Vec<crate::electronics::BoardSpec>,
    pairings: Vec<BoardPairing>,
    problems: Vec<String>,
    /// Set when a board runs on its own (wall) clock.
    pace: Option<std::time::Instant>,
}

/// Each automat's board: simulated in process, or placed by `placer` (the HIL bridge).
fn place_boards(
    scenario: &Scenario,
    mut placer: Option<Box<dyn BoardPlacer>>,
    rng: &mut ChaCha8Rng,
) -> Fleet {
    let mut fleet = Fleet { boards: Vec::new(), pairings: Vec::new(), problems: Vec::new(), pace: None };
    for (i, a) in scenario.automats.iter().enumerate() {
        let mut key = PairingKey(rng.random());
        let mut board_id = 0x0B00_0000 + a.id;
        let placed = match placer.as_mut().map(|p| p.place(i, a)) {
            Some(Ok(placed)) => placed,
            Some(Err(e)) => {
                fleet.problems.push(format!("{}: automat {}: {e}", fmt_time(Instant::ZERO), a.id));
                None
            }
            None => None,
        };
        let placed = placed.map(|p| {
            (board_id, key) = (p.board_id, p.key);
            if p.board.clock() == BoardClock::Realtime {
                fleet.pace = Some(std::time::Instant::now());
            }
            p.board
        });
        let mut cfg = BoardConfig::reference(board_id, key.clone());
        cfg.slot_count = a.slots;
        cfg.counts_per_slot = COUNTS_PER_SLOT;
        fleet.boards.push((AutomatId(a.id), cfg, placed));
        fleet.pairings.push(BoardPairing { automat: AutomatId(a.id), board_id, key });
    }
    fleet
}

/// The lines and the journal's fsync policy, from the scenario.
fn electronics_config(scenario: &Scenario) -> ElectronicsConfig {
    let fsync = match scenario.controller.fsync_every {
        None | Some(0) | Some(1) => controller::journal::FsyncPolicy::Always,
        Some(n) => controller::journal::FsyncPolicy::Every(n),
    };
    ElectronicsConfig { host_line: scenario.lines.host, plant_line: scenario.lines.plant, fsync }
}

/// The cameras of `mode`, and for rendered ones each automat's plate in the controller's
/// settings (an installer calibrates the internal camera on the empty carousel). A camera that
/// cannot start is a problem of the run (no silent fallback).
fn install_cameras(
    scenario: &Scenario,
    mode: CameraMode,
    ccfg: &mut ControllerConfig,
    problems: &mut Vec<String>,
) -> Cameras {
    let cameras = match Cameras::new(mode) {
        Ok(cameras) => cameras,
        Err(e) => {
            problems.push(format!("{}: {mode} cameras: {e}", fmt_time(Instant::ZERO)));
            return Cameras::drawn();
        }
    };
    for a in &scenario.automats {
        match cameras.plate(a.slots) {
            Ok(Some(plate)) => ccfg.plates.push((AutomatId(a.id), controller::verify::Plate::new(plate))),
            Ok(None) => {}
            Err(e) => problems.push(format!("{}: automat {}: its plate: {e}", fmt_time(Instant::ZERO), a.id)),
        }
    }
    cameras
}

/// The controller's settings: its secrets from the run's RNG, the rest from the scenario.
fn controller_config(
    scenario: &Scenario,
    rng: &mut ChaCha8Rng,
    pairings: Vec<BoardPairing>,
) -> ControllerConfig {
    let mut ccfg = ControllerConfig::new(rng.random(), rng.random(), pairings);
    if let Some(tz) = scenario.time_zone.as_deref().and_then(|z| jiff::tz::TimeZone::get(z).ok()) {
        ccfg.time_zone = tz;
    }
    let c = &scenario.controller;
    let set = |to: &mut Duration, from: Option<scenario::Offset>| {
        if let Some(d) = from {
            *to = d.0;
        }
    };
    set(&mut ccfg.door_open_limit, c.door_open_limit);
    set(&mut ccfg.unlock_window, c.unlock_window);
    set(&mut ccfg.lockout, c.lockout);
    set(&mut ccfg.overdue_grace, c.overdue_grace);
    set(&mut ccfg.split_after, c.split_after);
    set(&mut ccfg.fetch_window, c.fetch_window);
    set(&mut ccfg.return_window, c.return_window);
    if let Some(b) = c.alert_shared_key_out {
        ccfg.alert_shared_key_out = b;
    }
    ccfg
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
