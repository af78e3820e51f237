//! Reading a trace back, one line at a time, trusting nothing in it: the header's format and
//! version are checked, times must not go back, and every automat index and slot is checked
//! against the scene before a reader sizes anything by it.

use serde::Deserialize;

use super::{FORMAT, TraceEvent, VERSION};

/// The header line, read back.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Info {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// The run's seed.
    pub seed: u64,
    /// Wall-clock time of simulated time 0.
    pub start: String,
    /// `sim` or `hil`.
    pub source: String,
    /// Link messages the trace leaves out, by name.
    #[serde(default)]
    pub leaves_out: Vec<String>,
}

/// One event line, read back.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TraceLine {
    /// Simulated time, µs.
    pub t: u64,
    /// The event.
    #[serde(flatten)]
    pub event: TraceEvent,
}

/// Reads a trace's lines in order (see the [module docs](self)).
#[derive(Debug, Default)]
pub struct Reader {
    info: Option<Info>,
    lines: usize,
    end: u64,
    /// Slots per automat, once the scene is read.
    slots: Option<Vec<u8>>,
}

impl Reader {
    /// A reader before the header.
    pub fn new() -> Self {
        Reader::default()
    }

    /// The header, once read.
    pub fn info(&self) -> Option<&Info> {
        self.info.as_ref()
    }

    /// Lines read so far (the number of the last one).
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// The latest time read, µs.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Reads the next line: `Ok(None)` for the header and blank lines, the event otherwise.
    /// An error says what is wrong with this line (its number is [`Reader::lines`]).
    pub fn line(&mut self, text: &str) -> Result<Option<TraceLine>, String> {
        self.lines += 1;
        if text.trim().is_empty() {
            return Ok(None);
        }
        if self.info.is_none() {
            self.info = Some(header(text)?);
            return Ok(None);
        }
        let line: TraceLine = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if line.t < self.end {
            return Err(format!("time {} µs goes back (the previous event was at {} µs)", line.t, self.end));
        }
        self.end = line.t;
        self.check(&line.event)?;
        Ok(Some(line))
    }

    /// Bounds: automat indexes and slots against the scene, users' automats, carousel paths.
    fn check(&mut self, event: &TraceEvent) -> Result<(), String> {
        if let TraceEvent::Scene { automats, users, .. } = event {
            if self.slots.is_some() {
                return Err("a second scene event".into());
            }
            for u in users {
                if u.automat >= automats.len() {
                    return Err(format!(
                        "user {:?} stands at automat {}, but the scene has {} automat(s)",
                        u.name,
                        u.automat,
                        automats.len()
                    ));
                }
            }
            self.slots = Some(automats.iter().map(|a| a.slots).collect());
            return Ok(());
        }
        let Some(automat) = automat_of(event) else { return Ok(()) };
        let Some(slots) = &self.slots else {
            return Err("an automat's event before the scene event".into());
        };
        let Some(&count) = slots.get(automat) else {
            return Err(format!("automat {automat}: the scene has {} automat(s)", slots.len()));
        };
        match event {
            TraceEvent::Hook { slot, .. } if *slot >= count => {
                Err(format!("hook {slot}: automat {automat} has {count} slots"))
            }
            TraceEvent::Carousel { path, .. } => {
                if path.is_empty() {
                    return Err("a carousel path with no point".into());
                }
                if path.iter().any(|(_, p)| !p.is_finite()) {
                    return Err("a carousel position that is not a number".into());
                }
                if path.windows(2).any(|w| w[1].0 < w[0].0) {
                    return Err("a carousel path whose times go back".into());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The automat an event is about, if any.
fn automat_of(event: &TraceEvent) -> Option<usize> {
    match event {
        TraceEvent::Carousel { automat, .. }
        | TraceEvent::Cabinet { automat, .. }
        | TraceEvent::Hook { automat, .. }
        | TraceEvent::Message { automat, .. }
        | TraceEvent::Link { automat, .. }
        | TraceEvent::Display { automat, .. }
        | TraceEvent::Capture { automat, .. }
        | TraceEvent::Plant { automat, .. }
        | TraceEvent::Bytes { automat, .. }
        | TraceEvent::Queue { automat, .. } => Some(*automat),
        TraceEvent::Scene { .. }
        | TraceEvent::Expectation { .. }
        | TraceEvent::Step { .. }
        | TraceEvent::Audit { .. }
        | TraceEvent::User { .. }
        | TraceEvent::Api { .. }
        | TraceEvent::Problem { .. }
        | TraceEvent::End { .. }
        | TraceEvent::Unknown => None,
    }
}

fn header(text: &str) -> Result<Info, String> {
    let info: Info = serde_json::from_str(text)
        .map_err(|e| format!("not a trace header ({e}); expected a {FORMAT} file"))?;
    if info.format != FORMAT {
        return Err(format!("format {:?}, expected {FORMAT:?}", info.format));
    }
    match info.version {
        VERSION => Ok(info),
        v if v > VERSION => Err(format!("trace version {v} is newer than this reader's ({VERSION})")),
        v => Err(format!(
            "trace version {v} is not supported since version {VERSION} (typed events, no secrets): \
             re-run the scenario to get a version {VERSION} trace"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"format":"key-automat-trace","version":2,"scenario":"s","seed":1,"start":"2026-01-05T08:00:00Z","source":"sim"}"#;
    const SCENE: &str =
        r#"{"t":0,"type":"scene","automats":[{"id":1,"name":"A","slots":8}],"users":[],"expectations":[]}"#;

    fn read(lines: &[&str]) -> Result<usize, String> {
        let mut r = Reader::new();
        let mut events = 0;
        for l in lines {
            events += usize::from(r.line(l).map_err(|e| format!("line {}: {e}", r.lines()))?.is_some());
        }
        Ok(events)
    }

    #[test]
    fn numbers_are_checked_against_the_scene_before_anything_is_sized_by_them() {
        assert_eq!(read(&[HEADER, SCENE, r#"{"t":1,"type":"display","automat":0,"text":"hi"}"#]), Ok(2));
        let cases = [
            (r#"{"t":1,"type":"display","automat":100000000,"text":"x"}"#, "automat 100000000"),
            (r#"{"t":1,"type":"hook","automat":0,"slot":8,"item":null}"#, "hook 8"),
            (r#"{"t":1,"type":"carousel","automat":0,"path":[]}"#, "no point"),
            (r#"{"t":1,"type":"carousel","automat":0,"path":[[5,1.0],[4,2.0]]}"#, "go back"),
        ];
        for (line, want) in cases {
            let e = read(&[HEADER, SCENE, line]).unwrap_err();
            assert!(e.starts_with("line 3: ") && e.contains(want), "{e}");
        }
        let e = read(&[HEADER, r#"{"t":1,"type":"display","automat":0,"text":"x"}"#]).unwrap_err();
        assert!(e.contains("before the scene"), "{e}");
        let e = read(&[
            HEADER,
            SCENE,
            r#"{"t":0,"type":"end","passed":true,"failures":[]}"#.replace("\"t\":0", "\"t\":5").as_str(),
            r#"{"t":4,"type":"end","passed":true,"failures":[]}"#,
        ])
        .unwrap_err();
        assert!(e.starts_with("line 4: ") && e.contains("goes back"), "{e}");
    }

    #[test]
    fn other_versions_are_refused_with_what_to_do() {
        let v1 = HEADER.replace("\"version\":2", "\"version\":1");
        let e = read(&[&v1]).unwrap_err();
        assert!(e.contains("version 1 is not supported") && e.contains("re-run"), "{e}");
        let v3 = HEADER.replace("\"version\":2", "\"version\":3");
        assert!(read(&[&v3]).unwrap_err().contains("newer"));
        assert!(read(&["{\"format\":\"other\"}"]).is_err());
    }
}
