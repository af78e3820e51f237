//! A rig's hooks: shell commands `hil` runs to cut and restore a board's supply (a relay, a
//! switchable USB hub) for a scenario's `PowerCut` and `PowerRestore`, and to reset or flash the
//! board before each scenario. Each run is a `Hook` note in the trace with its output; a hook
//! that fails fails the scenario (a board whose supply was not cut makes a power test meaningless).

use std::process::Command;

use sim::trace::LinkNote;

/// The commands, each run with `sh -c`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hooks {
    /// Cuts the board's supply.
    pub power_off: Option<String>,
    /// Restores it.
    pub power_on: Option<String>,
    /// Before each scenario.
    pub reset: Option<String>,
}

/// The most of a hook's output kept in the trace.
const OUTPUT_LIMIT: usize = 4096;

impl Hooks {
    /// Whether power is switched for real.
    pub fn switch_power(&self) -> bool {
        self.power_off.is_some() && self.power_on.is_some()
    }
}

/// Runs `command` for `hook`: the trace note, and why it failed, if it did.
pub fn run(hook: &str, command: &str) -> (LinkNote, Option<String>) {
    let result = Command::new("sh").arg("-c").arg(command).output();
    let (status, output, failed) = match result {
        Ok(o) => {
            let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&o.stderr));
            if text.len() > OUTPUT_LIMIT {
                let mut end = OUTPUT_LIMIT;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
                text.push('…');
            }
            let status =
                o.status.code().map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}"));
            let failed = !o.status.success();
            (status, text, failed)
        }
        Err(e) => (format!("could not start: {e}"), String::new(), true),
    };
    let why = failed.then(|| {
        let said = output.trim();
        let said = if said.is_empty() { String::new() } else { format!(": {said}") };
        format!("the {hook} hook `{command}` failed ({status}){said}")
    });
    (LinkNote::Hook { hook: hook.into(), command: command.into(), status, output }, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_s_output_and_status_are_kept_and_a_failure_is_named() {
        let (note, why) = run("power_off", "echo relay 2 off");
        assert_eq!(
            note,
            LinkNote::Hook {
                hook: "power_off".into(),
                command: "echo relay 2 off".into(),
                status: "exit 0".into(),
                output: "relay 2 off\n".into()
            }
        );
        assert_eq!(why, None);
        let (_, why) = run("power_on", "echo no relay >&2; exit 3");
        assert_eq!(
            why.as_deref(),
            Some("the power_on hook `echo no relay >&2; exit 3` failed (exit 3): no relay")
        );
    }
}
