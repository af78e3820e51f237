//! The trace: the product of a run. JSON Lines, streamed as the run goes, so a crash keeps
//! everything before it. The first line is a header naming the format and its version; every
//! other line is one event with its simulated time in microseconds. `scenarios/README.md`
//! documents the event types.

use std::io::Write;

use serde::Serialize;

/// The trace format's name.
pub const FORMAT: &str = "key-automat-trace";
/// The trace format's version; bumped on any incompatible change.
pub const VERSION: u32 = 1;

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
}

/// One event.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceEvent {
    /// A timeline step began.
    Step {
        /// Its index in the timeline.
        index: usize,
        /// The action, as written.
        action: String,
    },
    /// A message crossed a link.
    Message {
        /// Automat index.
        automat: usize,
        /// `host` or `plant`.
        link: &'static str,
        /// `down` (controller → board → plant) or `up`.
        dir: &'static str,
        /// Message name.
        name: String,
        /// The message, in full.
        body: String,
    },
    /// Something on a link: up, down, a restart, an unknown or malformed message.
    Link {
        /// Automat index.
        automat: usize,
        /// `host` or `plant`.
        link: &'static str,
        /// What.
        note: String,
    },
    /// An audit record of the controller.
    Audit {
        /// Its seq in the audit chain.
        seq: u64,
        /// Event name.
        name: String,
        /// The event, in full.
        body: String,
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
        /// `front` or `internal`.
        camera: &'static str,
        /// The capture id.
        id: u64,
        /// The PNG written, relative to the trace, if images are kept.
        file: Option<String>,
        /// `ok`, `fail` or `black`.
        result: &'static str,
    },
    /// A user did something.
    User {
        /// Who.
        user: String,
        /// What.
        act: String,
    },
    /// Plant state worth seeing (door, carousel at rest, hooks).
    Plant {
        /// Automat index.
        automat: usize,
        /// What.
        what: String,
    },
    /// An API call and its result.
    Api {
        /// The call.
        call: String,
        /// `ok …` or `error …`.
        result: String,
    },
    /// Bytes on a real serial line to a board (HIL runs), with their direction.
    Bytes {
        /// Automat index.
        automat: usize,
        /// `down` (towards the board) or `up`.
        dir: &'static str,
        /// The bytes, in hex.
        hex: String,
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
