//! Every line the automat's screen can show, as templates: `{}` stands for a name (a key's or
//! an automat's). Scenario files match screen lines by text; the simulator refuses a
//! `Display("…")` matcher that no line here can contain, so a typo cannot make a check
//! vacuous. A test in `sim` holds every line the scenario library shows to this list.

/// The templates.
pub const PROMPTS: &[&str] = &[
    "Keypad locked. Try again later.",
    "{} is out with another user.",
    "Nothing to take or return now.",
    "The key's slot is occupied: the return code cannot be used now.",
    "Wrong code.",
    "Too many wrong codes: keypad locked.",
    "This code has been revoked.",
    "Your contract has not started yet.",
    "Your contract has ended.",
    "Your contract does not allow access at this time.",
    "{} is not in this automat.",
    "Return {} at {}.",
    "Thank you.",
    "Please wait…",
    "Please take the wrong item back.",
    "Take {}.",
    "Hang {} on the hook.",
    "Please close the door.",
    "Thank you. Close the door, then return {}.",
    "{} is not in its slot. Staff have been told.",
    "Wrong key! Please take it back.",
    "Door not opened: {} stays where it is.",
    "{} was not taken.",
    "{} was not returned.",
    "A wrong key was left. Staff have been told.",
    "Out of order. Please contact staff.",
    "No free slot. Please contact staff.",
];

/// Whether `line` is a line the screen can show, with `{}` standing for any text.
pub fn is_prompt(line: &str) -> bool {
    PROMPTS.iter().any(|t| fits(t, line))
}

/// Whether `text` can be part of some screen line, given the names that may fill `{}`.
pub fn can_contain(text: &str, names: &[&str]) -> bool {
    PROMPTS.iter().any(|t| {
        let mut lines = vec![String::new()];
        for (i, part) in t.split("{}").enumerate() {
            if i > 0 {
                lines = lines.iter().flat_map(|l| names.iter().map(move |n| format!("{l}{n}"))).collect();
            }
            lines.iter_mut().for_each(|l| l.push_str(part));
        }
        lines.iter().any(|l| l.contains(text)) || t.split("{}").any(|part| part.contains(text))
    })
}

fn fits(template: &str, line: &str) -> bool {
    let parts: Vec<&str> = template.split("{}").collect();
    let Some((first, rest)) = parts.split_first() else { return false };
    let Some(mut tail) = line.strip_prefix(first) else { return false };
    for (i, part) in rest.iter().enumerate() {
        let last = i + 1 == rest.len();
        if last {
            return tail.len() >= part.len() && tail.ends_with(part);
        }
        match tail.find(part) {
            Some(at) => tail = &tail[at + part.len()..],
            None => return false,
        }
    }
    tail.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_names_fit_their_template() {
        assert!(is_prompt("Van 3 is out with another user."));
        assert!(is_prompt("Return Van 3 at Depot."));
        assert!(is_prompt("Wrong code."));
        assert!(!is_prompt("Wrong kode."));
    }

    #[test]
    fn a_fragment_is_found_in_a_template_or_a_filled_one() {
        assert!(can_contain("out with another user", &[]));
        assert!(can_contain("Van 3 is out", &["Van 3"]));
        assert!(!can_contain("Wrong kye", &["Van 3"]));
    }
}
