//! Reading trace events into the replay's time-indexed tracks and its event log.

use super::*;

impl Replay {
    pub(super) fn add(&mut self, t: u64, event: TraceEvent) {
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
            other => self.add_plant(t, other),
        }
    }

    /// The plant's changes, the verdicts and the end.
    fn add_plant(&mut self, t: u64, event: TraceEvent) {
        match event {
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
            _ => {}
        }
    }
}
