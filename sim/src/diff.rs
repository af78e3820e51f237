//! `sim diff A B`: whether two traces tell the same story — two seeds, two commits, or a
//! `sim run` and a `hil run` of one scenario. Events are compared in order as the typed values
//! they are (time included); the first divergence is shown with the events around it, then
//! which events only one side has, by type, and how the verdicts differ. The header is not
//! compared (seed, source and start may differ by design); it is printed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::trace::{Info, Reader, TraceEvent};

/// Every event type a trace has (what `--ignore` takes).
pub const TYPES: &[&str] = &[
    "scene",
    "carousel",
    "cabinet",
    "hook",
    "expectation",
    "step",
    "message",
    "link",
    "audit",
    "display",
    "capture",
    "user",
    "plant",
    "api",
    "bytes",
    "queue",
    "problem",
    "end",
];

/// Events shown before and after the first divergence.
const CONTEXT: usize = 3;

/// Characters of an event shown (the trace's line has the rest).
const SHOWN: usize = 240;

/// A trace that cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// It cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not what the trace format says.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// `--ignore` names something that is not an event type.
    #[error("--ignore {0:?}: not an event type (one of: {types})", types = TYPES.join(", "))]
    UnknownType(String),
}

/// One side, read.
struct Side {
    info: Info,
    /// `(line, t, type, the event as JSON without its time)`.
    events: Vec<(usize, u64, String, serde_json::Value)>,
    passed: Option<bool>,
    failures: Vec<String>,
}

/// What [`diff`] found.
#[derive(Debug)]
pub struct DiffReport {
    /// Equivalent (nothing but ignored types and the header differ).
    pub same: bool,
    /// The report, as `sim diff` prints it.
    pub text: String,
}

fn read(path: &Path, ignore: &[String]) -> Result<Side, DiffError> {
    let io = |source| DiffError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = Reader::new();
    let mut side = Side { info: Info::default(), events: Vec::new(), passed: None, failures: Vec::new() };
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(io)?;
        let bad = |message: String, n: usize| DiffError::Line { path: path.to_path_buf(), line: n, message };
        let Some(read) = reader.line(&line).map_err(|m| bad(m, reader.lines()))? else { continue };
        if let TraceEvent::End { passed, failures } = &read.event {
            side.passed = Some(*passed);
            side.failures.clone_from(failures);
        }
        let mut value = serde_json::to_value(&read.event).map_err(|e| bad(e.to_string(), reader.lines()))?;
        let kind = value["type"].as_str().unwrap_or("unknown").to_string();
        if kind == "unknown" || ignore.contains(&kind) {
            continue;
        }
        if let serde_json::Value::Object(fields) = &mut value {
            fields.shift_remove("type");
        }
        side.events.push((reader.lines(), read.t, kind, value));
    }
    match reader.info() {
        Some(info) => side.info = info.clone(),
        None => {
            return Err(DiffError::Line {
                path: path.to_path_buf(),
                line: 1,
                message: "empty: not a trace".into(),
            });
        }
    }
    Ok(side)
}

fn show(side: &Side, i: usize) -> String {
    let (line, t, kind, v) = &side.events[i];
    let at = crate::run::fmt_time(firmware_proto::Instant::from_micros(*t));
    let mut v = v.to_string();
    if v.len() > SHOWN {
        let cut = (0..=SHOWN).rev().find(|&i| v.is_char_boundary(i)).unwrap_or(0);
        v.truncate(cut);
        v.push('…');
    }
    format!("{at} {kind} {v} (line {line})")
}

/// Compares traces `a` and `b`, leaving out the event types in `ignore`.
pub fn diff(a: &Path, b: &Path, ignore: &[String]) -> Result<DiffReport, DiffError> {
    if let Some(unknown) = ignore.iter().find(|t| !TYPES.contains(&t.as_str())) {
        return Err(DiffError::UnknownType(unknown.clone()));
    }
    let (sa, sb) = (read(a, ignore)?, read(b, ignore)?);
    let mut text = String::new();
    let (ia, ib) = (&sa.info, &sb.info);
    let _ = writeln!(text, "A: {} ({} seed {}, {})", a.display(), ia.scenario, ia.seed, ia.source);
    let _ = writeln!(text, "B: {} ({} seed {}, {})", b.display(), ib.scenario, ib.seed, ib.source);
    if !ignore.is_empty() {
        let _ = writeln!(text, "ignoring: {}", ignore.join(", "));
    }
    let key = |e: &(usize, u64, String, serde_json::Value)| (e.1, e.3.clone());
    let first = sa
        .events
        .iter()
        .zip(&sb.events)
        .position(|(x, y)| key(x) != key(y))
        .or_else(|| (sa.events.len() != sb.events.len()).then(|| sa.events.len().min(sb.events.len())));
    let Some(first) = first else {
        let _ = writeln!(text, "equivalent: {} events in each", sa.events.len());
        return Ok(DiffReport { same: true, text });
    };
    let _ = writeln!(text, "\nfirst divergence at event {} (after {first} equal events):", first + 1);
    for i in first.saturating_sub(CONTEXT)..first {
        let _ = writeln!(text, "    {}", show(&sa, i));
    }
    for (name, side) in [("A", &sa), ("B", &sb)] {
        let end = (first + CONTEXT).min(side.events.len());
        if first >= end {
            let _ = writeln!(text, "  {name} ends here");
        }
        for i in first..end {
            let _ = writeln!(text, "  {name} {}", show(side, i));
        }
    }
    only_in(&mut text, &sa, &sb);
    verdicts(&mut text, &sa, &sb);
    Ok(DiffReport { same: false, text })
}

/// Events (time left out) one side has more often than the other, counted by type.
fn only_in(text: &mut String, sa: &Side, sb: &Side) {
    let mut count: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for (side, sign) in [(sa, 1), (sb, -1)] {
        for (_, _, kind, v) in &side.events {
            count.entry(v.to_string()).or_insert((0, kind.clone())).0 += sign;
        }
    }
    let mut by_type: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (n, kind) in count.values() {
        let e = by_type.entry(kind.as_str()).or_default();
        if *n > 0 {
            e.0 += n;
        } else {
            e.1 -= n;
        }
    }
    by_type.retain(|_, (x, y)| *x > 0 || *y > 0);
    if by_type.is_empty() {
        let _ = writeln!(text, "\nthe same events on both sides, at other times");
        return;
    }
    let _ = writeln!(text, "\nevents only in A / only in B, by type:");
    for (kind, (x, y)) in by_type {
        let _ = writeln!(text, "  {kind:<12} {x:>6} / {y}");
    }
}

fn verdicts(text: &mut String, sa: &Side, sb: &Side) {
    let word = |p: Option<bool>| match p {
        Some(true) => "passed",
        Some(false) => "FAILED",
        None => "no end",
    };
    if sa.passed == sb.passed && sa.failures == sb.failures {
        let _ = writeln!(text, "\nverdict: the same ({})", word(sa.passed));
        return;
    }
    let _ = writeln!(text, "\nverdict: A {}, B {}", word(sa.passed), word(sb.passed));
    for f in sa.failures.iter().filter(|f| !sb.failures.contains(f)) {
        let _ = writeln!(text, "  only A: {f}");
    }
    for f in sb.failures.iter().filter(|f| !sa.failures.contains(f)) {
        let _ = writeln!(text, "  only B: {f}");
    }
}
