//! Loading a scenario file: RON parsing with the error's place, then checks of what RON cannot
//! check (references between parts, colours, tags, times). Every error names the file, line and
//! column, the field, and what was expected; none panics.

use std::collections::BTreeSet;
use std::path::Path;

use miette::{Diagnostic, NamedSource, SourceSpan};

use super::*;

/// A scenario file that could not be loaded.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{file}:{line}:{col}: {message}")]
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
    #[source_code]
    src: NamedSource<String>,
    #[label("here")]
    span: Option<SourceSpan>,
}

impl LoadError {
    /// An error about a path rather than a scenario's content (unreadable, missing).
    pub fn io(file: &str, message: String) -> LoadError {
        error_at(file, "", None, message)
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
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn error_at(file: &str, src: &str, offset: Option<usize>, message: String) -> LoadError {
    let (line, col) = offset.map_or((1, 1), |o| line_col(src, o));
    LoadError {
        file: file.to_string(),
        line,
        col,
        message,
        src: NamedSource::new(file, src.to_string()),
        span: offset.map(|o| SourceSpan::from((o, 1))),
    }
}

/// Reads and checks a scenario file.
// Load errors are rare and carry their source for the report: their size does not matter.
#[allow(clippy::result_large_err)]
pub fn load_file(path: &Path) -> Result<Scenario, LoadError> {
    let file = path.display().to_string();
    let src =
        std::fs::read_to_string(path).map_err(|e| error_at(&file, "", None, format!("cannot read: {e}")))?;
    load_str(&file, &src)
}

/// Parses and checks a scenario from text; `file` names it in errors.
#[allow(clippy::result_large_err)]
pub fn load_str(file: &str, src: &str) -> Result<Scenario, LoadError> {
    let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let scenario: Scenario = options.from_str(src).map_err(|e| {
        let offset = offset_of(src, e.span.start.line, e.span.start.col);
        error_at(file, src, Some(offset), e.code.to_string())
    })?;
    check(&scenario).map_err(|(message, needle)| {
        let offset = needle.and_then(|n| src.find(&n));
        error_at(file, src, offset, message)
    })?;
    Ok(scenario)
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
    (!s.is_empty() && s.len() <= 16).then(|| u64::from_str_radix(s, 16).ok()).flatten()
}

/// Parses `"HH:MM"`.
pub fn clock(s: &str) -> Option<jiff::civil::Time> {
    let (h, m) = s.split_once(':')?;
    jiff::civil::Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

type Problem = (String, Option<String>);

fn quoted(s: &str) -> Option<String> {
    Some(format!("\"{s}\""))
}

/// The checks RON cannot make.
fn check(s: &Scenario) -> Result<(), Problem> {
    if s.automats.is_empty() {
        return Err(("automats: at least one automat is needed".into(), Some("automats".into())));
    }
    if let Some(start) = &s.start {
        start.parse::<jiff::Timestamp>().map_err(|e| {
            (
                format!("start: {start:?} is not an RFC 3339 time like \"2026-06-01T08:00:00Z\": {e}"),
                quoted(start),
            )
        })?;
    }
    if let Some(tz) = &s.time_zone {
        jiff::tz::TimeZone::get(tz)
            .map_err(|_| (format!("time_zone: unknown IANA time zone {tz:?}"), quoted(tz)))?;
    }
    let automats: BTreeSet<u32> = s.automats.iter().map(|a| a.id).collect();
    for (i, a) in s.automats.iter().enumerate() {
        if a.slots == 0 || a.at_window >= a.slots {
            return Err((
                format!("automats[{i}]: slots must be 1..=255 and at_window below it"),
                Some(format!("id: {}", a.id)),
            ));
        }
    }
    let contacts: BTreeSet<u32> = s.contacts.iter().map(|c| c.id).collect();
    let mut key_ids = BTreeSet::new();
    let mut slots = BTreeSet::new();
    for (i, k) in s.keys.iter().enumerate() {
        let here = Some(format!("id: {}", k.id));
        if !key_ids.insert(k.id) {
            return Err((format!("keys[{i}]: key id {} is used twice", k.id), here));
        }
        let Some(a) = s.automats.iter().find(|a| a.id == k.automat) else {
            return Err((format!("keys[{i}].automat: no automat {}", k.automat), here));
        };
        if k.slot >= a.slots || !slots.insert((k.automat, k.slot)) {
            return Err((format!("keys[{i}].slot: slot {} is out of range or taken", k.slot), here));
        }
        if colour(&k.look.colour).is_none() {
            return Err((
                format!("keys[{i}].look.colour: {:?} is not a colour name or #rrggbb", k.look.colour),
                quoted(&k.look.colour),
            ));
        }
        if let Some(t) = &k.tag {
            tag(t)
                .ok_or_else(|| (format!("keys[{i}].tag: {t:?} is not hex of up to 16 digits"), quoted(t)))?;
        }
        if let Some(rc) = &k.return_code {
            controller::model::ReturnCode::parse(rc)
                .ok_or_else(|| (format!("keys[{i}].return_code: {rc:?} is not four digits"), quoted(rc)))?;
        }
        if let Some(d) = &k.daily_deadline {
            clock(d).ok_or_else(|| (format!("keys[{i}].daily_deadline: {d:?} is not HH:MM"), quoted(d)))?;
        }
    }
    let mut names = BTreeSet::new();
    let mut check_contract = |c: &ContractSpec, at: String| -> Result<(), Problem> {
        let here = quoted(&c.name);
        if !names.insert(c.name.clone()) {
            return Err((format!("{at}: contract name {:?} is used twice", c.name), here));
        }
        if !automats.contains(&c.automat) && c.expect_error.is_none() {
            return Err((format!("{at}.automat: no automat {}", c.automat), here));
        }
        if let Some(sch) = &c.schedule {
            jiff::tz::TimeZone::get(&sch.time_zone).map_err(|_| {
                (format!("{at}.schedule.time_zone: unknown zone {:?}", sch.time_zone), quoted(&sch.time_zone))
            })?;
            for w in &sch.windows {
                for d in &w.days {
                    weekday(d).ok_or_else(|| (format!("{at}.schedule: {d:?} is not Mon..Sun"), quoted(d)))?;
                }
                for t in [&w.from, &w.to] {
                    clock(t).ok_or_else(|| (format!("{at}.schedule: {t:?} is not HH:MM"), quoted(t)))?;
                }
            }
        }
        Ok(())
    };
    for (i, c) in s.contracts.iter().enumerate() {
        check_contract(c, format!("contracts[{i}]"))?;
    }
    let users: BTreeSet<&str> = s.users.iter().map(|u| u.name.as_str()).collect();
    for (i, u) in s.users.iter().enumerate() {
        if let Some(a) = u.automat
            && !automats.contains(&a)
        {
            return Err((format!("users[{i}].automat: no automat {a}"), quoted(&u.name)));
        }
        for (name, look) in &u.carries {
            if colour(&look.colour).is_none() {
                return Err((
                    format!("users[{i}].carries[{name:?}]: bad colour {:?}", look.colour),
                    quoted(&look.colour),
                ));
            }
        }
    }
    for (i, step) in s.timeline.iter().enumerate() {
        let at = format!("timeline[{i}]");
        let user = match &step.action {
            Action::Take { user, .. }
            | Action::Return { user, .. }
            | Action::Press { user, .. }
            | Action::OpenDoor { user, .. }
            | Action::CloseDoor { user }
            | Action::TakeKey { user }
            | Action::Hang { user, .. } => Some(user),
            _ => None,
        };
        let mut named: Vec<&String> = user.into_iter().collect();
        if let Action::Give { from, to, .. } = &step.action {
            named.extend([from, to]);
        }
        for u in named {
            if !users.contains(u.as_str()) {
                return Err((format!("{at}: no user {u:?} (declare it under users)"), quoted(u)));
            }
        }
        let automat = match &step.action {
            Action::Stall { automat, .. }
            | Action::ClearStall { automat }
            | Action::LoseSteps { automat, .. }
            | Action::EncoderNoise { automat, .. }
            | Action::Latch { automat, .. }
            | Action::TagReader { automat, .. }
            | Action::Camera { automat, .. }
            | Action::Mains { automat, .. }
            | Action::Tamper { automat }
            | Action::HostLine { automat, .. }
            | Action::DropHostLine { automat, .. }
            | Action::InjectForgedUnlock { automat } => Some(*automat),
            _ => None,
        };
        if let Some(a) = automat
            && !automats.contains(&a)
        {
            return Err((format!("{at}: no automat {a}"), Some(format!("automat: {a}"))));
        }
        if let Action::CreateContract(c) = &step.action {
            check_contract(c, format!("{at}.CreateContract"))?;
        }
        if let Action::RevokeContact { contact } = &step.action
            && !contacts.contains(contact)
        {
            return Err((format!("{at}: no contact {contact}"), Some(format!("contact: {contact}"))));
        }
    }
    Ok(())
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

/// Every `*.ron` under the given files and directories, sorted.
pub fn collect(paths: &[std::path::PathBuf]) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(p)?.collect::<Result<_, _>>()?;
            entries.sort_by_key(|e| e.path());
            for e in entries {
                let path = e.path();
                if path.is_dir() {
                    out.extend(collect(&[path])?);
                } else if path.extension().is_some_and(|x| x == "ron") {
                    out.push(path);
                }
            }
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or directory", p.display()),
            ));
        }
    }
    Ok(out)
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
