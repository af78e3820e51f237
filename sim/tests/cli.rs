//! The `sim` command line: exit codes, the results table, JUnit and `--out`.

use std::path::Path;
use std::process::Command;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim"))
}

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name).display().to_string()
}

#[test]
fn a_passing_scenario_exits_0_and_writes_junit_trace_images_and_summary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let junit = dir.path().join("junit.xml");
    let out = dir.path().join("out");
    let output = sim()
        .args(["run", "--jobs", "1", "--junit"])
        .arg(&junit)
        .arg("--out")
        .arg(&out)
        .arg(scenario("happy_take_and_return.ron"))
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("happy take and return") && stdout.contains("1 passed, 0 failed"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(xml.contains("testcase") && xml.contains("happy take and return"), "{xml}");
    let case = out.join("happy-take-and-return");
    let trace = std::fs::read_to_string(case.join("trace.jsonl")).expect("trace written");
    assert!(trace.starts_with("{\"format\":\"key-automat-trace\",\"version\":2"), "{}", &trace[..80]);
    assert!(trace.contains("\"type\":\"end\",\"passed\":true"));
    let pngs = std::fs::read_dir(case.join("images")).expect("images").count();
    assert!(pngs >= 4, "user photos and before/after images: {pngs}");
    assert!(case.join("summary.json").exists());
}

#[test]
fn a_failing_expectation_exits_1_with_its_time_in_junit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = std::fs::read_to_string(scenario("overdue_alert.ron")).expect("readable");
    let bad = src.replace("after: \"2h 15m\", before: \"2h 15m 1s\"", "after: \"2h\", before: \"2h 10m\"");
    assert_ne!(src, bad);
    let file = dir.path().join("bad.ron");
    std::fs::write(&file, bad).expect("written");
    let junit = dir.path().join("j.xml");
    let output = sim().args(["run", "--junit"]).arg(&junit).arg(&file).output().expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(xml.contains("failure") && xml.contains("expected Alert(Overdue, key 1)"), "{xml}");
}

#[test]
fn bad_input_exits_2_and_names_the_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("typo.ron");
    std::fs::write(&file, "Scenario(\n  name: \"t\",\n  automats: [(id: 1)],\n  timelime: [],\n)")
        .expect("written");
    for args in [vec!["check"], vec!["run"]] {
        let output = sim().args(&args).arg(&file).output().expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("typo.ron:4:3") && stderr.contains("timelime"), "{stderr}");
    }
    let output = sim().args(["run", "--shard", "0/2", "x.ron"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let output = sim().args(["run"]).arg(dir.path().join("missing.ron")).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn check_accepts_every_scenario_in_the_library() {
    let output = sim().arg("check").arg(scenario("")).output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn swarm_runs_seeds_and_reports_their_rate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = sim()
        .args(["swarm", "--seeds", "12", "--from", "100", "--jobs", "2", "--out"])
        .arg(dir.path())
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("12 seeds (100..112), 0 failed") && stdout.contains("seeds/minute"), "{stdout}");
    assert_eq!(std::fs::read_dir(dir.path()).map(|d| d.count()).unwrap_or(0), 0, "no reproducers");
}

#[test]
fn diff_says_equivalent_different_or_bad_input_by_its_exit_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |seed: &str, name: &str| {
        let out = dir.path().join(name);
        let status = sim()
            .args(["run", "--jobs", "1", "--seed", seed, "--out"])
            .arg(&out)
            .arg(scenario("noisy_host_link.ron"))
            .output()
            .expect("runs");
        assert_eq!(status.status.code(), Some(0));
        out.join("corrupted-bytes-and-a-2-s-drop-on-the-host-link")
    };
    let (a, again, b) = (run("1", "a"), run("1", "again"), run("2", "b"));
    let diff = |args: &[&std::ffi::OsStr]| sim().arg("diff").args(args).output().expect("diff runs");

    let same = diff(&[a.as_os_str(), again.as_os_str()]);
    let text = String::from_utf8_lossy(&same.stdout);
    assert_eq!(same.status.code(), Some(0), "{text}");
    assert!(text.contains("equivalent"), "{text}");

    // Two seeds of a fault scenario: the corruption hits other bytes, so the stories part.
    let other = diff(&[a.as_os_str(), b.as_os_str()]);
    let text = String::from_utf8_lossy(&other.stdout);
    assert_eq!(other.status.code(), Some(1), "{text}");
    assert!(
        text.contains("first divergence at event") && text.contains("  A ") && text.contains("  B "),
        "{text}"
    );
    assert!(
        text.contains("events only in A / only in B, by type") && text.contains("verdict: the same (passed)"),
        "{text}"
    );

    let bad = diff(&[a.as_os_str(), "--ignore".as_ref(), "bites".as_ref(), b.as_os_str()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--ignore \"bites\": not an event type"));
    let not_trace = dir.path().join("x.jsonl");
    std::fs::write(&not_trace, "{\"format\":\"key-automat-trace\",\"version\":1}\n").expect("write");
    let bad = diff(&[a.as_os_str(), not_trace.as_os_str()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("x.jsonl:1:"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
