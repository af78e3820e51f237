//! A run as the viewer replays it: a trace read back into time-indexed tracks, and the state of
//! every automat at any moment ([`Replay::frame`]). No Bevy here: the 3D viewer draws frames,
//! tests and benches check them headless.
//!
//! A trace file is read whole ([`Replay::load`]); a scenario is simulated on a thread of its own
//! while its trace lines stream in ([`Live`]), the same run as `sim run` gives.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::Deserialize;

use crate::run::{RunOptions, run_plain};
use crate::scenario::Scenario;
pub use crate::trace::Cabinet;
use crate::trace::{self, HookItem, SceneAutomat, SceneUser, TraceEvent};

/// How long a user is drawn at the front after their last act.
const USER_LINGERS_US: u64 = 8_000_000;

/// A trace that cannot be read, with the line that shows it.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not what the trace format says.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// The header line, read back.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Info {
    /// [`trace::FORMAT`].
    pub format: String,
    /// [`trace::VERSION`] or older.
    pub version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// The run's seed.
    pub seed: u64,
    /// Wall-clock time of simulated time 0.
    pub start: String,
    /// `sim` or `hil`.
    pub source: String,
}

#[derive(Deserialize)]
struct Line {
    t: u64,
    #[serde(flatten)]
    event: TraceEvent,
}

/// What an entry of the event log is, for colour and filtering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A timeline step began.
    Step,
    /// A user act.
    User,
    /// An audit record (an alert is [`Kind::Alert`]).
    Audit,
    /// An alert raised.
    Alert,
    /// A screen line.
    Display,
    /// A camera capture.
    Capture,
    /// A decoded message on a link.
    Message,
    /// A link note, or bytes on a serial line.
    Link,
    /// An API call.
    Api,
    /// A plant change (carousel, door, hooks, power).
    Plant,
    /// Something went wrong: a problem, an unmet expectation, a failed end.
    Failure,
    /// Scene, expectation met, end passed.
    Info,
}

/// One line of the event log.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Simulated time, µs.
    pub t: u64,
    /// What it is.
    pub kind: Kind,
    /// The automat it concerns.
    pub automat: Option<usize>,
    /// One line of text.
    pub text: String,
}

impl Entry {
    /// Whether next/previous-event jumps and the timeline's markers show it (link traffic and
    /// keypad presses are too dense).
    pub fn is_notable(&self) -> bool {
        !matches!(self.kind, Kind::Message | Kind::Link) && !self.text.ends_with("presses a key")
    }
}

/// A camera image taken.
#[derive(Clone, Debug, PartialEq)]
pub struct Capture {
    /// When, µs.
    pub t: u64,
    /// `front` or `internal`.
    pub camera: String,
    /// The capture id.
    pub id: u64,
    /// The PNG, if it was kept.
    pub file: Option<PathBuf>,
    /// `ok`, `fail` or `black`.
    pub result: String,
}

/// One automat at a moment.
#[derive(Clone, Debug, PartialEq)]
pub struct AutomatFrame {
    /// Carousel position in slots (slot `k` faces the window at `k` modulo the slots).
    pub carousel: f64,
    /// The carousel is on its way somewhere.
    pub moving: bool,
    /// Door, latch, LEDs, power.
    pub cabinet: Cabinet,
    /// When the door last opened or shut, µs.
    pub door_moved_at: Option<u64>,
    /// The screen line.
    pub display: String,
    /// What hangs on each hook.
    pub hooks: Vec<Option<HookItem>>,
    /// The user at the front and what they did last.
    pub user: Option<(String, String)>,
    /// The last user photo.
    pub front: Option<Capture>,
    /// The last slot image taken before the door opened.
    pub before: Option<Capture>,
    /// The slot image taken after the door shut again, once it is.
    pub after: Option<Capture>,
}

/// Every automat at a moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Simulated time, µs.
    pub t: u64,
    /// By automat index.
    pub automats: Vec<AutomatFrame>,
}

/// An expectation and, once the run ended, its verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectationRow {
    /// The expectation.
    pub text: String,
    /// `None` until the run's end says.
    pub met: Option<bool>,
    /// When it was met or broken.
    pub at: Option<u64>,
}

#[derive(Debug, Default)]
struct Tracks {
    carousel: Vec<(u64, Vec<(u64, f64)>)>,
    cabinet: Vec<(u64, Cabinet)>,
    /// When the door opened or shut.
    doors: Vec<(u64, bool)>,
    hooks: Vec<(u64, u8, Option<HookItem>)>,
    display: Vec<(u64, String)>,
    /// User photos, slot images before the door opens, slot images after it shut.
    front: Vec<Capture>,
    before: Vec<Capture>,
    after: Vec<Capture>,
    /// The door opened since the last slot image (so the next one is an "after").
    opened_since_image: bool,
    user: Vec<(u64, String, String)>,
}

/// A run read back. See the [module docs](self).
#[derive(Debug, Default)]
pub struct Replay {
    /// The header.
    pub info: Info,
    /// The automats.
    pub automats: Vec<SceneAutomat>,
    /// The users.
    pub users: Vec<SceneUser>,
    /// The expectations, with verdicts once the run ended.
    pub expectations: Vec<ExpectationRow>,
    /// Every event, in time order.
    pub entries: Vec<Entry>,
    /// `Some(passed)` once the run ended.
    pub passed: Option<bool>,
    /// Events of types this version does not know (skipped).
    pub unknown: usize,
    tracks: Vec<Tracks>,
    /// Images are named relative to this directory.
    base: PathBuf,
    /// Latest event time.
    end: u64,
    lines: usize,
}

fn micros_text(t: u64) -> String {
    crate::run::fmt_time(firmware_proto::Instant::from_micros(t))
}

impl Replay {
    /// An empty replay whose images are named relative to `base`.
    pub fn new(base: &Path) -> Self {
        Replay { base: base.to_path_buf(), ..Replay::default() }
    }

    /// Reads a trace file (`trace.jsonl` as `sim run --out` or `hil run --out` writes it).
    pub fn load(path: &Path) -> Result<Replay, ReplayError> {
        let name = path.display().to_string();
        let io = |source| ReplayError::Io { path: name.clone(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut replay = Replay::new(path.parent().unwrap_or(Path::new(".")));
        for line in std::io::BufReader::with_capacity(1 << 16, file).lines() {
            let line = line.map_err(io)?;
            replay.push_line(&line).map_err(|message| ReplayError::Line {
                path: name.clone(),
                line: replay.lines,
                message,
            })?;
        }
        if replay.lines == 0 {
            return Err(ReplayError::Line { path: name, line: 1, message: "empty: not a trace".into() });
        }
        Ok(replay)
    }

    /// The latest simulated time the trace reaches, µs.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Lines read so far.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Reads one line of a trace: the header first, then events in time order.
    pub fn push_line(&mut self, line: &str) -> Result<(), String> {
        self.lines += 1;
        if line.trim().is_empty() {
            return Ok(());
        }
        if self.lines == 1 {
            let info: Info = serde_json::from_str(line)
                .map_err(|e| format!("not a trace header ({e}); expected a {} file", trace::FORMAT))?;
            if info.format != trace::FORMAT {
                return Err(format!("format {:?}, expected {:?}", info.format, trace::FORMAT));
            }
            if info.version > trace::VERSION {
                return Err(format!(
                    "trace version {} is newer than this viewer's ({})",
                    info.version,
                    trace::VERSION
                ));
            }
            self.info = info;
            return Ok(());
        }
        let Line { t, event } = serde_json::from_str(line).map_err(|e| e.to_string())?;
        if t < self.end {
            return Err(format!("time {t} µs goes back (the previous event was at {} µs)", self.end));
        }
        self.end = t;
        self.add(t, event);
        Ok(())
    }

    fn tracks(&mut self, automat: usize) -> &mut Tracks {
        if self.tracks.len() <= automat {
            self.tracks.resize_with(automat + 1, Tracks::default);
        }
        &mut self.tracks[automat]
    }

    fn entry(&mut self, t: u64, kind: Kind, automat: Option<usize>, text: String) {
        self.entries.push(Entry { t, kind, automat, text });
    }

    fn add(&mut self, t: u64, event: TraceEvent) {
        match event {
            TraceEvent::Scene { automats, users, expectations } => {
                self.tracks.resize_with(self.tracks.len().max(automats.len()), Tracks::default);
                let text = format!("{} automat(s), {} user(s)", automats.len(), users.len());
                self.automats = automats;
                self.users = users;
                self.expectations = expectations
                    .into_iter()
                    .map(|text| ExpectationRow { text, met: None, at: None })
                    .collect();
                self.entry(t, Kind::Info, None, text);
            }
            TraceEvent::Step { index, action } => {
                self.entry(t, Kind::Step, None, format!("step {index}: {action}"))
            }
            TraceEvent::Message { automat, link, dir, name: _, body } => {
                let arrow = if dir == "down" { "→" } else { "←" };
                self.entry(t, Kind::Message, Some(automat), format!("{link} {arrow} {body}"));
            }
            TraceEvent::Link { automat, link, note } => {
                self.entry(t, Kind::Link, Some(automat), format!("{link} link: {note}"))
            }
            TraceEvent::Bytes { automat, dir, hex } => {
                self.entry(t, Kind::Link, Some(automat), format!("line {dir}: {} bytes {hex}", hex.len() / 2))
            }
            TraceEvent::Audit { seq, name, body } => {
                let kind = if name == "AlertRaised" { Kind::Alert } else { Kind::Audit };
                self.entry(t, kind, None, format!("#{seq} {body}"));
            }
            TraceEvent::Display { automat, text } => {
                self.tracks(automat).display.push((t, text.clone()));
                self.entry(t, Kind::Display, Some(automat), format!("screen: {text}"));
            }
            TraceEvent::Capture { automat, camera, id, file, result } => {
                let text = format!("{camera} camera #{id}: {result}");
                let file = file.map(|f| self.base.join(f));
                let capture =
                    Capture { t, camera: camera.into_owned(), id, file, result: result.into_owned() };
                let tracks = self.tracks(automat);
                if capture.camera == "front" {
                    tracks.front.push(capture);
                } else if std::mem::take(&mut tracks.opened_since_image) {
                    tracks.after.push(capture);
                } else {
                    tracks.before.push(capture);
                }
                self.entry(t, Kind::Capture, Some(automat), text);
            }
            TraceEvent::User { user, act } => {
                let automat = self.users.iter().find(|u| u.name == user).map_or(0, |u| u.automat);
                self.tracks(automat).user.push((t, user.clone(), act.clone()));
                self.entry(t, Kind::User, Some(automat), format!("{user} {act}"));
            }
            // Power cuts and their end: shown with the steps, not hidden with the plant changes.
            TraceEvent::Plant { automat, what } => self.entry(t, Kind::Info, Some(automat), what),
            TraceEvent::Api { call, result } => {
                self.entry(t, Kind::Api, None, format!("api {call}: {result}"));
            }
            TraceEvent::Problem { text } => self.entry(t, Kind::Failure, None, text),
            TraceEvent::Queue { automat, users } => {
                let text = match users.split_first() {
                    None => "nobody at the automat".to_string(),
                    Some((front, [])) => format!("{front} at the automat"),
                    Some((front, waiting)) => {
                        format!("{front} at the automat; waiting: {}", waiting.join(", "))
                    }
                };
                self.entry(t, Kind::User, Some(automat), text);
            }
            TraceEvent::Carousel { automat, path } => {
                let text = match (path.first(), path.last()) {
                    (Some(_), Some(&(end, to))) if path.len() > 1 => {
                        format!("carousel turns to {to:.2} (arrives {})", micros_text(end))
                    }
                    (Some(&(_, at)), _) => format!("carousel rests at {at:.2}"),
                    _ => "carousel: empty path".into(),
                };
                self.tracks(automat).carousel.push((t, path));
                self.entry(t, Kind::Plant, Some(automat), text);
            }
            TraceEvent::Cabinet { automat, cabinet } => {
                let Cabinet { door_open, latched, leds, powered, mains } = cabinet;
                let text = format!(
                    "door {}, {}, LEDs {leds:?}{}{}",
                    if door_open { "open" } else { "closed" },
                    if latched { "latched" } else { "latch released" },
                    if powered { "" } else { ", board unpowered" },
                    if mains { "" } else { ", on battery" },
                );
                let tracks = self.tracks(automat);
                if tracks.doors.last().is_some_and(|d| d.1) != door_open {
                    tracks.doors.push((t, door_open));
                }
                tracks.opened_since_image |= door_open;
                tracks.cabinet.push((t, cabinet));
                self.entry(t, Kind::Plant, Some(automat), text);
            }
            TraceEvent::Hook { automat, slot, item } => {
                let what = match &item {
                    Some(HookItem { key: Some(k), look }) => format!("key {k} ({})", look.label),
                    Some(HookItem { key: None, look }) => format!("an untagged {} fob", look.label),
                    None => "nothing".into(),
                };
                self.tracks(automat).hooks.push((t, slot, item));
                self.entry(t, Kind::Plant, Some(automat), format!("hook {slot}: {what}"));
            }
            TraceEvent::Expectation { text, met, at } => {
                let kind = if met { Kind::Info } else { Kind::Failure };
                let entry = format!("expectation {}: {text}", if met { "met" } else { "NOT met" });
                match self.expectations.iter_mut().find(|e| e.text == text && e.met.is_none()) {
                    Some(row) => (row.met, row.at) = (Some(met), at),
                    None => self.expectations.push(ExpectationRow { text, met: Some(met), at }),
                }
                self.entry(at.unwrap_or(t).min(t), kind, None, entry);
                // Keep the log in time order: a verdict is written at the end but belongs to `at`.
                let n = self.entries.len();
                let i = self.entries[..n - 1].partition_point(|e| e.t <= self.entries[n - 1].t);
                self.entries[i..].rotate_right(1);
            }
            TraceEvent::End { passed, failures } => {
                self.passed = Some(passed);
                let text =
                    if passed { "passed".to_string() } else { format!("FAILED: {}", failures.join("; ")) };
                self.entry(t, if passed { Kind::Info } else { Kind::Failure }, None, format!("end: {text}"));
            }
            TraceEvent::Unknown => self.unknown += 1,
        }
    }

    /// Every automat at simulated time `t` (µs).
    pub fn frame(&self, t: u64) -> Frame {
        let automats = (0..self.automats.len().max(self.tracks.len()))
            .map(|i| {
                let slots = self.automats.get(i).map_or(0, |a| usize::from(a.slots));
                let Some(tr) = self.tracks.get(i) else {
                    return AutomatFrame::empty(slots);
                };
                let (carousel, moving) = carousel_at(&tr.carousel, t);
                let cab = tr.cabinet.partition_point(|(s, _)| *s <= t);
                let cabinet = cab.checked_sub(1).map_or_else(Cabinet::default, |k| tr.cabinet[k].1);
                let moved = tr.doors.partition_point(|(s, _)| *s <= t);
                let door_moved_at = moved.checked_sub(1).map(|k| tr.doors[k].0);
                let d = tr.display.partition_point(|(s, _)| *s <= t);
                let display = d.checked_sub(1).map_or_else(String::new, |k| tr.display[k].1.clone());
                let mut hooks = vec![None; slots];
                for (_, slot, item) in &tr.hooks[..tr.hooks.partition_point(|(s, _, _)| *s <= t)] {
                    let slot = usize::from(*slot);
                    if slot >= hooks.len() {
                        hooks.resize(slot + 1, None);
                    }
                    hooks[slot].clone_from(item);
                }
                let u = tr.user.partition_point(|(s, _, _)| *s <= t);
                let user = u
                    .checked_sub(1)
                    .map(|k| &tr.user[k])
                    .filter(|(s, _, _)| t - s <= USER_LINGERS_US)
                    .map(|(_, name, act)| (name.clone(), act.clone()));
                let last = |v: &[Capture]| v[..v.partition_point(|c| c.t <= t)].last().cloned();
                let (front, before) = (last(&tr.front), last(&tr.before));
                // The after image of the same presentation: none yet while the door is open.
                let after = last(&tr.after).filter(|a| before.as_ref().is_none_or(|b| a.t >= b.t));
                AutomatFrame {
                    carousel,
                    moving,
                    cabinet,
                    door_moved_at,
                    display,
                    hooks,
                    user,
                    front,
                    before,
                    after,
                }
            })
            .collect();
        Frame { t, automats }
    }

    /// The first notable event after `t`, µs.
    pub fn next_event(&self, t: u64) -> Option<u64> {
        let i = self.entries.partition_point(|e| e.t <= t);
        self.entries[i..].iter().find(|e| e.is_notable()).map(|e| e.t)
    }

    /// The last notable event before `t`, µs.
    pub fn previous_event(&self, t: u64) -> Option<u64> {
        let i = self.entries.partition_point(|e| e.t < t);
        self.entries[..i].iter().rev().find(|e| e.is_notable()).map(|e| e.t)
    }

    /// The index of the first entry after `t`: the log shows the entries before it as past.
    pub fn entries_until(&self, t: u64) -> usize {
        self.entries.partition_point(|e| e.t <= t)
    }

    /// The timeline's markers: notable events, failures flagged.
    pub fn markers(&self) -> impl Iterator<Item = (u64, bool)> + '_ {
        self.entries
            .iter()
            .filter(|e| e.is_notable() && e.kind != Kind::Plant)
            .map(|e| (e.t, e.kind == Kind::Failure))
    }
}

impl AutomatFrame {
    fn empty(slots: usize) -> Self {
        AutomatFrame {
            carousel: 0.0,
            moving: false,
            cabinet: Cabinet::default(),
            door_moved_at: None,
            display: String::new(),
            hooks: vec![None; slots],
            user: None,
            front: None,
            before: None,
            after: None,
        }
    }
}

/// The carousel's position at `t` on the last path written before it, and whether it is still
/// on its way.
fn carousel_at(track: &[(u64, Vec<(u64, f64)>)], t: u64) -> (f64, bool) {
    let k = track.partition_point(|(s, _)| *s <= t);
    let Some((_, path)) = k.checked_sub(1).map(|k| &track[k]) else {
        return (0.0, false);
    };
    let i = path.partition_point(|(s, _)| *s <= t);
    match (i.checked_sub(1).map(|i| path[i]), path.get(i)) {
        (Some((t0, p0)), Some(&(t1, p1))) => {
            let f = (t - t0) as f64 / (t1 - t0).max(1) as f64;
            (p0 + (p1 - p0) * f, true)
        }
        (Some((_, p)), None) => (p, false),
        (None, Some(&(_, p))) => (p, true),
        (None, None) => (0.0, false),
    }
}

/// A scenario simulated on its own thread while its trace streams into a [`Replay`].
#[derive(Debug)]
pub struct Live {
    /// What has arrived so far.
    pub replay: Replay,
    /// In a mutex only to be `Sync` (the viewer keeps it in a resource).
    lines: std::sync::Mutex<mpsc::Receiver<Vec<u8>>>,
    pending: Vec<u8>,
    done: bool,
    /// The first bad line (cannot happen unless the writer and reader disagree).
    pub error: Option<String>,
}

/// Sends what the trace writer writes to the viewer, in chunks.
struct ChannelWriter(mpsc::Sender<Vec<u8>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.send(buf.to_vec()).map_err(|_| std::io::Error::other("the viewer is gone"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Live {
    /// Starts simulating `scenario` (with `seed`, if given); camera images go under `images`.
    pub fn start(scenario: Scenario, seed: Option<u64>, images: &Path) -> std::io::Result<Live> {
        std::fs::create_dir_all(images.join("images"))?;
        let (tx, rx) = mpsc::channel();
        let options = RunOptions {
            seed,
            trace: Some(Box::new(ChannelWriter(tx))),
            images: Some(images.to_path_buf()),
            ..RunOptions::default()
        };
        std::thread::Builder::new().name("live run".into()).spawn(move || {
            run_plain(&scenario, options);
        })?;
        Ok(Live {
            replay: Replay::new(images),
            lines: std::sync::Mutex::new(rx),
            pending: Vec::new(),
            done: false,
            error: None,
        })
    }

    /// Takes in what the run wrote since; returns whether anything arrived.
    pub fn poll(&mut self) -> bool {
        let mut any = false;
        let lines = match self.lines.get_mut() {
            Ok(lines) => lines,
            Err(poisoned) => poisoned.into_inner(),
        };
        loop {
            match lines.try_recv() {
                Ok(chunk) => {
                    any = true;
                    self.pending.extend_from_slice(&chunk);
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.done = true;
                    break;
                }
            }
        }
        let mut start = 0;
        while let Some(n) = self.pending[start..].iter().position(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(&self.pending[start..start + n]).into_owned();
            start += n + 1;
            if let Err(e) = self.replay.push_line(&line)
                && self.error.is_none()
            {
                self.error = Some(format!("live trace line {}: {e}", self.replay.lines()));
            }
        }
        self.pending.drain(..start);
        any
    }

    /// Whether the run has ended and everything it wrote is in.
    pub fn is_done(&self) -> bool {
        self.done && self.pending.is_empty()
    }

    /// Waits until the run has ended (for screenshots and tests).
    pub fn wait(&mut self) {
        while !self.is_done() {
            if !self.poll() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}
