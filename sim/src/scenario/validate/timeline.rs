//! Checks of the timeline (steps in order, what each step names) and of the expectations
//! (every matcher can match something this scenario has).

use super::super::*;
use super::{Checker, MAX_INJECT, hex_bytes};
use crate::scenario::load::tag;

impl Checker<'_> {
    pub(super) fn timeline(&mut self) {
        let s = self.s;
        let mut last = Offset::default();
        for (i, step) in s.timeline.iter().enumerate() {
            let p = format!("timeline[{i}]");
            if step.at < last {
                let msg = format!(
                    "at {} comes before the previous step's {last}: keep the timeline in time order",
                    step.at
                );
                self.at(format!("{p}.at"), msg);
            }
            last = last.max(step.at);
            self.offset(format!("{p}.at"), Some(step.at));
            if let Some(d) = s.duration
                && step.at > d
            {
                self.at(
                    format!("{p}.at"),
                    format!("at {} is after the scenario's end ({d}): it would never run", step.at),
                );
            }
            self.step(&step.action, &format!("{p}.do"));
        }
    }

    fn step(&mut self, action: &Action, p: &str) {
        match action {
            Action::Take { user, code } => {
                self.user(format!("{p}.user"), user);
                self.code(code, &format!("{p}.code"));
            }
            Action::Return { user, code, item, then, .. } => {
                self.user(format!("{p}.user"), user);
                self.code(code, &format!("{p}.code"));
                self.item(user, item, format!("{p}.item"));
                if let Some(then) = then {
                    self.item(user, then, format!("{p}.then"));
                }
            }
            Action::Press { user, keys } => {
                self.user(format!("{p}.user"), user);
                if keys.is_empty() || !keys.chars().all(|c| c.is_ascii_digit() || "*#C".contains(c)) {
                    self.at(
                        format!("{p}.keys"),
                        "the keypad has only 0-9, *, # (Enter) and C (and something must be pressed)",
                    );
                }
            }
            Action::OpenDoor { user, .. }
            | Action::CloseDoor { user }
            | Action::TakeKey { user }
            | Action::Grab { user } => self.user(format!("{p}.user"), user),
            Action::Hang { user, item } => {
                self.user(format!("{p}.user"), user);
                self.item(user, item, format!("{p}.item"));
            }
            Action::Give { from, to, key } => {
                self.user(format!("{p}.from"), from);
                self.user(format!("{p}.to"), to);
                self.key(format!("{p}.key"), *key);
            }
            Action::CreateContract(c) => self.contract(c, p),
            Action::DeleteContract { name, .. } | Action::RegeneratePin { name } => {
                self.contract_ref(name, format!("{p}.name"))
            }
            Action::RevokeContact { contact } => self.contact(format!("{p}.contact"), *contact),
            Action::Reservation(r) => self.reservation(r, p),
            _ => self.device_step(action, p),
        }
    }

    /// Steps about an automat's mechanics, sensors or line.
    fn device_step(&mut self, action: &Action, p: &str) {
        let automat = match action {
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
            | Action::InjectForgedUnlock { automat }
            | Action::CaptureFrame { automat, .. }
            | Action::ReplayFrame { automat, .. }
            | Action::InjectBytes { automat, .. } => *automat,
            _ => return,
        };
        self.automat(format!("{p}.automat"), automat);
        match action {
            Action::Stall { duration, .. } => self.offset(format!("{p}.for"), *duration),
            Action::DropHostLine { duration, .. } => self.offset(format!("{p}.for"), Some(*duration)),
            Action::HostLine { line, .. } => self.line(&format!("{p}.line"), line),
            Action::TagReader { fault: TagFaultSpec::WrongRead(t), .. } if tag(t).is_none() => {
                self.at(format!("{p}.fault"), format!("{t:?} is not hex of 1 to 16 digits"));
            }
            Action::CaptureFrame { name, .. } if self.captures.insert(name.clone(), automat).is_some() => {
                self.at(format!("{p}.name"), format!("a frame is already captured as {name:?}"));
            }
            Action::ReplayFrame { name, .. } => match self.captures.get(name) {
                None => self.at(format!("{p}.name"), format!("no CaptureFrame named {name:?} comes before")),
                Some(a) if *a != automat => {
                    self.at(format!("{p}.automat"), format!("{name:?} is captured on automat {a}'s line"))
                }
                Some(_) => {}
            },
            Action::InjectBytes { hex, .. } => match hex_bytes(hex) {
                None => self.at(format!("{p}.hex"), "not hex bytes (pairs of 0-9a-f)"),
                Some(b) if b.len() > MAX_INJECT => {
                    self.at(format!("{p}.hex"), format!("{} bytes: at most {MAX_INJECT}", b.len()))
                }
                Some(_) => {}
            },
            _ => {}
        }
    }

    fn code(&mut self, code: &Code, p: &str) {
        match code {
            Code::Pin(pin)
                if pin.is_empty() || pin.len() > 16 || !pin.chars().all(|c| c.is_ascii_digit()) =>
            {
                self.at(format!("{p}[0]"), "a typed PIN is 1 to 16 digits");
            }
            Code::ReturnCode(rc) if controller::model::ReturnCode::parse(rc).is_none() => {
                self.at(format!("{p}[0]"), "a return code is four digits");
            }
            Code::ContractPin(name) => self.contract_ref(name, format!("{p}[0]")),
            _ => {}
        }
    }

    /// A contract handle, which must be created by then.
    fn contract_ref(&mut self, name: &str, path: String) {
        if !self.contracts.contains(name) {
            let known: Vec<&str> = self.contracts.iter().map(String::as_str).collect();
            let hint = names::hint(name, &known, "; ");
            self.at(path, format!("no contract {name:?} is created before this step{hint}"));
        }
    }

    fn item(&mut self, user: &str, item: &ItemRef, path: String) {
        match item {
            ItemRef::Key(k) => self.key(path, *k),
            ItemRef::Item(name) => {
                let carried =
                    self.known.users.get(user).is_some_and(|u| u.carries.iter().any(|(n, _)| n == name));
                if !carried {
                    self.at(path, format!("{user:?} carries no item {name:?} (see users[..].carries)"));
                }
            }
        }
    }

    fn reservation(&mut self, r: &ReservationSpec, p: &str) {
        for name in [r.name.clone(), format!("{}/fetch", r.name), format!("{}/return", r.name)] {
            self.contracts.insert(name);
        }
        for (j, c) in r.contacts.iter().enumerate() {
            self.contact(format!("{p}.contacts[{j}]"), *c);
        }
        if !self.known.groups.contains(&r.group) {
            self.at(format!("{p}.group"), format!("no device group {}", r.group));
        }
        if r.end <= r.start {
            self.at(format!("{p}.end"), format!("ends ({}) before it starts ({})", r.end, r.start));
        }
        self.offset(format!("{p}.end"), Some(r.end));
        if let Some(near) = r.near {
            self.location(format!("{p}.near"), near);
        }
        if let Some(a) = r.expect_automat {
            self.automat(format!("{p}.expect_automat"), a);
        }
    }

    pub(super) fn expectations(&mut self) {
        let e = &self.s.expect;
        for (i, ev) in e.events.iter().enumerate() {
            let p = format!("expect.events[{i}]");
            self.matcher(&ev.event, &format!("{p}.event"));
            self.window(&p, ev.after, ev.before);
            if ev.count.is_some() && (ev.at_least.is_some() || ev.at_most.is_some()) {
                self.at(format!("{p}.count"), "give count, or at_least/at_most, not both");
            }
            if let (Some(lo), Some(hi)) = (ev.at_least, ev.at_most)
                && lo > hi
            {
                self.at(format!("{p}.at_most"), format!("at_most {hi} is below at_least {lo}"));
            }
        }
        for (i, n) in e.never.iter().enumerate() {
            let p = format!("expect.never[{i}]");
            let (m, after, before) = n.parts();
            let mp = match n {
                Never::Always(_) => p.clone(),
                Never::Within(_) => format!("{p}.event"),
            };
            self.matcher(m, &mp);
            self.window(&p, after, before);
        }
        if let Some(f) = &e.end {
            self.end_state(f);
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, inv) in e.broken.iter().enumerate() {
            if !seen.insert(*inv) {
                self.at(format!("expect.broken[{i}]"), format!("{inv:?} is listed twice"));
            }
        }
    }

    fn window(&mut self, p: &str, after: Option<Offset>, before: Option<Offset>) {
        if let (Some(a), Some(b)) = (after, before)
            && b < a
        {
            self.at(
                format!("{p}.before"),
                format!("the window closes ({b}) before it opens ({a}): nothing can match"),
            );
        }
        self.offset(format!("{p}.after"), after);
        self.offset(format!("{p}.before"), before);
    }

    fn matcher(&mut self, m: &Matcher, p: &str) {
        if let Matcher::Audit { kind, reason: Some(_), .. } = m
            && kind.name() != "CodeRefused"
        {
            self.at(format!("{p}.reason"), format!("only a CodeRefused has a reason, not a {kind}"));
        }
        match m {
            Matcher::Audit { key: Some(k), .. }
            | Matcher::Alert { key: Some(k), .. }
            | Matcher::AlertCleared { key: Some(k), .. } => self.key(format!("{p}.key"), *k),
            Matcher::Display(text)
                if (text.is_empty() || !controller::prompts::can_contain(text, &self.known.names)) =>
            {
                self.at(format!("{p}[0]"), format!("no line the automat's screen shows contains {text:?}"));
            }
            Matcher::Took { user, key } | Matcher::Hung { user, key, .. } => {
                if let Some(u) = user {
                    self.user(format!("{p}.user"), u);
                }
                if let Some(k) = key {
                    self.key(format!("{p}.key"), *k);
                }
                if let (Matcher::Hung { item: Some(item), .. }, Some(u)) = (m, user) {
                    self.item(u, &ItemRef::Item(item.clone()), format!("{p}.item"));
                }
            }
            Matcher::AnyOf(ms) => {
                if ms.is_empty() {
                    self.at(p.to_string(), "AnyOf([]) can match nothing");
                }
                for (i, m) in ms.iter().enumerate() {
                    self.matcher(m, &format!("{p}[{i}]"));
                }
            }
            _ => {}
        }
    }

    fn end_state(&mut self, f: &Final) {
        for (i, (key, place)) in f.keys.iter().enumerate() {
            let p = format!("expect.final.keys[{i}]");
            self.key(format!("{p}[0]"), *key);
            match place {
                Place::Slot(a, s) => match self.known.automats.get(a).copied() {
                    None => self.automat(format!("{p}[1]"), *a),
                    Some(n) if *s >= n => {
                        self.at(format!("{p}[1]"), format!("automat {a} has slots 0..={}", n - 1))
                    }
                    Some(_) => {}
                },
                Place::HeldBy(u) => self.user(format!("{p}[1][0]"), u),
                Place::Held => {}
            }
        }
        for (i, (a, _)) in f.doors.iter().enumerate() {
            self.automat(format!("expect.final.doors[{i}][0]"), *a);
        }
    }
}
