//! The `hil` command line against `hil virtual-board` on a PTY: probe, sniff, run, and what a
//! bad flag gets.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn hil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hil"))
}

/// `hil virtual-board` as a process, and the PTY path it printed.
struct Board(Child, String);

impl Board {
    fn start(args: &[&str]) -> Board {
        let mut child = hil()
            .arg("virtual-board")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("virtual board starts");
        let mut line = String::new();
        let out = child.stdout.take().expect("stdout");
        BufReader::new(out).read_line(&mut line).expect("prints its PTY");
        Board(child, line.trim().to_string())
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn probe_reports_identity_pairing_and_latency() {
    let board = Board::start(&["--board-id", "0x0B00BEEF"]);
    let key = "4b41484954455354524947204b4559204b41484954455354524947204b455921";
    let out =
        hil().args(["probe", "--port", &board.1, "--pings", "200", "--key", key]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("board id      0x0b00beef"), "{text}");
    assert!(text.contains("pairing       ok"), "{text}");
    assert!(text.contains("over 200 pings"), "{text}");
    let wrong = "00".repeat(32);
    let out =
        hil().args(["probe", "--port", &board.1, "--pings", "5", "--key", &wrong]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "a wrong key fails the pairing check");
}

#[test]
fn run_passes_a_scenario_with_line_faults_and_traces_the_bytes() {
    let board = Board::start(&[]);
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/bundle_minimal_travel.ron");
    let dir = tempfile::tempdir().expect("temp dir");
    let out = hil()
        .args(["run", "--port", &board.1, "--out"])
        .arg(dir.path())
        .args(["--fault", "corrupt=0.5%", scenario])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("1 passed, 0 failed"), "{text}");
    let trace =
        std::fs::read_to_string(dir.path().join("bundle-of-three-keys-in-minimal-travel-order/trace.jsonl"))
            .expect("trace");
    assert!(trace.contains("\"type\":\"bytes\",\"automat\":0,\"dir\":\"down\""), "line bytes in the trace");
}

#[test]
fn sniff_decodes_the_frames_a_board_sends() {
    // A board on its own clock keeps its links alive and sends heartbeats: frames to decode.
    let board = Board::start(&["--mode", "realtime"]);
    let out =
        hil().args(["sniff", "--port", &board.1, "--count", "3", "--seconds", "10"]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().all(|l| l.contains(" stream ") && l.contains(" seq ")), "{text}");
}

#[test]
fn bad_flags_and_missing_ports_exit_2_with_the_reason() {
    let out =
        hil().args(["run", "--port", "/dev/null", "--fault", "drop=2", "x.ron"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("drop=2: not a percentage"));
    let out = hil().args(["probe", "--port", "/dev/no-such-port"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/dev/no-such-port"));
    let out = hil().args(["probe", "--port", "/dev/null", "--key", "abc"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not 64 hex digits"));
}

#[test]
fn rig_mode_prompts_the_operator_and_reports_what_it_cannot_do_as_skipped() {
    use std::io::Write;
    let board = Board::start(&["--mode", "realtime"]);
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rig.ron");
    let junit = tempfile::NamedTempFile::new().expect("temp file");
    let mut child = hil()
        .args(["run", "--mode", "rig", "--port", &board.1, "--junit"])
        .arg(junit.path())
        .arg(scenario)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    // The operator confirms the take.
    child.stdin.take().expect("stdin").write_all(b"\n").expect("answer");
    let out = child.wait_with_output().expect("ends");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "skipped steps are not a pass: {stdout}");
    assert!(stderr.contains("alice: when the latch releases, open the door"), "prompted: {stderr}");
    assert!(stdout.contains("SKIP") && stdout.contains("Stall cannot be done on a rig"), "{stdout}");
    assert!(stdout.contains("1 with skipped steps"), "{stdout}");
    let xml = std::fs::read_to_string(junit.path()).expect("junit");
    assert!(xml.contains("<skipped"), "{xml}");
}
