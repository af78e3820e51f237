//! The HTML report of a run: one self-contained file (no script or style from elsewhere; the
//! camera images are the PNGs under `--out`, referenced relative to the report) built from
//! what the run left in `--out` alone: `run.json`, and per scenario `summary.json` and
//! `trace.jsonl`. A summary table with a failures-only filter (also `report.html#failures`),
//! then per scenario its failures, expectations, link counters and timeline, each capture's
//! image beside the record it fed. The markup is written with maud, which escapes every value.

mod page;

use std::path::{Path, PathBuf};

use crate::replay::{Entry, Kind, Replay};
use crate::suite::{NotRun, RunIndex, Summary, read_summary};

/// Timeline entries shown per scenario; the rest are counted and left to the trace.
pub const TIMELINE_LIMIT: usize = 3000;

/// One scenario as the report shows it.
#[derive(Debug)]
pub struct Case {
    /// Its directory under `--out` (the section's anchor).
    pub slug: String,
    /// Its summary, or why it could not be read.
    pub summary: Result<Summary, String>,
    /// Its trace read back, or why it could not be.
    pub trace: Result<Replay, String>,
}

impl Case {
    /// The scenario's name, from its summary or trace, else its directory.
    pub fn name(&self) -> &str {
        match (&self.summary, &self.trace) {
            (Ok(s), _) => &s.scenario,
            (_, Ok(t)) => &t.info.scenario,
            _ => &self.slug,
        }
    }

    /// `pass`, `FAIL` or `SKIP`; `FAIL` when the summary is unreadable.
    pub fn verdict(&self) -> &str {
        self.summary.as_ref().map_or("FAIL", |s| s.verdict.as_str())
    }

    /// The entries the timeline shows: everything but link traffic and plant motion, and
    /// keypresses (the typed code's screen lines say enough).
    pub fn timeline(&self) -> Vec<&Entry> {
        let Ok(trace) = &self.trace else { return Vec::new() };
        trace
            .entries
            .iter()
            .filter(|e| !matches!(e.kind, Kind::Message | Kind::Link | Kind::Plant) && e.is_notable())
            .collect()
    }
}

/// A run's `--out` read back.
#[derive(Debug)]
pub struct RunData {
    /// Its directory.
    pub out: PathBuf,
    /// The scenarios, in the run's order.
    pub cases: Vec<Case>,
    /// What the run left out, and why.
    pub not_run: Vec<NotRun>,
}

/// Reads a run's `--out`: the scenarios `run.json` lists, or without one every directory that
/// holds a `summary.json`, sorted. An error only when there is no run there at all; a
/// scenario whose files cannot be read is shown with the reason.
pub fn load(out: &Path) -> Result<RunData, String> {
    let index = RunIndex::read(out)?;
    let cases = index
        .scenarios
        .into_iter()
        .map(|slug| {
            let dir = out.join(&slug);
            let summary = read_summary(&dir);
            let trace = Replay::load(&dir.join("trace.jsonl")).map_err(|e| e.to_string());
            Case { slug, summary, trace }
        })
        .collect();
    Ok(RunData { out: out.to_path_buf(), cases, not_run: index.not_run })
}

/// Writes the report of the run in `out` to `to`.
pub fn write(out: &Path, to: &Path) -> Result<(), String> {
    let run = load(out)?;
    let at = |e: std::io::Error| format!("cannot write {}: {e}", to.display());
    let dir = match to.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => {
            std::fs::create_dir_all(p).map_err(at)?;
            p.to_path_buf()
        }
        None => PathBuf::from("."),
    };
    let dir = dir.canonicalize().map_err(at)?;
    let html = page::render(&run, &dir);
    std::fs::write(to, html.into_string()).map_err(at)
}

/// Where the page finds an image: relative to the report's directory. `None` for a path the
/// trace gave that leaves its directory (a report trusts no trace) or that is not there.
/// `canonical` is `trace_dir` canonicalized (once per scenario, not per image).
fn image_src(image: &Path, trace_dir: &Path, canonical: &Path, report_dir: &Path) -> Option<String> {
    let inside = image.strip_prefix(trace_dir).ok()?;
    if !inside.components().all(|c| matches!(c, std::path::Component::Normal(_))) {
        return None;
    }
    let abs = canonical.join(inside);
    if !abs.is_file() {
        return None;
    }
    let rel = pathdiff::diff_paths(&abs, report_dir)?;
    Some(rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/"))
}
