//! `sim check` on broken scenarios: every file under `tests/bad/` holds one mistake, with
//! `/*!*/` written just before the faulty value. Each must be refused (exit 2 from the CLI)
//! with an error whose span starts at that value and whose message names the field; the
//! rendered diagnostics are kept as a snapshot. Inputs that are not scenario files (a directory
//! loop, a FIFO, a device, a huge file, a missing path, two scenarios of one name) are made
//! here, since git cannot hold them.

use std::path::{Path, PathBuf};
use std::process::Command;

use sim::scenario::{LoadError, load_file, load_str};

const MARK: &str = "/*!*/";

fn bad_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/bad")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    files
}

fn render(e: &LoadError) -> String {
    let mut out = String::new();
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor()).with_width(110);
    handler.render_report(&mut out, e).expect("renders");
    out
}

#[test]
fn every_broken_file_is_refused_at_its_faulty_value() {
    let files = bad_files();
    assert!(files.len() >= 25, "{} kinds of mistake", files.len());
    let mut rendered = String::new();
    for f in &files {
        let src = std::fs::read_to_string(f).expect("readable");
        let mark = src.find(MARK).expect("each file marks its faulty value") + MARK.len();
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        // Named relative to the crate, so that the rendering does not depend on the checkout.
        let e = load_str(&format!("tests/bad/{name}"), &src).expect_err(&format!("{name} must be refused"));
        let starts: Vec<Option<usize>> = e.problems().map(|p| p.span.as_ref().map(|s| s.start)).collect();
        assert!(
            starts.contains(&Some(mark)),
            "{}: no error starts at the marked value (byte {mark}); errors start at {starts:?}:\n{}",
            f.display(),
            render(&e)
        );
        for p in e.problems() {
            let field = p.message.split(':').next().unwrap_or("");
            let named = !field.is_empty() && !field.contains(' ') || p.message.contains("field named");
            assert!(named, "{}: {:?} names no field", f.display(), p.message);
        }
        rendered.push_str(&format!("==== {name}\n{}\n", render(&e)));
    }
    insta::assert_snapshot!("bad_scenarios", rendered);
}

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim"))
}

#[test]
fn the_cli_exits_2_for_each_broken_file() {
    for f in bad_files() {
        let out = sim().arg("check").arg(&f).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{}", f.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&*f.display().to_string()), "{stderr}");
    }
}

const GOOD: &str = "Scenario(name: \"good\", automats: [(id: 1)])";

#[test]
fn a_byte_order_mark_is_accepted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("bom.ron");
    std::fs::write(&f, format!("\u{feff}{GOOD}")).expect("written");
    assert_eq!(load_file(&f).expect("loads").name, "good");
}

#[cfg(unix)]
#[test]
fn what_is_no_scenario_file_is_refused_not_followed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    // A directory loop: check must end, and find the one real file once.
    std::fs::create_dir(root.join("a")).expect("dir");
    std::fs::write(root.join("a/one.ron"), GOOD).expect("written");
    std::os::unix::fs::symlink(root, root.join("a/loop")).expect("symlink");
    let out = sim().arg("check").arg(root.join("a")).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 scenarios valid"));
    // A FIFO and a device named .ron: refused without reading (a read would block or never end).
    let fifo = root.join("fifo.ron");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    std::os::unix::fs::symlink("/dev/zero", root.join("zero.ron")).expect("symlink");
    for f in [fifo, root.join("zero.ron")] {
        let out = sim().arg("check").arg(&f).output().expect("runs");
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"), "{}", f.display());
    }
    // A file over the size limit.
    let big = root.join("big.ron");
    std::fs::write(&big, vec![b' '; 2 << 20]).expect("written");
    let out = sim().arg("check").arg(&big).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most"));
}

#[test]
fn a_missing_path_is_named_as_a_path() {
    let out = sim().args(["check", "no/such/dir"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no/such/dir: no such file or directory"), "{stderr}");
    assert!(!stderr.contains("<arguments>"), "{stderr}");
}

#[test]
fn two_scenarios_of_one_name_are_refused_at_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("a.ron"), GOOD).expect("written");
    std::fs::write(dir.path().join("b.ron"), GOOD).expect("written");
    let out = sim().arg("run").arg(dir.path()).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"good\" is also the name of"), "{stderr}");
}

/// Every name a library scenario matches on (`kind: "…"`, `Board("…")`, `Plant("…")`,
/// `match: "…"`, `Display("…")`): byte offset of the string's first character.
fn matched_names(src: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for pattern in ["kind: \"", "Board(\"", "Plant(\"", "match: \"", "Display(\""] {
        let mut from = 0;
        while let Some(i) = src[from..].find(pattern) {
            out.push(from + i + pattern.len());
            from += i + pattern.len();
        }
    }
    out.sort();
    out
}

#[test]
fn every_matcher_name_in_the_library_mutated_by_one_letter_is_refused() {
    let library = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let files = sim::scenario::load::collect(&[library]).expect("library");
    let mut mutants = 0;
    for f in files {
        let src = std::fs::read_to_string(&f).expect("readable");
        sim::scenario::load_str("library.ron", &src).expect("the library loads");
        for at in matched_names(&src) {
            // The second letter becomes another letter (a typo), keeping the length.
            let Some(c) = src[at + 1..].chars().next() else { continue };
            let typo = if c == 'q' { 'x' } else { 'q' };
            let mutant = format!("{}{typo}{}", &src[..at + 1], &src[at + 1 + c.len_utf8()..]);
            let e = sim::scenario::load_str("mutant.ron", &mutant)
                .expect_err(&format!("{}: the mutant at byte {at} loads", f.display()));
            let starts: Vec<usize> = e.problems().filter_map(|p| p.span.as_ref().map(|s| s.start)).collect();
            assert!(starts.contains(&(at - 1)), "{}: {at} not pointed at: {starts:?} {e}", f.display());
            mutants += 1;
        }
    }
    assert!(mutants > 100, "only {mutants} matcher names in the library");
}

#[test]
fn any_prefix_or_byte_flip_of_a_scenario_is_refused_without_a_panic_and_placed_in_the_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/replayed_unlock_refused.ron");
    let src = std::fs::read_to_string(path).expect("readable");
    let mut inputs: Vec<String> =
        (0..src.len()).filter(|&i| src.is_char_boundary(i)).map(|i| src[..i].to_string()).collect();
    // Deterministic byte flips (kept to valid UTF-8).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut bytes = src.clone().into_bytes();
        let at = (x as usize) % bytes.len();
        bytes[at] = b"(),:\"[]x9 -#"[(x >> 32) as usize % 12];
        if let Ok(s) = String::from_utf8(bytes) {
            inputs.push(s);
        }
    }
    let mut refused = 0;
    for input in &inputs {
        if let Err(e) = sim::scenario::load_str("f.ron", input) {
            refused += 1;
            for p in e.problems() {
                if let Some(span) = &p.span {
                    assert!(
                        span.start <= input.len() && span.end <= input.len() + 1,
                        "{span:?} outside: {p}"
                    );
                }
            }
        }
    }
    assert!(refused > inputs.len() / 2, "{refused} of {} refused", inputs.len());
}
