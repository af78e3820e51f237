//! Rig mode: the plant is real and a person at the rig performs the users' physical steps when
//! asked; steps nobody can perform on a rig (plant faults; power, unless the rig has a power
//! hook) are skipped and reported.

use super::{Run, first_word, fmt_time};
use crate::scenario::{Action, Code, OnWrong};
use crate::trace::TraceEvent;

impl Run {
    /// A step for the person, or one nobody can perform on a rig (skipped), or `false` for one
    /// the harness performs as usual (API calls, cameras, the line).
    pub(super) fn rig_step(&mut self, action: &Action) -> bool {
        let ask = |run: &mut Self, text: String| {
            let at = fmt_time(run.now);
            if let Some(o) = run.operator.as_mut() {
                o.ask(&at, &text);
            }
            run.asked = Some(text);
        };
        // The keypad is the host's: the harness types, the person does the rest.
        let typed = |run: &mut Self, user: &str, code: &Code| run.type_only(user, code);
        match action {
            Action::Take { user, code } => {
                typed(self, user, code);
                ask(
                    self,
                    format!(
                        "{user}: when the latch releases, open the door, take what is presented, close the door"
                    ),
                );
            }
            Action::Return { user, code, item, on_wrong, then } => {
                typed(self, user, code);
                let wrong = match (on_wrong, then) {
                    (OnWrong::TakeBack, Some(then)) => {
                        format!("; if told it is wrong, take it back and hang {then:?}")
                    }
                    (OnWrong::TakeBack, None) => "; if told it is wrong, take it back".into(),
                    (OnWrong::Leave, _) => "; if told it is wrong, leave it there".into(),
                };
                ask(
                    self,
                    format!(
                        "{user}: when the latch releases, open the door, hang {item:?}, close the door{wrong}"
                    ),
                );
            }
            Action::Press { user, keys } => self.type_keys(user, keys),
            Action::OpenDoor { user, force } => {
                let how = if *force { "break the door open" } else { "open the door" };
                ask(self, format!("{user}: {how}"));
            }
            Action::CloseDoor { user } => ask(self, format!("{user}: close the door")),
            Action::TakeKey { user } | Action::Grab { user } => {
                ask(self, format!("{user}: take what hangs at the window"))
            }
            Action::Hang { user, item } => ask(self, format!("{user}: hang {item:?} at the window")),
            Action::Give { from, to, key } => ask(self, format!("{from}: hand key {key} to {to}")),
            // A rig with a power hook cuts the board's supply for real: done as in any run.
            Action::PowerCut { .. } | Action::PowerRestore if self.electronics.switches_power() => {
                return false;
            }
            Action::Stall { .. }
            | Action::ClearStall { .. }
            | Action::LoseSteps { .. }
            | Action::EncoderNoise { .. }
            | Action::Latch { .. }
            | Action::TagReader { .. }
            | Action::PowerCut { .. }
            | Action::PowerRestore
            | Action::Mains { .. }
            | Action::Tamper { .. } => {
                let text = format!(
                    "{}: {} cannot be done on a rig (the plant is real)",
                    fmt_time(self.now),
                    first_word(&format!("{action:?}"))
                );
                self.emit(TraceEvent::User { user: "operator".into(), act: format!("skipped: {text}") });
                self.skipped.push(text);
            }
            _ => return false,
        }
        true
    }
}
