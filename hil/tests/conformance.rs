//! `hil conformance` against `hil virtual-board`: the reference passes every rule, a board that
//! breaks one on purpose fails that rule with its section; and the line tools a vendor uses
//! before a run (sniff, probe) leave a board that follows the spec ready for the next.

mod support;

use std::process::Output;

use support::{Board, hil};

fn conformance(board: &Board, extra: &[&str]) -> (Option<i32>, String) {
    let out: Output = hil().args(["conformance", "--port", &board.1]).args(extra).output().expect("runs");
    (
        out.status.code(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

/// The table's rows: (rule, section, verdict).
fn rows(table: &str) -> Vec<(String, String, String)> {
    table
        .lines()
        .skip(1)
        .filter(|l| l.contains('§'))
        .map(|l| {
            let (rule, rest) = l.split_at(l.find('§').expect("a section"));
            let (section, verdict) = rest.split_at(rest.find("  ").unwrap_or(rest.len()));
            (rule.trim().to_string(), section.trim().to_string(), verdict.trim().to_string())
        })
        .collect()
}

#[test]
fn the_reference_board_keeps_every_rule_power_included() {
    let dir = tempfile::tempdir().expect("temp dir");
    let supply = dir.path().join("supply");
    let supply = supply.to_str().expect("utf-8 path");
    let board = Board::start(&["--supply-file", supply]);
    let off = format!("echo off > {supply}");
    let on = format!("echo on > {supply}");
    let (code, text) = conformance(&board, &["--power-off-cmd", &off, "--power-on-cmd", &on]);
    assert_eq!(code, Some(0), "{text}");
    let rows = rows(&text);
    assert_eq!(rows.len(), 15, "{text}");
    for (rule, section, verdict) in &rows {
        assert_eq!(verdict, "pass", "{rule} ({section}):\n{text}");
    }
    for section in ["§4.3", "§5 §6.5", "§6.3", "§7.2", "§7.4", "§7.5", "§7.6", "§7.7", "§7.8", "§8.3"]
    {
        assert!(rows.iter().any(|(_, s, _)| s.contains(section)), "no rule of {section}:\n{text}");
    }
    assert!(text.ends_with("15 rules: 15 passed, 0 failed, 0 not run\n"), "{text}");
}

#[test]
fn without_power_hooks_the_power_cut_is_not_run_and_says_why() {
    let board = Board::start(&[]);
    let (code, text) = conformance(&board, &[]);
    assert_eq!(code, Some(0), "a rule the rig cannot try is no failure:\n{text}");
    let power = rows(&text).into_iter().find(|(r, _, _)| r == "power off and on").expect("the power rule");
    assert!(power.2.starts_with("not run: no power hooks"), "{power:?}");
}

#[test]
fn a_board_that_ignores_the_restart_rule_fails_it_with_its_section() {
    let board = Board::start(&["--flaw", "restart"]);
    let (code, text) = conformance(&board, &[]);
    assert_eq!(code, Some(1), "{text}");
    let restart =
        rows(&text).into_iter().find(|(r, _, _)| r == "lockstep start and restart").expect("the rule");
    assert_eq!(restart.1, "§8.3", "{text}");
    assert!(
        restart.2.starts_with("FAIL: a clock message from a new harness stream did not restart"),
        "{restart:?}"
    );
}

#[test]
fn a_board_whose_ack_forgets_its_link_timers_fails_only_that_rule() {
    let board = Board::start(&["--flaw", "deadline"]);
    let (code, text) = conformance(&board, &[]);
    assert_eq!(code, Some(1), "{text}");
    for (rule, section, verdict) in rows(&text) {
        if rule == "lockstep clock and deadlines" {
            assert_eq!(section, "§8.3");
            assert!(verdict.contains("within the 250 ms keepalive"), "{verdict}");
        } else {
            assert!(verdict == "pass" || verdict.starts_with("not run"), "{rule}: {verdict}\n{text}");
        }
    }
}

#[test]
fn a_wrong_board_id_fails_the_handshake_and_the_probe() {
    let board = Board::start(&["--board-id", "0x0B00BEEF"]);
    let (code, text) = conformance(&board, &["--board-id", "0x0B000001"]);
    assert_eq!(code, Some(1), "{text}");
    let hs = rows(&text).into_iter().next().expect("the handshake row");
    assert!(hs.2.contains("the board says it is 0x0b00beef; it was paired as 0x0b000001"), "{hs:?}");
    let out = hil()
        .args(["probe", "--port", &board.1, "--pings", "3", "--board-id", "0x0B000001"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("MISMATCH: paired as 0x0b000001"), "{text}");
}

/// The sniff reads the board's boot frames and acknowledges nothing, the probe after it meets a
/// board whose clock stands still (§4.3 brings them again), and a run after the probe meets a
/// board whose plant frames the probe read and never acknowledged. The board here does not
/// restart on a new harness (a board built to the spec alone may not), so the link rule is
/// what carries each step.
#[test]
fn sniff_then_probe_then_run_work_on_a_board_that_does_not_restart() {
    let board = Board::start(&["--flaw", "restart"]);
    let out = hil().args(["sniff", "--port", &board.1, "--count", "3"]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Booted") && text.contains("ReadSensors"), "{text}");
    let out = hil().args(["probe", "--port", &board.1, "--pings", "20"]).output().expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/bundle_minimal_travel.ron");
    let out = hil().args(["run", "--port", &board.1, scenario]).output().expect("runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("1 passed, 0 failed"), "{text}");
}

/// Hooks that switch nothing: the board keeps talking while its supply should be cut, the
/// power rule fails, and the power-on hook runs all the same.
#[test]
fn a_power_hook_that_cuts_nothing_fails_the_power_rule_and_the_supply_comes_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let supply = dir.path().join("supply");
    let board = Board::start(&["--supply-file", supply.to_str().expect("utf-8 path")]);
    let ran = dir.path().join("on-ran");
    let on = format!("echo yes > {}", ran.display());
    let (code, text) = conformance(&board, &["--power-off-cmd", "true", "--power-on-cmd", &on]);
    assert_eq!(code, Some(1), "{text}");
    let power = rows(&text).into_iter().find(|(r, _, _)| r == "power off and on").expect("the power rule");
    assert!(power.2.contains("frames arrived while the supply was cut"), "{power:?}");
    assert!(ran.exists(), "the power-on hook ran after the failed check");
    let (code, text) = conformance(&board, &["--power-on-cmd", "true"]);
    assert_eq!(code, Some(2), "one hook without the other: {text}");
    assert!(text.contains("--power-off-cmd and --power-on-cmd go together"), "{text}");
}
