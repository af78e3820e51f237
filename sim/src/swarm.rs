//! Swarm testing, as FoundationDB and TigerBeetle test by simulation: a seed becomes a random
//! scenario (automats, keys, contracts, people and what they do, faults, API calls), the run
//! is checked against the invariants every run is checked against (see `run/invariants.rs`),
//! and a failing scenario is shrunk — timeline steps dropped one by one while it still fails
//! the same way — to a small RON file that `sim run` replays.
//!
//! Generated people improvise (`improvise: true`): the generator does not track who holds
//! what, so "return key 3" by someone who does not hold it is skipped, not an error.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::plant::CameraFault;
use crate::plant::look::{COLOURS, Shape};
use crate::run::{Outcome, RunOptions, panic_text, run_plain};
use crate::scenario::{
    Action, AutomatSpec, CameraSpec, Code, ContactSpec, ContractSpec, ControllerSpec, Expect, ItemRef,
    KeySpec, Lines, LookSpec, Offset, OnWrong, Scenario, Step, TagFaultSpec, TraceSpec, UserSpec,
};
use crate::wire::LineConfig;

const SHAPES: [Shape; 4] = [Shape::Round, Shape::Square, Shape::Tag, Shape::Triangle];

fn secs(s: u64) -> Offset {
    Offset(Duration::from_secs(s))
}

fn millis(ms: u64) -> Offset {
    Offset(Duration::from_millis(ms))
}

/// A person of the generated scenario: their contract's PIN and keys.
struct Person {
    name: String,
    automat: u32,
    pin: String,
    keys: Vec<u32>,
}

/// What a generated scenario is made of, filled automat by automat.
#[derive(Default)]
struct Draft {
    automats: Vec<AutomatSpec>,
    keys: Vec<KeySpec>,
    contacts: Vec<ContactSpec>,
    contracts: Vec<ContractSpec>,
    users: Vec<UserSpec>,
    people: Vec<Person>,
    pins: BTreeSet<String>,
    next_key: u32,
}

impl Draft {
    /// Automat `a`: its carousel, its keys, and the people with contracts there.
    fn add_automat(&mut self, rng: &mut ChaCha8Rng, a: u32) {
        let Draft { automats, keys, next_key, .. } = self;
        let slots = rng.random_range(12..=30u8);
        automats.push(AutomatSpec {
            id: a,
            name: format!("A{a}"),
            slots,
            location: (52.0 + f64::from(a) / 10.0, 13.0),
            at_window: rng.random_range(0..slots),
        });
        // Distinct slots and distinct looks (colour and shape) within the automat.
        let mut slot_pool: Vec<u8> = (0..slots).collect();
        slot_pool.shuffle(rng);
        let mut looks: Vec<(usize, usize)> =
            (0..COLOURS.len()).flat_map(|c| (0..4).map(move |s| (c, s))).collect();
        looks.shuffle(rng);
        let n_keys = rng.random_range(2..=5usize);
        let mut automat_keys = Vec::new();
        for (k, ((colour, shape), slot)) in looks.iter().zip(&slot_pool).take(n_keys).enumerate() {
            let id = *next_key;
            *next_key += 1;
            keys.push(KeySpec {
                id,
                name: format!("Key {id}"),
                automat: a,
                slot: *slot,
                tag: rng.random_bool(0.8).then(|| format!("{:08X}", 0x0A00_0000 + id)),
                shared: rng.random_bool(0.15),
                return_code: rng.random_bool(0.3).then(|| format!("{:04}", 1000 + id * 7 + k as u32)),
                look: LookSpec {
                    colour: COLOURS[*colour].0.to_string(),
                    shape: SHAPES[*shape],
                    label: format!("K{id}"),
                },
                daily_deadline: None,
            });
            automat_keys.push((id, keys.last().is_some_and(|k| k.shared)));
        }
        self.add_people(rng, a, &automat_keys);
    }

    /// People with one contract each at automat `a`; a not-shared key is in at most one
    /// contract. `automat_keys`: the automat's keys and whether each is shared.
    fn add_people(&mut self, rng: &mut ChaCha8Rng, a: u32, automat_keys: &[(u32, bool)]) {
        let Draft { contacts, contracts, users, people, pins, .. } = self;
        let mut free: Vec<u32> = automat_keys.iter().map(|k| k.0).collect();
        let shared: Vec<u32> = automat_keys.iter().filter(|k| k.1).map(|k| k.0).collect();
        for p in 0..rng.random_range(1..=3usize) {
            let mut mine: Vec<u32> = Vec::new();
            if let Some(k) = free.pop() {
                mine.push(k);
            } else if let Some(&k) = shared.choose(rng) {
                mine.push(k);
            }
            if rng.random_bool(0.25)
                && let Some(k) = free.pop()
            {
                mine.push(k);
            }
            if mine.is_empty() {
                break;
            }
            let contact = contacts.len() as u32 + 1;
            let name = format!("u{a}{p}");
            contacts.push(ContactSpec { id: contact, name: name.clone() });
            let pin = loop {
                let pin = format!("{:06}", rng.random_range(100_000..1_000_000u32));
                if pins.insert(pin.clone()) {
                    break pin;
                }
            };
            let start = rng.random_bool(0.1).then(|| secs(60 * rng.random_range(5..20u64)));
            let from = start.map_or(0, |s| s.0.as_secs());
            let end = rng.random_bool(0.3).then(|| secs(from + 60 * rng.random_range(10..50u64)));
            contracts.push(ContractSpec {
                name: name.clone(),
                automat: a,
                keys: mine.clone(),
                contacts: vec![contact],
                start,
                end,
                pin: Some(pin.clone()),
                schedule: None,
                expect_error: None,
            });
            // A shared key in several contracts: the others may overlap it.
            for k in mine.iter().filter(|k| shared.contains(k)) {
                free.retain(|f| f != k);
            }
            users.push(UserSpec {
                name: name.clone(),
                automat: Some(a),
                carries: Vec::new(),
                impatient: false,
                look: Default::default(),
            });
            people.push(Person { name, automat: a, pin, keys: mine });
        }
    }
}

/// The random scenario of `seed`.
pub fn generate(seed: u64) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n_automats = rng.random_range(1..=2u32);
    let mut d = Draft { next_key: 1, ..Draft::default() };
    for a in 1..=n_automats {
        d.add_automat(&mut rng, a);
    }
    let Draft { automats, keys, contacts, contracts, users, people, .. } = d;
    let mut timeline = Vec::new();
    let mut t = 60u64;
    for _ in 0..rng.random_range(4..=14usize) {
        let Some(p) = people.choose(&mut rng) else { break };
        let world = World { people: &people, keys: &keys, contacts: &contacts };
        happening(&mut rng, t, p, world, &mut timeline);
        t += 60 * rng.random_range(1..5u64);
    }
    timeline.sort_by_key(|s| s.at);
    // Group commit of every size: an acknowledgement must survive a cut whatever it is (drawn
    // last, so the rest of a seed's scenario does not depend on it).
    let fsync_every = [1, 5, 50][rng.random_range(0..3usize)];
    let controller = ControllerSpec { fsync_every: Some(fsync_every), ..ControllerSpec::default() };
    Scenario {
        name: format!("swarm seed {seed}"),
        description: String::new(),
        tags: Vec::new(),
        seed,
        start: None,
        time_zone: None,
        duration: Some(secs(t + 1_200)),
        automats,
        keys,
        contacts,
        groups: Vec::new(),
        contracts,
        users,
        timeline,
        expect: Expect::default(),
        lines: Lines::default(),
        controller,
        trace: TraceSpec::default(),
        cameras: None,
        improvise: true,
    }
}

fn unlock() -> crate::scenario::names::HostCommand {
    // A name of the host message set, so always known.
    crate::scenario::names::HostCommand::new("UnlockDoor").unwrap_or_else(|| unreachable!())
}

/// What a happening may refer to.
#[derive(Clone, Copy)]
struct World<'a> {
    people: &'a [Person],
    keys: &'a [KeySpec],
    contacts: &'a [ContactSpec],
}

/// One happening at `t` (seconds) around person `p`.
fn happening(rng: &mut ChaCha8Rng, t: u64, p: &Person, w: World<'_>, timeline: &mut Vec<Step>) {
    let World { people, keys, contacts } = w;
    let at = secs(t);
    let key = *p.keys.choose(rng).unwrap_or(&0);
    let user = p.name.clone();
    let pin = Code::Pin(p.pin.clone());
    let automat = p.automat;
    let roll = rng.random_range(0..100u32);
    let mut step = |at: Offset, action: Action| timeline.push(Step { at, action });
    match roll {
        0..3 => {
            // An attacker captures the next unlock on the line and replays it later; or
            // writes garbage onto the line.
            if rng.random_bool(0.6) {
                let name = format!("unlock-{t}");
                step(at, Action::CaptureFrame { automat, name: name.clone(), message: unlock() });
                step(secs(t + 1), Action::Take { user, code: pin });
                step(secs(t + 60 * rng.random_range(2..10u64)), Action::ReplayFrame { automat, name });
            } else {
                let n = rng.random_range(1..64usize);
                let hex = (0..n).map(|_| format!("{:02x}", rng.random::<u8>())).collect();
                step(at, Action::InjectBytes { automat, hex });
            }
        }
        3..30 => {
            step(at, Action::Take { user: user.clone(), code: pin });
            if rng.random_bool(0.15) {
                // A jam while the carousel turns for it.
                let at = millis(t * 1000 + rng.random_range(1_700..3_500));
                let duration = rng.random_bool(0.7).then(|| secs(rng.random_range(1..5)));
                step(at, Action::Stall { automat, duration });
                if duration.is_none() {
                    step(secs(t + 120), Action::ClearStall { automat });
                }
            }
        }
        30..55 => {
            let on_wrong = if rng.random_bool(0.5) { OnWrong::TakeBack } else { OnWrong::Leave };
            step(at, Action::Return { user, code: pin, item: ItemRef::Key(key), on_wrong, then: None });
        }
        55..63 => {
            // Someone else's key handed over and returned in the wrong slot.
            let others: Vec<&Person> =
                people.iter().filter(|o| o.automat == automat && o.name != user).collect();
            if let Some(other) = others.choose(rng) {
                let theirs = *other.keys.choose(rng).unwrap_or(&0);
                step(at, Action::Give { from: other.name.clone(), to: user.clone(), key: theirs });
                let on_wrong = if rng.random_bool(0.6) { OnWrong::TakeBack } else { OnWrong::Leave };
                step(
                    secs(t + 30),
                    Action::Return {
                        user,
                        code: pin,
                        item: ItemRef::Key(theirs),
                        on_wrong,
                        then: Some(ItemRef::Key(key)),
                    },
                );
            }
        }
        63..68 => {
            if let Some(code) = keys.iter().find(|k| k.id == key).and_then(|k| k.return_code.clone()) {
                let item = ItemRef::Key(key);
                step(
                    at,
                    Action::Return {
                        user,
                        code: Code::ReturnCode(code),
                        item,
                        on_wrong: OnWrong::TakeBack,
                        then: None,
                    },
                );
            }
        }
        68..75 => {
            let keys = format!("{:06}#", rng.random_range(0..1_000_000u32));
            step(at, Action::Press { user, keys });
        }
        _ => fault(rng, roll, t, p, contacts, timeline),
    }
}

/// A fault, a power cut, line trouble, a revocation or a forced door, around person `p` at
/// their automat.
fn fault(
    rng: &mut ChaCha8Rng,
    roll: u32,
    t: u64,
    p: &Person,
    contacts: &[ContactSpec],
    timeline: &mut Vec<Step>,
) {
    let at = secs(t);
    let (user, pin, automat) = (p.name.clone(), Code::Pin(p.pin.clone()), p.automat);
    let mut step = |at: Offset, action: Action| timeline.push(Step { at, action });
    match roll {
        75..79 => {
            step(at, Action::TagReader { automat, fault: TagFaultSpec::NoRead });
            step(secs(t + 300), Action::TagReader { automat, fault: TagFaultSpec::Ok });
        }
        79..83 => {
            let fault = if rng.random_bool(0.5) { CameraFault::Fail } else { CameraFault::Black };
            let camera = if rng.random_bool(0.7) { CameraSpec::Internal } else { CameraSpec::Front };
            step(at, Action::Camera { automat, camera, fault });
            step(secs(t + 300), Action::Camera { automat, camera, fault: CameraFault::None });
        }
        83..89 => {
            // A power cut, sometimes in the middle of a session.
            let at = if rng.random_bool(0.5) { at } else { millis(t * 1000 + rng.random_range(500..8_000)) };
            if at != secs(t) {
                step(secs(t), Action::Take { user, code: pin });
            }
            step(at, Action::PowerCut { survive_bytes: rng.random_range(0..64) });
            step(millis(at.0.as_millis() as u64 + rng.random_range(5_000..90_000)), Action::PowerRestore);
        }
        89..92 => {
            let duration = millis(rng.random_range(500..3_000));
            step(millis(t * 1000 + rng.random_range(0..5_000)), Action::DropHostLine { automat, duration });
            step(at, Action::Take { user, code: pin });
        }
        92..95 => {
            let noisy = LineConfig { corrupt: rng.random_range(0.001..0.01), ..LineConfig::default() };
            step(at, Action::HostLine { automat, line: noisy });
            step(secs(t + 5), Action::Take { user, code: pin });
            step(secs(t + 180), Action::HostLine { automat, line: LineConfig::default() });
        }
        95..98 => {
            let contact = contacts.iter().find(|c| c.name == user).map_or(1, |c| c.id);
            step(at, Action::RevokeContact { contact });
        }
        _ => {
            step(at, Action::OpenDoor { user: user.clone(), force: true });
            step(secs(t + 20), Action::CloseDoor { user });
        }
    }
}

/// How a failure is told apart from another when shrinking: the invariant's name, or the
/// problem's text without its time.
fn category(failure: &str) -> String {
    let text = failure.split_once(": ").map_or(failure, |(_, rest)| rest);
    // The step a problem names moves as steps are dropped.
    let text = match text.strip_prefix("timeline[").and_then(|t| t.split_once("]: ")) {
        Some((_, rest)) => rest,
        None => text,
    };
    match text.strip_prefix("invariant ") {
        Some(rest) => rest.split(':').next().unwrap_or(rest).to_string(),
        None => text.chars().take(48).collect(),
    }
}

/// Runs a scenario, catching a panic as a failure.
pub fn check(scenario: &Scenario) -> Outcome {
    match std::panic::catch_unwind(AssertUnwindSafe(|| run_plain(scenario, RunOptions::default()))) {
        Ok(outcome) => outcome,
        Err(payload) => Outcome::failed(format!("panic: {}", panic_text(payload.as_ref()))),
    }
}

/// Drops timeline steps one at a time (and the line settings) while the scenario still fails
/// with the same first failure category; returns the smallest found and its failures.
pub fn shrink(scenario: &Scenario, first: &str) -> (Scenario, Vec<String>) {
    let want = category(first);
    let fails_alike = |s: &Scenario| {
        let o = check(s);
        (!o.passed && o.failures.first().is_some_and(|f| category(f) == want)).then_some(o.failures)
    };
    let mut best = scenario.clone();
    let mut failures = vec![first.to_string()];
    let mut shrunk = true;
    while shrunk {
        shrunk = false;
        let mut i = best.timeline.len();
        while i > 0 {
            i -= 1;
            let mut candidate = best.clone();
            candidate.timeline.remove(i);
            candidate.duration = None;
            // A reproducer must load: dropping a capture leaves its replay dangling.
            if !crate::scenario::load::problems(&candidate).is_empty() {
                continue;
            }
            if let Some(f) = fails_alike(&candidate) {
                (best, failures, shrunk) = (candidate, f, true);
            }
        }
    }
    (best, failures)
}

/// The RON text of a scenario, with a comment on top.
pub fn to_ron(scenario: &Scenario, comment: &str) -> Result<String, ron::Error> {
    let config = ron::ser::PrettyConfig::new()
        .struct_names(true)
        .extensions(ron::extensions::Extensions::IMPLICIT_SOME);
    let body = ron::ser::to_string_pretty(scenario, config)?;
    let header: String = comment.lines().map(|l| format!("// {l}\n")).collect();
    Ok(format!("{header}{body}\n"))
}

/// What `sim swarm` was asked.
#[derive(Clone, Debug)]
pub struct SwarmOptions {
    /// The first seed.
    pub from: u64,
    /// How many seeds.
    pub seeds: u64,
    /// Runs side by side (0: one per core).
    pub jobs: usize,
    /// Where reproducers are written (none: not written).
    pub out: Option<PathBuf>,
    /// Show a progress bar on a terminal.
    pub progress: bool,
}

/// One failing seed.
#[derive(Clone, Debug)]
pub struct SwarmFailure {
    /// The seed.
    pub seed: u64,
    /// Its failures, unshrunk.
    pub failures: Vec<String>,
    /// Timeline steps before and after shrinking.
    pub steps: (usize, usize),
    /// The reproducer written, if any.
    pub file: Option<PathBuf>,
}

/// What a swarm run found.
#[derive(Clone, Debug)]
pub struct SwarmReport {
    /// Seeds run.
    pub seeds: u64,
    /// The failing ones.
    pub failures: Vec<SwarmFailure>,
    /// Wall time of the runs (without shrinking).
    pub wall: Duration,
}

impl SwarmReport {
    /// Seeds per minute of wall time.
    pub fn seeds_per_minute(&self) -> f64 {
        self.seeds as f64 / self.wall.as_secs_f64().max(1e-9) * 60.0
    }
}

fn write_reproducer(
    dir: &Path,
    seed: u64,
    original: &Scenario,
    failures: &[String],
) -> std::io::Result<(PathBuf, usize)> {
    let (small, small_failures) = shrink(original, &failures[0]);
    let comment = format!(
        "Swarm reproducer: seed {seed}, shrunk from {} to {} timeline steps.\nReplay: sim run {}\nFails with:\n{}",
        original.timeline.len(),
        small.timeline.len(),
        dir.join(format!("seed-{seed}.ron")).display(),
        small_failures.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"),
    );
    let text = to_ron(&small, &comment).map_err(std::io::Error::other)?;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("seed-{seed}.ron"));
    std::fs::write(&path, text)?;
    Ok((path, small.timeline.len()))
}

/// Runs seeds `from..from + seeds` side by side; failing seeds are shrunk and written.
pub fn run(opts: &SwarmOptions) -> SwarmReport {
    let jobs =
        if opts.jobs == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { opts.jobs };
    let bar = if opts.progress && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let b = indicatif::ProgressBar::new(opts.seeds);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} seeds, {msg}") {
            b.set_style(style);
        }
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let next = AtomicU64::new(0);
    let failed: Mutex<Vec<(u64, Scenario, Vec<String>)>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= opts.seeds {
                        return;
                    }
                    let seed = opts.from + i;
                    let scenario = generate(seed);
                    let outcome = check(&scenario);
                    if !outcome.passed
                        && let Ok(mut f) = failed.lock()
                    {
                        f.push((seed, scenario, outcome.failures));
                        bar.set_message(format!("{} failing", f.len()));
                    }
                    bar.inc(1);
                }
            });
        }
    });
    let wall = started.elapsed();
    bar.finish_and_clear();
    let mut found = failed.into_inner().unwrap_or_default();
    found.sort_by_key(|f| f.0);
    let failures = found
        .into_iter()
        .map(|(seed, scenario, failures)| {
            let steps = scenario.timeline.len();
            let (file, after) = match &opts.out {
                Some(dir) => match write_reproducer(dir, seed, &scenario, &failures) {
                    Ok((path, n)) => (Some(path), n),
                    Err(_) => (None, steps),
                },
                None => (None, steps),
            };
            SwarmFailure { seed, failures, steps: (steps, after), file }
        })
        .collect();
    SwarmReport { seeds: opts.seeds, failures, wall }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_loads_back_from_its_ron() {
        for seed in 0..20 {
            let a = generate(seed);
            let text = to_ron(&a, "test").expect("serialises");
            let b = crate::scenario::load_str("gen.ron", &text).expect("loads back");
            assert_eq!(to_ron(&b, "test").expect("serialises"), text, "seed {seed}");
            assert_eq!(to_ron(&generate(seed), "test").expect("serialises"), text);
        }
    }

    #[test]
    fn failures_are_told_apart_by_invariant() {
        assert_eq!(category("00:01:00.000: invariant conservation: key-1 is in 2 places"), "conservation");
        assert_eq!(category("panic: boom"), "boom");
    }
}
