//! What CI leans on, from the command line: tags, `--rerun-failed`, `--timeout`, hash shards,
//! `--list`, and JUnit's properties, lead-up and skipped cases.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim"))
}

fn library(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A directory with the happy scenario (tag `smoke`), the forged unlock (`security`,
/// `protocol`) and, with `failing`, an overdue alert expected at the wrong time.
fn suite_dir(failing: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["happy_take_and_return.ron", "forged_unlock_refused.ron"] {
        std::fs::copy(library(name), dir.path().join(name)).expect("copied");
    }
    if failing {
        let src = std::fs::read_to_string(library("overdue_alert.ron")).expect("readable");
        let bad =
            src.replace("after: \"2h 15m\", before: \"2h 15m 1s\"", "after: \"2h\", before: \"2h 10m\"");
        assert_ne!(src, bad);
        std::fs::write(dir.path().join("overdue_alert.ron"), bad).expect("written");
    }
    dir
}

#[test]
fn tags_select_and_exclude_and_an_unknown_tag_is_refused() {
    let dir = suite_dir(false);
    let junit = dir.path().join("j.xml");
    let o = sim()
        .args(["run", "--tag", "security", "--junit"])
        .arg(&junit)
        .arg(dir.path())
        .output()
        .expect("runs");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("forged unlock frame refused") && t.contains("1 passed, 0 failed, 1 not run"), "{t}");
    assert!(
        t.contains("not run: happy take and return (has none of the tags asked for (--tag security))"),
        "{t}"
    );
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(xml.contains("<skipped message=\"not run: has none of the tags asked for"), "{xml}");
    assert!(xml.contains("<property name=\"tags\" value=\"security,protocol\"/>"), "{xml}");

    let o = sim().args(["run", "--exclude-tag", "protocol"]).arg(dir.path()).output().expect("runs");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("not run: forged unlock frame refused (excluded by --exclude-tag protocol)"), "{t}");

    for flag in ["--tag", "--exclude-tag"] {
        let o = sim().args(["run", flag, "securty"]).arg(dir.path()).output().expect("runs");
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{t}");
        assert!(t.contains("no scenario has this tag (did you mean \"security\"?)"), "{t}");
    }
    let o = sim().args(["run", "--tag", "Bad Tag"]).arg(dir.path()).output().expect("runs");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn rerun_failed_runs_what_failed_and_junit_tells_why() {
    let dir = suite_dir(true);
    let (out, junit) = (dir.path().join("out"), dir.path().join("j.xml"));
    let o = sim()
        .args(["run", "--out"])
        .arg(&out)
        .arg("--junit")
        .arg(&junit)
        .arg(dir.path())
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let xml = std::fs::read_to_string(&junit).expect("junit");
    for wanted in [
        "<property name=\"seed\" value=\"7\"/>",
        "<property name=\"simulated_s\"",
        "overdue-alert/trace.jsonl\"/>",
        "<system-out>the last",
        "events up to the first failure (at 02:10:00.000)",
        "KeyFetched key 1",
    ] {
        assert!(xml.contains(wanted), "{wanted:?} not in {xml}");
    }

    let again = dir.path().join("again");
    let o = sim().args(["run", "--rerun-failed"]).arg(&out).arg("--out").arg(&again).output().expect("runs");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("overdue alert") && t.contains("0 passed, 1 failed"), "{t}");
    assert!(!t.contains("happy take and return"), "{t}");
    assert!(
        again.join("overdue-alert/summary.json").exists() && !again.join("happy-take-and-return").exists()
    );

    // Where nothing failed there is nothing to do; where no run was, that is an error.
    let fine = dir.path().join("fine");
    let o = sim().args(["run", "--tag", "smoke", "--out"]).arg(&fine).arg(dir.path()).output().expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = sim().args(["run", "--rerun-failed"]).arg(&fine).output().expect("runs");
    assert!(o.status.code() == Some(0) && text(&o).contains("nothing failed"), "{}", text(&o));
    let o = sim().args(["run", "--rerun-failed"]).arg(dir.path()).output().expect("runs");
    assert!(o.status.code() == Some(2) && text(&o).contains("not the --out of a run"), "{}", text(&o));
}

#[test]
fn a_stuck_run_times_out_with_its_trace_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, junit) = (dir.path().join("out"), dir.path().join("j.xml"));
    let o = sim()
        .args(["run", "--timeout", "1s", "--hang", "happy take and return", "--out"])
        .arg(&out)
        .arg("--junit")
        .arg(&junit)
        .arg(library("happy_take_and_return.ron"))
        .arg(library("forged_unlock_refused.ron"))
        .output()
        .expect("runs");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("00:01:00.000: timed out: still running after 1."), "{t}");
    assert!(t.contains("1 passed, 1 failed"), "the other scenario ran: {t}");
    let trace = std::fs::read_to_string(out.join("happy-take-and-return/trace.jsonl")).expect("trace kept");
    let last = trace.lines().last().unwrap_or_default();
    assert!(last.contains("\"type\":\"end\",\"passed\":false") && last.contains("timed out"), "{last}");
    assert!(trace.contains("\"type\":\"step\""), "the trace holds the run up to the moment");
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(xml.contains("type=\"timeout\""), "{xml}");
    // Without the hook the same scenario passes well within the limit.
    let o = sim()
        .args(["run", "--timeout", "60s"])
        .arg(library("happy_take_and_return.ron"))
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

fn listed(args: &[&str]) -> Vec<String> {
    let o = sim().args(["run", "--list"]).args(args).arg(library("")).output().expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).lines().map(String::from).collect()
}

#[test]
fn hash_shards_split_the_library_exactly_once() {
    let mut all = listed(&[]);
    assert!(all.len() >= 30, "{all:?}");
    let mut union = Vec::new();
    for k in 1..=3 {
        let shard = listed(&["--shard", &format!("hash:{k}/3")]);
        assert!(!shard.is_empty() && shard.len() < all.len(), "shard {k}: {shard:?}");
        union.extend(shard);
    }
    all.sort();
    union.sort();
    assert_eq!(union, all, "the three shards together are the library, each scenario once");
    let o = sim().args(["run", "--list", "--shard", "2/3"]).arg(library("")).output().expect("runs");
    assert!(o.status.code() == Some(2) && text(&o).contains("hash:k/n"), "{}", text(&o));
}
