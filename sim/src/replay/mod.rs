//! A run as the viewer replays it: a trace read back into time-indexed tracks, and the state of
//! every automat at any moment ([`Replay::frame`]). No Bevy here: the 3D viewer draws frames,
//! tests and benches check them headless.
//!
//! A trace file is read whole ([`Replay::load`]); a scenario is simulated on a thread of its own
//! while its trace lines stream in ([`Live`]), the same run as `sim run` gives.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::run::{Run, RunOptions};
use crate::scenario::Scenario;
pub use crate::trace::Cabinet;
use crate::trace::{self, CaptureResult, HookItem, Purpose, Reader, SceneAutomat, SceneUser, TraceEvent};

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

pub use crate::trace::Info;

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
    /// A capture's image, if it was kept (named as [`Capture::file`]).
    pub image: Option<PathBuf>,
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
    /// What the controller took it for.
    pub purpose: Purpose,
    /// The capture id.
    pub id: u64,
    /// The PNG, if it was kept.
    pub file: Option<PathBuf>,
    /// What it gave.
    pub result: CaptureResult,
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
    /// Names of keys and contracts, for the log's lines.
    names: Names,
    reader: Reader,
}

/// What the log calls keys and contracts by.
#[derive(Debug, Default)]
struct Names {
    keys: std::collections::BTreeMap<u32, String>,
    contracts: std::collections::BTreeMap<u32, String>,
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
                line: replay.lines(),
                message,
            })?;
        }
        if replay.lines() == 0 {
            return Err(ReplayError::Line { path: name, line: 1, message: "empty: not a trace".into() });
        }
        Ok(replay)
    }

    /// The latest simulated time the trace reaches, µs.
    pub fn end(&self) -> u64 {
        self.reader.end()
    }

    /// Lines read so far.
    pub fn lines(&self) -> usize {
        self.reader.lines()
    }

    /// Reads one line of a trace: the header first, then events in time order. Nothing in a
    /// line is trusted ([`Reader`]): a bad one is an error and changes nothing.
    pub fn push_line(&mut self, line: &str) -> Result<(), String> {
        let event = self.reader.line(line)?;
        if let Some(info) = self.reader.info()
            && self.info.format.is_empty()
        {
            self.info = info.clone();
        }
        if let Some(trace::TraceLine { t, event }) = event {
            self.add(t, event);
        }
        Ok(())
    }

    fn tracks(&mut self, automat: usize) -> &mut Tracks {
        if self.tracks.len() <= automat {
            self.tracks.resize_with(automat + 1, Tracks::default);
        }
        &mut self.tracks[automat]
    }

    fn entry(&mut self, t: u64, kind: Kind, automat: Option<usize>, text: String) {
        self.entries.push(Entry { t, kind, automat, text, image: None });
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

mod ingest;
mod live;

pub use live::Live;
