//! Loading a scenario file: refusing what is not a scenario file (a directory loop, a FIFO or
//! device, a file too large), RON parsing with the error's place and the field it is in, then
//! the checks RON cannot make ([`validate`](super::validate)). Every error names the file,
//! line and column, the field, and what was expected, with its span on the value itself; all
//! problems of a file come together; none panics.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceSpan};

use super::spans::Spans;
use super::*;

pub use super::validate::{MAX_DURATION, MAX_INJECT, hex_bytes};

/// The largest scenario file read (1 MiB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// A scenario file that could not be loaded: its first problem, with the others related.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{text}", text = self.headline())]
#[diagnostic(code(scenario::invalid))]
pub struct LoadError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What is wrong and what was expected.
    pub message: String,
    /// Where, in bytes of the file (none for a problem with the path itself).
    pub span: Option<std::ops::Range<usize>>,
    #[source_code]
    src: NamedSource<String>,
    #[label("{label}")]
    label_span: Option<SourceSpan>,
    label: String,
    /// The file's other problems.
    #[related]
    pub others: Vec<LoadError>,
}

impl LoadError {
    /// An error about a path rather than a scenario's content (unreadable, missing).
    pub fn io(file: &str, message: String) -> LoadError {
        error_at(file, "", None, message)
    }

    /// `file:line:col: message`, or `file: message` for a problem with the path itself.
    fn headline(&self) -> String {
        match self.span {
            Some(_) => format!("{}:{}:{}: {}", self.file, self.line, self.col, self.message),
            None => format!("{}: {}", self.file, self.message),
        }
    }

    /// This problem and the others, in order.
    pub fn problems(&self) -> impl Iterator<Item = &LoadError> {
        std::iter::once(self).chain(self.others.iter())
    }
}

fn offset_of(src: &str, line: usize, col: usize) -> usize {
    let mut off = 0;
    for (i, l) in src.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return off + l.char_indices().nth(col.saturating_sub(1)).map_or(l.len(), |(b, _)| b);
        }
        off += l.len();
    }
    src.len()
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = src.get(..offset.min(src.len())).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn error_at(file: &str, src: &str, span: Option<std::ops::Range<usize>>, message: String) -> LoadError {
    let (line, col) = span.as_ref().map_or((1, 1), |s| line_col(src, s.start));
    let label = message.rsplit_once(": ").map_or("here", |(_, what)| what).chars().take(80).collect();
    LoadError {
        file: file.to_string(),
        line,
        col,
        message,
        label_span: span.clone().map(|s| SourceSpan::from((s.start, s.end.saturating_sub(s.start).max(1)))),
        span,
        src: NamedSource::new(file, src.to_string()),
        label,
        others: Vec::new(),
    }
}

/// Reads and checks a scenario file. Only regular files (or links to them) up to
/// [`MAX_FILE_BYTES`] are read.
// Load errors are rare and carry their source for the report: their size does not matter.
#[allow(clippy::result_large_err)]
pub fn load_file(path: &Path) -> Result<Scenario, LoadError> {
    let file = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| LoadError::io(&file, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(LoadError::io(
            &file,
            "not a regular file (a directory, FIFO or device is no scenario)".into(),
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        let msg = format!("{} bytes: a scenario file is at most {MAX_FILE_BYTES} bytes", meta.len());
        return Err(LoadError::io(&file, msg));
    }
    let bytes = std::fs::read(path).map_err(|e| LoadError::io(&file, format!("cannot read: {e}")))?;
    let src = String::from_utf8(bytes).map_err(|e| {
        LoadError::io(
            &file,
            format!("not UTF-8 text (byte {} is not valid UTF-8)", e.utf8_error().valid_up_to()),
        )
    })?;
    load_str(&file, &src)
}

/// Parses and checks a scenario from text; `file` names it in errors. A UTF-8 byte order mark
/// is skipped.
#[allow(clippy::result_large_err)]
pub fn load_str(file: &str, src: &str) -> Result<Scenario, LoadError> {
    let scenario: Scenario =
        ron_options().from_str(src.strip_prefix('\u{feff}').unwrap_or(src)).map_err(|e| {
            let bom = if src.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
            let body = &src[bom..];
            let start = value_start(src, offset_of(body, e.span.start.line, e.span.start.col) + bom);
            let end = offset_of(body, e.span.end.line, e.span.end.col) + bom;
            let (message, span) = parse_problem(src, start, end, e.code.to_string());
            error_at(file, src, Some(span), message)
        })?;
    let problems = super::validate::check(&scenario);
    if problems.is_empty() {
        return Ok(scenario);
    }
    let spans = Spans::parse(src);
    let mut errors = problems.into_iter().map(|(path, message)| {
        let span = spans.find_text(&path);
        error_at(file, src, span, format!("{path}: {message}"))
    });
    let mut first = errors.next().unwrap_or_else(|| LoadError::io(file, "invalid".into()));
    first.others = errors.collect();
    Err(first)
}

/// The problems [`load_str`] would find in a scenario built in code (the swarm's), each as the
/// path of the value and what is wrong; empty when it would load.
pub fn problems(scenario: &Scenario) -> Vec<(String, String)> {
    super::validate::check(scenario)
}

/// How scenario files are read: optional values may be written bare.
fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
}

/// RON places an error in a string inside its quotes: the value starts at the quote.
fn value_start(src: &str, offset: usize) -> usize {
    if offset > 0 && src.as_bytes().get(offset - 1) == Some(&b'"') { offset - 1 } else { offset }
}

/// A RON error named by the field it is in. An element of `never` that is neither a matcher
/// nor a windowed matcher is parsed again as the one it looks like, for that one's error.
fn parse_problem(src: &str, start: usize, end: usize, code: String) -> (String, std::ops::Range<usize>) {
    let spans = Spans::parse(src);
    let at = spans.path_at(start.min(src.len().saturating_sub(1)));
    let element = at.as_ref().and_then(|(path, _)| {
        let i = path.find("never[")?;
        let end = i + path[i..].find(']')? + 1;
        let path = path[..end].to_string();
        Some((spans.find_text(&path)?, path))
    });
    if code.contains("untagged enum Never")
        && let Some((node, path)) = &element
        && let Some(text) = src.get(node.clone())
    {
        let again = if text.trim_start().starts_with('(') {
            ron_options().from_str::<NeverWithin>(text).err()
        } else {
            ron_options().from_str::<Matcher>(text).err()
        };
        if let Some(e) = again {
            let s = value_start(src, node.start + offset_of(text, e.span.start.line, e.span.start.col));
            let t = node.start + offset_of(text, e.span.end.line, e.span.end.col);
            let inner = spans.path_at(s).map_or(path.clone(), |(p, _)| p);
            return (format!("{inner}: {}", e.code), s..t.max(s + 1));
        }
    }
    let span =
        if end > start { start..end } else { at.as_ref().map_or(start..start + 1, |(_, n)| n.clone()) };
    match at {
        Some((path, _)) if !path.is_empty() => (format!("{path}: {code}"), span),
        _ => (code, span),
    }
}

/// Parses a colour name or `#rrggbb`.
pub fn colour(s: &str) -> Option<[u8; 3]> {
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() == 6 {
            let v = u32::from_str_radix(hex, 16).ok()?;
            return Some([(v >> 16) as u8, (v >> 8) as u8, v as u8]);
        }
        return None;
    }
    crate::plant::look::COLOURS.iter().find(|(n, _)| *n == s).map(|(_, c)| *c)
}

/// Parses a tag in hex (up to 16 digits).
pub fn tag(s: &str) -> Option<u64> {
    let hex = !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| u64::from_str_radix(s, 16).ok()).flatten()
}

/// Parses `"HH:MM"`.
pub fn clock(s: &str) -> Option<jiff::civil::Time> {
    let (h, m) = s.split_once(':')?;
    jiff::civil::Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

/// `Mon`..`Sun`.
pub fn weekday(s: &str) -> Option<jiff::civil::Weekday> {
    use jiff::civil::Weekday::*;
    Some(match s {
        "Mon" => Monday,
        "Tue" => Tuesday,
        "Wed" => Wednesday,
        "Thu" => Thursday,
        "Fri" => Friday,
        "Sat" => Saturday,
        "Sun" => Sunday,
        _ => return None,
    })
}

/// Every `*.ron` under the given files and directories, sorted. Directories reached twice
/// (a symlink loop, or the same one named twice) are walked once. An error names the path it
/// is about (a missing one, or a directory that cannot be read).
#[allow(clippy::result_large_err)]
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut seen, &mut out)?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(LoadError::io(&p.display().to_string(), "no such file or directory".into()));
        }
    }
    Ok(out)
}

#[allow(clippy::result_large_err)]
fn walk(dir: &Path, seen: &mut BTreeSet<PathBuf>, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let unreadable =
        |e: std::io::Error| LoadError::io(&dir.display().to_string(), format!("cannot read: {e}"));
    let real = std::fs::canonicalize(dir).map_err(unreadable)?;
    if !seen.insert(real) {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(unreadable)?;
    let mut entries: Vec<_> = entries.collect::<Result<_, _>>().map_err(unreadable)?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let path = e.path();
        if path.is_dir() {
            walk(&path, seen, out)?;
        } else if path.extension().is_some_and(|x| x == "ron") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"Scenario(name: "m", automats: [(id: 1)])"#;

    #[test]
    fn minimal_loads() {
        let s = load_str("m.ron", MINIMAL).expect("loads");
        assert_eq!(s.automats[0].slots, 30);
    }

    #[test]
    fn unknown_field_names_its_place() {
        let src = "Scenario(\n  name: \"x\",\n  automats: [(id: 1)],\n  colour: 3,\n)";
        let e = load_str("x.ron", src).expect_err("refused");
        assert_eq!((e.line, e.col), (4, 3), "{e}");
        assert!(e.message.contains("colour"), "{e}");
        assert!(e.to_string().starts_with("x.ron:4:3:"), "{e}");
    }

    #[test]
    fn bad_colour_points_at_the_value() {
        let src = "Scenario(name: \"x\", automats: [(id: 1)],\n keys: [(id: 1, automat: 1, slot: 0, look: (colour: \"magenta\"))])";
        let e = load_str("x.ron", src).expect_err("refused");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("keys[0].look.colour"), "{e}");
    }

    #[test]
    fn hex_is_hex_digits_only() {
        assert_eq!(tag("04A1"), Some(0x04A1));
        assert_eq!(tag("+1"), None, "from_str_radix alone takes a sign");
        assert_eq!(hex_bytes("00 ff"), Some(vec![0, 255]));
        assert_eq!(hex_bytes("+1"), None);
    }

    #[test]
    fn garbage_never_panics() {
        for src in [
            "",
            "(",
            "Scenario(",
            "\u{0}\u{1}",
            "Scenario(name: 5)",
            "[[[[",
            "Scenario(name: \"x\", automats: [])",
        ] {
            assert!(load_str("g.ron", src).is_err());
        }
    }
}
