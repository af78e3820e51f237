//! Reading trace events into the replay's time-indexed tracks and its event log.

use controller::event::Event;
use serde_json::Value;

use super::*;
use crate::trace::{ApiCall, ApiResult, Camera, Dir, PlantChange, tagged};

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
                let text = describe(&tagged::to_tagged(&action, "kind"), "kind", &self.names);
                self.entry(t, Kind::Step, None, format!("step {index}: {text}"));
            }
            TraceEvent::Message { automat, message } => {
                let arrow = if message.dir() == Dir::Down { "→" } else { "←" };
                let value = message.tagged();
                let text =
                    format!("{} {arrow} {}", word(&message.link()), describe(&value, "kind", &self.names));
                self.entry(t, Kind::Message, Some(automat), text);
            }
            TraceEvent::Link { automat, link, note } => {
                let text = describe(&serde_json::to_value(&note), "kind", &self.names);
                self.entry(t, Kind::Link, Some(automat), format!("{} link: {text}", word(&link)));
            }
            TraceEvent::Bytes { automat, dir, hex } => {
                let dir = if dir == Dir::Down { "down" } else { "up" };
                self.entry(t, Kind::Link, Some(automat), format!("line {dir}: {} bytes {hex}", hex.len() / 2))
            }
            TraceEvent::Audit { seq, record } => {
                let kind = if matches!(record, Event::AlertRaised(_)) { Kind::Alert } else { Kind::Audit };
                if let Event::KeyEnrolled(k) = &record {
                    self.names.keys.insert(k.id.0, k.name.clone());
                }
                let text = describe(&tagged::to_tagged(&record, "event"), "event", &self.names);
                self.entry(t, kind, None, format!("#{seq} {text}"));
            }
            TraceEvent::Display { automat, text } => {
                self.tracks(automat).display.push((t, text.clone()));
                self.entry(t, Kind::Display, Some(automat), format!("screen: {text}"));
            }
            TraceEvent::Capture { automat, camera, purpose, id, file, result } => {
                self.add_capture(
                    t,
                    automat,
                    camera,
                    Capture { t, purpose, id, file: file.map(|f| self.base.join(f)), result },
                );
            }
            TraceEvent::User { user, act } => {
                let automat = self.users.iter().find(|u| u.name == user).map_or(0, |u| u.automat);
                self.tracks(automat).user.push((t, user.clone(), act.clone()));
                self.entry(t, Kind::User, Some(automat), format!("{user} {act}"));
            }
            // Power cuts and their end: shown with the steps, not hidden with the plant changes.
            TraceEvent::Plant { automat, change } => {
                let text = match change {
                    PlantChange::PowerCut => "power cut",
                    PlantChange::PowerRestored => "power restored",
                };
                self.entry(t, Kind::Info, Some(automat), text.into());
            }
            TraceEvent::Api { call, result } => self.add_api(t, &call, result),
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

    /// A capture, on the track its purpose says.
    fn add_capture(&mut self, t: u64, automat: usize, camera: Camera, capture: Capture) {
        let text = format!(
            "{} camera #{} ({}): {}",
            word(&camera),
            capture.id,
            word(&capture.purpose),
            capture.result
        );
        let image = capture.file.clone();
        let tracks = self.tracks(automat);
        match capture.purpose {
            Purpose::UserPhoto => tracks.front.push(capture),
            Purpose::Before => tracks.before.push(capture),
            Purpose::After => tracks.after.push(capture),
        }
        self.entry(t, Kind::Capture, Some(automat), text);
        if let Some(e) = self.entries.last_mut() {
            e.image = image;
        }
    }

    /// An API call: its log line, and the contract's name for the lines after it.
    fn add_api(&mut self, t: u64, call: &ApiCall, result: ApiResult) {
        let text = match result {
            ApiResult::Ok { contract, contracts, automat } => {
                if let (ApiCall::CreateContract { name }, Some(id)) = (call, contract) {
                    self.names.contracts.insert(id, name.clone());
                }
                let mut text = "ok".to_string();
                if let Some(id) = contract {
                    text += &format!(", contract {id}");
                }
                if !contracts.is_empty() {
                    text += &format!(", contracts {contracts:?}");
                }
                if let Some(a) = automat {
                    text += &format!(", at automat {a}");
                }
                text
            }
            ApiResult::Error { message } => format!("refused: {message}"),
            ApiResult::Unavailable => "unavailable: the controller is down".into(),
        };
        self.entry(t, Kind::Api, None, format!("api {call}: {text}"));
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

/// A word as the trace spells it (`front`, `user_photo`, `ok`).
fn word<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::from("?"),
    }
}

/// A payload as a line a person reads: its name, then its fields, with keys and contracts by
/// their names (`KeyFetched: key Roof (3), contract alice-van (2), automat 1, slot 27`).
/// Pictures, checks and other nested detail are left to the trace.
fn describe(value: &Result<Value, serde_json::Error>, tag: &str, names: &Names) -> String {
    let Ok(Value::Object(fields)) = value else { return "?".into() };
    let name = fields.get(tag).and_then(Value::as_str).unwrap_or("?");
    let inner = match fields.get("value") {
        Some(Value::Object(inner)) if fields.len() == 2 => inner,
        _ => fields,
    };
    let mut parts = Vec::new();
    for (field, v) in inner {
        if field == tag && std::ptr::eq(inner, fields) {
            continue;
        }
        let text = match (field.as_str(), v) {
            (_, Value::Null) => continue,
            ("key" | "expected" | "found", Value::Number(n)) => named(&names.keys, n),
            ("contract", Value::Number(n)) => named(&names.contracts, n),
            ("contracts" | "keys", Value::Array(ids)) => {
                let map = if field == "keys" { &names.keys } else { &names.contracts };
                let ids: Vec<String> =
                    ids.iter().filter_map(Value::as_number).map(|n| named(map, n)).collect();
                format!("[{}]", ids.join(", "))
            }
            (_, Value::String(s)) => s.clone(),
            (_, Value::Number(n)) => n.to_string(),
            (_, Value::Bool(b)) => b.to_string(),
            (_, Value::Array(a)) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
                let a: Vec<String> = a.iter().map(|x| x.to_string().trim_matches('"').to_string()).collect();
                format!("[{}]", a.join(", "))
            }
            (_, Value::Object(o)) if o.len() == 1 => match o.iter().next() {
                Some((k, Value::String(s))) => format!("{k} {s}"),
                Some((k, Value::Number(n))) => format!("{k} {n}"),
                _ => continue,
            },
            _ => continue,
        };
        parts.push(format!("{field} {text}"));
    }
    if parts.is_empty() { name.to_string() } else { format!("{name}: {}", parts.join(", ")) }
}

/// `Roof (3)` when the id has a name, else `3`.
fn named(map: &std::collections::BTreeMap<u32, String>, n: &serde_json::Number) -> String {
    match n.as_u64().and_then(|n| u32::try_from(n).ok()).and_then(|id| map.get(&id).map(|name| (id, name))) {
        Some((id, name)) => format!("{name} ({id})"),
        None => n.to_string(),
    }
}
