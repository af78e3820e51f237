//! The checks serde cannot make, run on a parsed scenario before anything is simulated: every
//! name and id a scenario refers to exists, formats (PINs, return codes, tags, colours, times)
//! are right, numbers are in range and finite, times are in order and bounded. Each problem
//! names the path of the value it is about (`keys[2].slot`), so the loader can point at the
//! value itself; all problems of a file are reported together.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::load::{clock, colour, tag, weekday};
use super::*;

/// The longest a scenario may simulate (and the latest offset it may use): 60 days.
pub const MAX_DURATION: Duration = Duration::from_secs(60 * 24 * 3600);
/// The most bytes one `InjectBytes` step may write.
pub const MAX_INJECT: usize = 4096;

/// A fob's colour for telling looks apart: its value (a name and its `#rrggbb` are one colour),
/// or the text when it names no colour (refused on its own).
type LookKey = Result<[u8; 3], String>;

/// One problem: the path of the value it is about, and what is wrong.
pub(super) type Problem = (String, String);

mod timeline;

/// What a scenario declares, to check references against.
pub(super) struct Known<'a> {
    automats: BTreeMap<u32, u8>,
    keys: BTreeMap<u32, &'a KeySpec>,
    contacts: BTreeSet<u32>,
    groups: BTreeSet<u32>,
    users: BTreeMap<&'a str, &'a UserSpec>,
    /// Key and automat names that screen lines can carry.
    names: Vec<&'a str>,
}

pub(super) struct Checker<'a> {
    s: &'a Scenario,
    known: Known<'a>,
    problems: Vec<Problem>,
    /// Contract handles created so far (declared, then by the timeline in order).
    contracts: BTreeSet<String>,
    /// Frame captures armed so far: name → automat.
    captures: BTreeMap<String, u32>,
}

/// Every problem of `s`, in file order as far as possible.
pub(super) fn check(s: &Scenario) -> Vec<Problem> {
    let mut names: Vec<&str> = s.keys.iter().map(|k| k.name.as_str()).collect();
    names.extend(s.automats.iter().map(|a| a.name.as_str()));
    let known = Known {
        automats: s.automats.iter().map(|a| (a.id, a.slots)).collect(),
        keys: s.keys.iter().map(|k| (k.id, k)).collect(),
        contacts: s.contacts.iter().map(|c| c.id).collect(),
        groups: s.groups.iter().map(|g| g.id).collect(),
        users: s.users.iter().map(|u| (u.name.as_str(), u)).collect(),
        names,
    };
    let mut c =
        Checker { s, known, problems: Vec::new(), contracts: BTreeSet::new(), captures: BTreeMap::new() };
    c.top();
    c.automats();
    c.keys();
    c.people();
    for (i, contract) in s.contracts.iter().enumerate() {
        c.contract(contract, &format!("contracts[{i}]"));
    }
    c.timeline();
    c.expectations();
    c.problems
}

/// Whether `t` is spelt as a scenario's tag may be (`sim run --tag` takes the same words).
pub fn is_label(t: &str) -> bool {
    let mut bytes = t.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && t.len() <= 40
}

fn offset_ok(o: Option<Offset>) -> bool {
    o.is_none_or(|o| o.0 <= MAX_DURATION)
}

fn rate_ok(r: f64) -> bool {
    r.is_finite() && (0.0..=1.0).contains(&r)
}

/// Bytes from hex (`"00ff12"`, spaces allowed between bytes).
pub fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok()).collect()
}

impl Checker<'_> {
    fn at(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push((path.into(), message.into()));
    }

    fn automat(&mut self, path: String, id: u32) {
        if !self.known.automats.contains_key(&id) {
            let ids: Vec<String> = self.known.automats.keys().map(u32::to_string).collect();
            self.at(path, format!("no automat {id} (the automats are {})", ids.join(", ")));
        }
    }

    fn key(&mut self, path: String, id: u32) {
        if !self.known.keys.contains_key(&id) {
            let ids: Vec<String> = self.known.keys.keys().map(u32::to_string).collect();
            let list = if ids.is_empty() { "none are declared".into() } else { ids.join(", ") };
            self.at(path, format!("no key {id} (the keys are {list})"));
        }
    }

    fn contact(&mut self, path: String, id: u32) {
        if !self.known.contacts.contains(&id) {
            self.at(path, format!("no contact {id} (declare it under contacts)"));
        }
    }

    fn user(&mut self, path: String, name: &str) {
        if !self.known.users.contains_key(name) {
            let names: Vec<&str> = self.known.users.keys().copied().collect();
            let hint = names::hint(name, &names, "; ");
            self.at(path, format!("no user {name:?} (declare it under users){hint}"));
        }
    }

    /// A latitude and longitude on the globe.
    fn location(&mut self, path: String, (lat, lon): (f64, f64)) {
        if !(lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0) {
            self.at(path, "latitude must be -90..=90 and longitude -180..=180");
        }
    }

    fn offset(&mut self, path: String, o: Option<Offset>) {
        if !offset_ok(o) {
            self.at(path, format!("longer than the limit of {} (60 days)", Offset(MAX_DURATION)));
        }
    }

    fn line(&mut self, path: &str, l: &LineConfig) {
        for (field, r) in [("corrupt", l.corrupt), ("loss", l.loss)] {
            if !rate_ok(r) {
                self.at(format!("{path}.{field}"), format!("{r} is not a probability (0 to 1)"));
            }
        }
        if l.latency_us > 60_000_000 {
            self.at(format!("{path}.latency_us"), "more than a minute of latency");
        }
    }

    fn top(&mut self) {
        let s = self.s;
        if s.name.trim().is_empty() {
            self.at("name", "a scenario needs a name");
        }
        for (i, t) in s.tags.iter().enumerate() {
            if !is_label(t) {
                self.at(
                    format!("tags[{i}]"),
                    format!("{t:?} is not a tag: lower-case letters, digits, '-' and '_', starting with a letter or digit"),
                );
            } else if s.tags[..i].contains(t) {
                self.at(format!("tags[{i}]"), format!("the tag {t:?} is given twice"));
            }
        }
        if let Some(start) = &s.start
            && let Err(e) = start.parse::<jiff::Timestamp>()
        {
            self.at("start", format!("{start:?} is not an RFC 3339 time like \"2026-06-01T08:00:00Z\": {e}"));
        }
        if let Some(tz) = &s.time_zone
            && jiff::tz::TimeZone::get(tz).is_err()
        {
            self.at("time_zone", format!("unknown IANA time zone {tz:?}"));
        }
        self.offset("duration".into(), s.duration);
        self.line("lines.host", &s.lines.host);
        self.line("lines.plant", &s.lines.plant);
        let c = &s.controller;
        for (field, o) in [
            ("door_open_limit", c.door_open_limit),
            ("unlock_window", c.unlock_window),
            ("lockout", c.lockout),
            ("overdue_grace", c.overdue_grace),
            ("split_after", c.split_after),
            ("fetch_window", c.fetch_window),
            ("return_window", c.return_window),
        ] {
            self.offset(format!("controller.{field}"), o);
        }
    }

    fn automats(&mut self) {
        if self.s.automats.is_empty() {
            self.at("automats", "at least one automat is needed");
        }
        let mut ids = BTreeSet::new();
        for (i, a) in self.s.automats.iter().enumerate() {
            if !ids.insert(a.id) {
                self.at(format!("automats[{i}].id"), format!("automat id {} is used twice", a.id));
            }
            if a.slots == 0 {
                self.at(format!("automats[{i}].slots"), "an automat needs at least one slot");
            } else if a.at_window >= a.slots {
                let msg = format!(
                    "slot {} is not on a carousel of {} slots (0..={})",
                    a.at_window,
                    a.slots,
                    a.slots - 1
                );
                self.at(format!("automats[{i}].at_window"), msg);
            }
            self.location(format!("automats[{i}].location"), a.location);
        }
    }

    fn look(&mut self, path: String, l: &LookSpec) {
        if colour(&l.colour).is_none() {
            let names: Vec<&str> = crate::plant::look::COLOURS.iter().map(|(n, _)| *n).collect();
            let msg = format!("{:?} is not a colour name ({}) or #rrggbb", l.colour, names.join(", "));
            self.at(format!("{path}.colour"), msg);
        }
        if l.label.chars().count() > 4 {
            self.at(format!("{path}.label"), format!("{:?} is longer than 4 characters", l.label));
        }
    }

    fn person(&mut self, path: &str, p: &crate::scenario::PersonSpec) {
        if let Some(h) = p.height
            && !(1.2..=2.2).contains(&h)
        {
            self.at(format!("{path}.height"), format!("{h} m is not a person's height (1.2 to 2.2)"));
        }
        for (field, c) in [("clothes", &p.clothes), ("hair", &p.hair), ("skin", &p.skin)] {
            if let Some(c) = c
                && colour(c).is_none()
            {
                let names: Vec<&str> = crate::plant::look::COLOURS.iter().map(|(n, _)| *n).collect();
                self.at(
                    format!("{path}.{field}"),
                    format!("{c:?} is not a colour name ({}) or #rrggbb", names.join(", ")),
                );
            }
        }
    }

    fn keys(&mut self) {
        let mut ids = BTreeSet::new();
        let mut slots: BTreeMap<(u32, u8), u32> = BTreeMap::new();
        let mut looks: BTreeMap<(u32, LookKey, Shape), u32> = BTreeMap::new();
        let mut tags: BTreeMap<u64, u32> = BTreeMap::new();
        for (i, k) in self.s.keys.iter().enumerate() {
            let p = format!("keys[{i}]");
            if !ids.insert(k.id) {
                self.at(format!("{p}.id"), format!("key id {} is used twice", k.id));
            }
            match self.known.automats.get(&k.automat).copied() {
                None => self.automat(format!("{p}.automat"), k.automat),
                Some(n) if k.slot >= n => {
                    let msg = format!(
                        "slot {} is out of range: automat {} has slots 0..={}",
                        k.slot,
                        k.automat,
                        n - 1
                    );
                    self.at(format!("{p}.slot"), msg);
                }
                Some(_) => {
                    if let Some(other) = slots.insert((k.automat, k.slot), k.id) {
                        let msg =
                            format!("slot {} of automat {} is already key {other}'s", k.slot, k.automat);
                        self.at(format!("{p}.slot"), msg);
                    }
                }
            }
            self.look(format!("{p}.look"), &k.look);
            let rgb = colour(&k.look.colour).ok_or_else(|| k.look.colour.clone());
            if let Some(other) = looks.insert((k.automat, rgb, k.look.shape), k.id) {
                let msg = format!(
                    "looks like key {other} in the same automat: the camera could not tell them apart"
                );
                self.at(format!("{p}.look"), msg);
            }
            if let Some(t) = &k.tag {
                match tag(t) {
                    None => self.at(format!("{p}.tag"), format!("{t:?} is not hex of 1 to 16 digits")),
                    Some(v) => {
                        if let Some(other) = tags.insert(v, k.id) {
                            self.at(format!("{p}.tag"), format!("tag {t} is key {other}'s too"));
                        }
                    }
                }
            }
            if let Some(rc) = &k.return_code
                && controller::model::ReturnCode::parse(rc).is_none()
            {
                self.at(
                    format!("{p}.return_code"),
                    format!("a return code is four digits; this is {} characters", rc.chars().count()),
                );
            }
            if let Some(d) = &k.daily_deadline
                && clock(d).is_none()
            {
                self.at(format!("{p}.daily_deadline"), format!("{d:?} is not a time of day HH:MM"));
            }
        }
    }

    fn people(&mut self) {
        let mut ids = BTreeSet::new();
        for (i, c) in self.s.contacts.iter().enumerate() {
            if !ids.insert(c.id) {
                self.at(format!("contacts[{i}].id"), format!("contact id {} is used twice", c.id));
            }
        }
        let mut ids = BTreeSet::new();
        for (i, g) in self.s.groups.iter().enumerate() {
            if !ids.insert(g.id) {
                self.at(format!("groups[{i}].id"), format!("group id {} is used twice", g.id));
            }
            for (j, a) in g.automats.iter().enumerate() {
                self.automat(format!("groups[{i}].automats[{j}]"), *a);
            }
            for (j, (_, keys)) in g.entities.iter().enumerate() {
                for (k, key) in keys.iter().enumerate() {
                    self.key(format!("groups[{i}].entities[{j}][1][{k}]"), *key);
                }
            }
        }
        let mut names = BTreeSet::new();
        for (i, u) in self.s.users.iter().enumerate() {
            if !names.insert(u.name.as_str()) {
                self.at(format!("users[{i}].name"), format!("user {:?} is declared twice", u.name));
            }
            if let Some(a) = u.automat {
                self.automat(format!("users[{i}].automat"), a);
            }
            let mut items = BTreeSet::new();
            for (j, (name, look)) in u.carries.iter().enumerate() {
                if !items.insert(name.as_str()) {
                    self.at(format!("users[{i}].carries[{j}][0]"), format!("{name:?} is carried twice"));
                }
                self.look(format!("users[{i}].carries[{j}][1]"), look);
            }
            self.person(&format!("users[{i}].look"), &u.look);
        }
    }

    fn contract(&mut self, c: &ContractSpec, p: &str) {
        if !self.contracts.insert(c.name.clone()) {
            self.at(format!("{p}.name"), format!("contract name {:?} is used twice", c.name));
        }
        if let Some(s) = &c.schedule {
            self.schedule(s, &format!("{p}.schedule"));
        }
        if let (Some(start), Some(end)) = (c.start, c.end)
            && end <= start
        {
            self.at(format!("{p}.end"), format!("ends ({end}) before it starts ({start})"));
        }
        self.offset(format!("{p}.start"), c.start);
        self.offset(format!("{p}.end"), c.end);
        if c.expect_error.is_some() {
            return; // the API is meant to refuse it: its mistakes are the point
        }
        self.automat(format!("{p}.automat"), c.automat);
        if c.keys.is_empty() {
            self.at(format!("{p}.keys"), "a contract needs at least one key");
        }
        for (j, k) in c.keys.iter().enumerate() {
            self.key(format!("{p}.keys[{j}]"), *k);
            if let Some(spec) = self.known.keys.get(k)
                && spec.automat != c.automat
                && self.known.automats.contains_key(&c.automat)
            {
                self.at(format!("{p}.keys[{j}]"), format!("key {k} is stored in automat {}", spec.automat));
            }
        }
        for (j, id) in c.contacts.iter().enumerate() {
            self.contact(format!("{p}.contacts[{j}]"), *id);
        }
        if let Some(pin) = &c.pin
            && controller::model::Pin::parse(pin).is_none()
        {
            let (min, max) = (controller::model::Pin::MIN_LEN, controller::model::Pin::MAX_LEN);
            // Not the PIN itself: a PIN stays out of every report.
            let n = pin.chars().count();
            let digits = if pin.chars().all(|c| c.is_ascii_digit()) { "" } else { ", not all digits" };
            self.at(
                format!("{p}.pin"),
                format!("a PIN is {min} to {max} digits; this is {n} characters{digits}"),
            );
        }
    }

    fn schedule(&mut self, s: &ScheduleSpec, p: &str) {
        if jiff::tz::TimeZone::get(&s.time_zone).is_err() {
            self.at(format!("{p}.time_zone"), format!("unknown IANA time zone {:?}", s.time_zone));
        }
        for (i, w) in s.windows.iter().enumerate() {
            for (j, d) in w.days.iter().enumerate() {
                if weekday(d).is_none() {
                    self.at(format!("{p}.windows[{i}].days[{j}]"), format!("{d:?} is not Mon, Tue, … Sun"));
                }
            }
            for (field, t) in [("from", &w.from), ("to", &w.to)] {
                if clock(t).is_none() {
                    self.at(format!("{p}.windows[{i}].{field}"), format!("{t:?} is not a time of day HH:MM"));
                }
            }
        }
    }
}
