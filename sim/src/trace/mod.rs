//! The trace: the product of a run. JSON Lines, streamed as the run goes, so a crash keeps
//! everything before it. The first line is a header naming the format and its version; every
//! other line is one event with its simulated time in microseconds. Every payload is data
//! written by serde from the typed value it stands for (a protocol message, an audit record, a
//! step's action, an API call), never a Rust `Debug` text, and no secret is ever in it: step
//! actions are [redacted](crate::scenario::Action::redacted) and PIN digests and return codes
//! write only that they are there. `scenarios/README.md` documents every event field by field;
//! `scenarios/trace.schema.json` is its JSON Schema.

use std::io::Write;

use controller::event::Event;
pub use controller::{Camera, CapturePurpose as Purpose};
use firmware_proto::types::IndicatorMode;
use serde::{Deserialize, Serialize};

use crate::plant::Look;
use crate::plant::look::Person;
use crate::scenario::Action;

mod payload;
mod read;
pub mod tagged;

pub use payload::*;

pub use read::{Info, Reader, TraceLine};

/// The trace format's name.
pub const FORMAT: &str = "key-automat-trace";
/// The trace format's version; bumped on any incompatible change.
pub const VERSION: u32 = 2;

/// The first line.
#[derive(Debug, Serialize)]
pub struct Header<'a> {
    /// [`FORMAT`].
    pub format: &'a str,
    /// [`VERSION`].
    pub version: u32,
    /// The scenario's name.
    pub scenario: &'a str,
    /// The seed of the run.
    pub seed: u64,
    /// The wall-clock time of simulated time 0, RFC 3339.
    pub start: String,
    /// What produced it (`sim` or `hil`).
    pub source: &'a str,
    /// Link messages the trace leaves out by the scenario's wish (`trace.leave_out`), by name;
    /// written only when there are any.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub leaves_out: &'a [&'static str],
}

/// An automat of the [`TraceEvent::Scene`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SceneAutomat {
    /// Its id in the scenario.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Slots on its carousel.
    pub slots: u8,
}

/// A user of the [`TraceEvent::Scene`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SceneUser {
    /// Their name.
    pub name: String,
    /// The automat (index) they stand at.
    pub automat: usize,
    /// How they look (the viewer draws them so; old traces have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look: Option<Person>,
}

/// A cabinet's outside: what a [`TraceEvent::Cabinet`] says.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Cabinet {
    /// The door is open.
    pub door_open: bool,
    /// The latch holds the door (a pull would not open it).
    pub latched: bool,
    /// Indicator LEDs: Ready, Busy, Fault, Window.
    pub leds: [IndicatorMode; 4],
    /// The board has power.
    pub powered: bool,
    /// Mains is present.
    pub mains: bool,
}

impl Default for Cabinet {
    /// Door shut and latched, LEDs dark, powered from mains.
    fn default() -> Self {
        Cabinet { door_open: false, latched: true, leds: [IndicatorMode::Off; 4], powered: true, mains: true }
    }
}

/// Something hanging on a hook, as the viewer draws it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HookItem {
    /// The fleet key it is, if it is one.
    pub key: Option<u32>,
    /// How its fob looks.
    pub look: Look,
}

/// One event.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceEvent {
    /// What a replay needs to draw the run without its scenario file: the automats, the users
    /// and the expectations. At time 0, right after the header.
    Scene {
        /// The automats, by index.
        automats: Vec<SceneAutomat>,
        /// The users.
        users: Vec<SceneUser>,
        /// The expectations, described, in the scenario's order.
        expectations: Vec<String>,
    },
    /// Where the carousel goes from now: `(µs, position)` points to interpolate linearly, the
    /// position in slots (slot `k` faces the window at `k` modulo the slot count). One point
    /// when it rests. Written whenever its motion changes (a move, a stop, a jam, a release).
    Carousel {
        /// Automat index.
        automat: usize,
        /// The path.
        path: Vec<(u64, f64)>,
    },
    /// The cabinet's outside, whenever any of it changes.
    Cabinet {
        /// Automat index.
        automat: usize,
        /// Door, latch, LEDs, power (written as fields of the event).
        #[serde(flatten)]
        cabinet: Cabinet,
    },
    /// What hangs on one hook, whenever it changes (every hook's content at time 0).
    Hook {
        /// Automat index.
        automat: usize,
        /// The slot.
        slot: u8,
        /// What hangs there.
        item: Option<HookItem>,
    },
    /// An expectation's verdict, written at the end of the run.
    Expectation {
        /// The expectation, described as in [`TraceEvent::Scene`].
        text: String,
        /// Met.
        met: bool,
        /// When it was met or broken, µs (none: never seen, or the end state).
        at: Option<u64>,
    },
    /// A timeline step began.
    Step {
        /// Its index in the timeline.
        index: usize,
        /// The action, [redacted](Action::redacted), with its `kind` inside.
        #[serde(with = "tagged::kind")]
        action: Action,
    },
    /// A message crossed a link: `link`, `dir` and `message` (with its `kind` inside).
    Message {
        /// Automat index.
        automat: usize,
        /// The message, its link and direction.
        #[serde(flatten)]
        message: LinkMessage,
    },
    /// Something on a link: up, down, a restart, an unknown or malformed message.
    Link {
        /// Automat index.
        automat: usize,
        /// Which link.
        link: Link,
        /// What.
        note: LinkNote,
    },
    /// An audit record of the controller: the event with its name in `event` (PIN digests and
    /// return codes written only as `"redacted"`).
    Audit {
        /// Its seq in the audit chain.
        seq: u64,
        /// The event.
        #[serde(with = "audit_record")]
        record: Event,
    },
    /// A line on an automat's screen.
    Display {
        /// Automat index.
        automat: usize,
        /// The text.
        text: String,
    },
    /// A camera capture.
    Capture {
        /// Automat index.
        automat: usize,
        /// Which camera.
        camera: Camera,
        /// What the controller took it for.
        purpose: Purpose,
        /// The capture id.
        id: u64,
        /// The PNG written, relative to the trace, if images are kept.
        file: Option<String>,
        /// What it gave.
        result: CaptureResult,
    },
    /// A user did something.
    User {
        /// Who.
        user: String,
        /// What.
        act: String,
    },
    /// A change the scenario made to the plants (a power cut and its end).
    Plant {
        /// Automat index.
        automat: usize,
        /// What.
        change: PlantChange,
    },
    /// An API call and its result.
    Api {
        /// The call.
        call: ApiCall,
        /// What it gave.
        result: ApiResult,
    },
    /// Bytes on a real serial line to a board (HIL runs), with their direction.
    Bytes {
        /// Automat index.
        automat: usize,
        /// Towards the board (`down`) or from it.
        dir: Dir,
        /// The bytes, in hex.
        hex: String,
    },
    /// The people at an automat changed: the one being served first, then those waiting.
    Queue {
        /// Which automat (index).
        automat: usize,
        /// Who, in order.
        users: Vec<String>,
    },
    /// A problem running the scenario itself (a user lacks an item, an API call failed).
    Problem {
        /// What.
        text: String,
    },
    /// The run ended.
    End {
        /// Passed.
        passed: bool,
        /// Failures, first first.
        failures: Vec<String>,
    },
    /// An event of a type this reader does not know (written by a newer version); skipped.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// An audit record's event, with its name in the field `event`.
mod audit_record {
    use controller::event::Event;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(event: &Event, s: S) -> Result<S::Ok, S::Error> {
        use serde::Serialize as _;
        super::tagged::to_tagged(event, "event").map_err(serde::ser::Error::custom)?.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
        use serde::Deserialize as _;
        super::tagged::from_tagged(serde_json::Value::deserialize(d)?, "event")
            .map_err(serde::de::Error::custom)
    }
}

/// A trace writer (or a sink that keeps nothing).
pub struct TraceWriter {
    out: Option<Box<dyn Write + Send + Sync>>,
    lines: u64,
    failed: Option<String>,
}

impl std::fmt::Debug for TraceWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TraceWriter({} lines)", self.lines)
    }
}

#[derive(Serialize)]
struct Line<'a> {
    t: u64,
    #[serde(flatten)]
    event: &'a TraceEvent,
}

impl TraceWriter {
    /// A writer to `out`, or one that drops everything.
    pub fn new(out: Option<Box<dyn Write + Send + Sync>>) -> Self {
        TraceWriter { out, lines: 0, failed: None }
    }

    /// Whether anything is written (a trace is wanted and writing has not failed).
    pub fn is_on(&self) -> bool {
        self.out.is_some()
    }

    /// Writes the header.
    pub fn header(&mut self, header: &Header<'_>) {
        self.write_json(header);
    }

    /// Writes one event at simulated time `t` (µs).
    pub fn event(&mut self, t: u64, event: &TraceEvent) {
        if self.out.is_some() {
            self.write_json(&Line { t, event });
        }
    }

    fn write_json<T: Serialize>(&mut self, value: &T) {
        let Some(out) = self.out.as_mut() else { return };
        let result = serde_json::to_writer(&mut *out, value)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        self.lines += 1;
        let result = if self.lines.is_multiple_of(64) { result.and_then(|()| out.flush()) } else { result };
        if let Err(e) = result {
            self.failed.get_or_insert(e.to_string());
            self.out = None;
        }
    }

    /// Flushes what is buffered.
    pub fn flush(&mut self) {
        if let Some(out) = self.out.as_mut()
            && let Err(e) = out.flush()
        {
            self.failed.get_or_insert(e.to_string());
        }
    }

    /// The first write error, if writing failed.
    pub fn error(&self) -> Option<&str> {
        self.failed.as_deref()
    }
}

impl Drop for TraceWriter {
    fn drop(&mut self) {
        self.flush();
    }
}
/// A trace kept in memory (for tests and tools that read a run's trace back): clones share
/// one buffer, so one goes to [`RunOptions::trace`](crate::run::RunOptions::trace) and another
/// reads it afterwards.
#[derive(Clone, Debug, Default)]
pub struct MemoryTrace(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl MemoryTrace {
    /// The bytes written so far (a writer that panicked leaves what it had written).
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl std::io::Write for MemoryTrace {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
