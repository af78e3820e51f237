//! The `hil` command line against `hil virtual-board` on a PTY: probe, sniff, run, and what a
//! bad flag gets.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use support::{Board, hil};

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
fn sniff_names_a_board_s_boot_frames_as_the_trace_does() {
    // A lockstep board sends its boot frames and then waits for the harness's clock.
    let board = Board::start(&[]);
    let out =
        hil().args(["sniff", "--port", &board.1, "--count", "3", "--seconds", "5"]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // The message is the last column, after the ack field.
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(" ack ").and_then(|(_, rest)| rest.split_whitespace().nth(1)))
        .collect();
    assert_eq!(names, ["Booted", "LockCoil", "ReadSensors"], "{text}");
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

/// Where `secret` stands alone in `text` (no digit either side).
fn find(text: &str, secret: &str) -> Option<usize> {
    text.match_indices(secret).map(|(i, _)| i).find(|&i| {
        let b = text.as_bytes();
        (i == 0 || !b[i - 1].is_ascii_digit()) && b.get(i + secret.len()).is_none_or(|c| !c.is_ascii_digit())
    })
}

#[test]
fn a_hil_trace_holds_no_code_and_tells_what_the_simulator_does_but_the_line_bytes() {
    let board = Board::start(&[]);
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/happy_take_and_return.ron");
    let dir = tempfile::tempdir().expect("temp dir");
    let (on_hil, on_sim) = (dir.path().join("hil"), dir.path().join("sim"));
    let out = hil().args(["run", "--port", &board.1, "--out"]).arg(&on_hil).arg(file).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let scenario = sim::scenario::load_file(std::path::Path::new(file)).expect("loads");
    let options = sim::suite::SuiteOptions { jobs: 1, out: Some(on_sim.clone()), ..Default::default() };
    let results = sim::suite::run(&[(file.into(), scenario)], &options);
    assert!(results[0].outcome.passed);
    let case = "happy-take-and-return/trace.jsonl";

    // The PIN never crosses the host link: not in the trace, not in the bytes on the line.
    let trace = std::fs::read_to_string(on_hil.join(case)).expect("hil trace");
    assert!(trace.contains(r#""type":"bytes""#), "line bytes traced");
    let pin = "482916";
    let pin_hex: String = pin.bytes().map(|b| format!("{b:02x}")).collect();
    assert_eq!(find(&trace, pin), None, "the PIN is in the hil trace");
    assert!(!trace.contains(&pin_hex), "the PIN's ASCII is in the line bytes");
    assert!(!trace.contains(&format!("\"{pin}\"")));

    // `sim diff` reads a sim and a hil trace of the same scenario and says where they part:
    // the same verdict, but not yet the same story (the board over a PTY boots at once while the
    // simulated line delays its first frames, and a lockstep board's clock acknowledgements
    // are messages on its plant link).
    let ignore = ["bytes".to_string(), "link".to_string()];
    let report = sim::diff::diff(&on_sim.join(case), &on_hil.join(case), &ignore).expect("both read");
    assert!(report.text.contains("happy take and return seed 1, hil"), "{}", report.text);
    assert!(report.text.contains("verdict: the same (passed)"), "{}", report.text);
    assert!(!report.text.contains("only in A / only in B, by type:\n  bytes"), "bytes ignored");
    let all = sim::diff::diff(&on_sim.join(case), &on_hil.join(case), &[]).expect("both read");
    assert!(!all.same && all.text.contains("bytes"), "{}", all.text);
}

#[test]
fn junit_and_the_report_are_written_whatever_the_outcome_misfits_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let happy = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/happy_take_and_return.ron");
    // A 12-slot board fits no library automat: nothing runs, yet CI gets its JUnit.
    let junit = dir.path().join("none.xml");
    let o = hil()
        .args(["run", "--port", "/dev/null-no-such-port", "--slots", "12", "--junit"])
        .arg(&junit)
        .arg(happy)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no scenario fits the board"), "{stderr}");
    let xml = std::fs::read_to_string(&junit).expect("junit written though nothing ran");
    assert!(
        xml.contains("<skipped message=\"not run: no automat with 12 slots, as the board has\"/>"),
        "{xml}"
    );

    // A run on the virtual board: properties, and the HTML report beside the traces.
    let board = Board::start(&[]);
    let (junit, report) = (dir.path().join("run.xml"), dir.path().join("report.html"));
    let o = hil()
        .args(["run", "--port", &board.1, "--junit"])
        .arg(&junit)
        .arg("--report")
        .arg(&report)
        .arg(happy)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(
        xml.contains("<property name=\"seed\" value=\"1\"/>")
            && xml.contains("report.html#happy-take-and-return"),
        "{xml}"
    );
    let html = std::fs::read_to_string(&report).expect("report");
    assert!(
        html.contains("data-slug=\"happy-take-and-return\"") && html.contains("hil run"),
        "report of the hil run"
    );
    assert!(dir.path().join("report_files/happy-take-and-return/trace.jsonl").exists());
}

#[test]
fn two_jobs_on_a_pool_of_two_boards_take_one_each_and_a_third_reports_busy() {
    let (a, b) = (Board::start(&[]), Board::start(&[]));
    let dir = tempfile::tempdir().expect("temp dir");
    let map = dir.path().join("rig.ron");
    let text = format!(
        "(locks: {:?}, boards: [(name: \"bench-a\", port: {:?}, slots: 30), (name: \"bench-b\", port: {:?}, slots: 30)])",
        dir.path().join("locks"),
        a.1,
        b.1
    );
    std::fs::write(&map, text).expect("map written");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/happy_take_and_return.ron");
    // Two jobs that hold their boards for a few seconds: the scenario stuck until its time limit.
    let job = || {
        hil()
            .args(["run", "--pool"])
            .arg(&map)
            .args(["--hang", "happy take and return", "--timeout", "6s", scenario])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs")
    };
    let mut jobs = [job(), job()];
    let mut taken = Vec::new();
    for j in &mut jobs {
        let mut line = String::new();
        BufReader::new(j.stderr.take().expect("stderr")).read_line(&mut line).expect("says which board");
        taken.push(line);
    }
    assert!(taken.iter().all(|l| l.starts_with("hil: board bench-")), "{taken:?}");
    assert_ne!(taken[0].split(' ').nth(2), taken[1].split(' ').nth(2), "one board each: {taken:?}");
    let junit = dir.path().join("third.xml");
    let third = hil()
        .args(["run", "--pool"])
        .arg(&map)
        .args(["--pool-wait", "1s", "--junit"])
        .arg(&junit)
        .arg(scenario)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&third.stderr);
    assert_eq!(third.status.code(), Some(3), "{text}");
    for name in ["bench-a", "bench-b"] {
        assert!(text.contains(&format!("board {name} is busy (held by pid ")), "{text}");
    }
    let pids: Vec<String> = jobs.iter().map(|j| format!("pid {} since", j.id())).collect();
    assert!(pids.iter().all(|p| text.contains(p.as_str())), "the holders are named: {text}");
    assert!(text.contains("still so after waiting 1 s"), "{text}");
    let xml = std::fs::read_to_string(&junit).expect("JUnit written though nothing ran");
    assert!(xml.contains("<skipped message=\"not run: board bench-a is busy"), "{xml}");
    for mut j in jobs {
        assert_eq!(j.wait().expect("ends").code(), Some(1), "the stuck runs time out");
    }
    // Both boards are free again.
    let again = hil()
        .args(["run", "--pool"])
        .arg(&map)
        .args([
            "--board",
            "bench-b",
            "--pool-wait",
            "0s",
            "--hang",
            "happy take and return",
            "--timeout",
            "1s",
            scenario,
        ])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&again.stderr).contains("hil: board bench-b on"), "{again:?}");
    let unknown = hil()
        .args(["run", "--pool"])
        .arg(&map)
        .args(["--board", "bench-z", scenario])
        .output()
        .expect("runs");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("no board \"bench-z\" in the map (it has bench-a, bench-b)")
    );
}

#[test]
fn a_lockstep_library_run_with_a_power_hook_cuts_the_board_s_supply_for_the_power_scenarios() {
    let dir = tempfile::tempdir().expect("temp dir");
    let supply = dir.path().join("supply");
    let board = Board::start(&["--supply-file", supply.to_str().expect("utf-8")]);
    let library = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut power: Vec<_> = std::fs::read_dir(&library)
        .expect("the library")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            std::fs::read_to_string(p)
                .is_ok_and(|t| p.extension().is_some_and(|e| e == "ron") && t.contains("PowerCut"))
        })
        .collect();
    power.sort();
    assert!(power.len() >= 4, "the library's power-cut scenarios: {power:?}");
    let out = dir.path().join("out");
    let run = hil()
        .args(["run", "--port", &board.1, "--out"])
        .arg(&out)
        .arg("--power-off-cmd")
        .arg(format!("echo off > {}; echo relay open", supply.display()))
        .arg("--power-on-cmd")
        .arg(format!("echo on > {}", supply.display()))
        .args(&power)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&run.stderr));
    assert!(text.contains(&format!("{} passed, 0 failed", power.len())), "{text}");
    for entry in std::fs::read_dir(&out).expect("out").filter_map(Result::ok) {
        let Ok(trace) = std::fs::read_to_string(entry.path().join("trace.jsonl")) else { continue };
        assert!(
            trace.contains("\"hook\":\"power_off\"") && trace.contains("\"output\":\"relay open\\n\""),
            "the hook's run is traced"
        );
        assert!(trace.contains("\"hook\":\"power_on\""));
        // While its supply is cut the board sends nothing: the hook, not the plant's report, cut it.
        let (mut cut, mut while_cut, mut after) = (false, 0, 0);
        for line in trace.lines() {
            if line.contains("\"change\":{\"kind\":\"PowerCut\"}") {
                cut = true;
            } else if line.contains("\"change\":{\"kind\":\"PowerRestored\"}") {
                cut = false;
            } else if line.contains("\"type\":\"bytes\"") && line.contains("\"dir\":\"up\"") {
                if cut { while_cut += 1 } else { after += 1 }
            }
        }
        assert_eq!(while_cut, 0, "{}: the board spoke while cut off", entry.path().display());
        assert!(after > 0);
    }
    // A hook that fails fails the scenario with its output.
    let run = hil()
        .args([
            "run",
            "--port",
            &board.1,
            "--power-off-cmd",
            "echo relay stuck; exit 4",
            "--power-on-cmd",
            "true",
        ])
        .arg(&power[0])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{text}");
    assert!(
        text.contains("the power_off hook `echo relay stuck; exit 4` failed (exit 4): relay stuck"),
        "{text}"
    );
}
