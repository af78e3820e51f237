//! The HTML report in a real browser: headless Chromium (Debian's `chromium`, which
//! `scripts/test-all` installs; `CHROMIUM=path` picks another) opens the report of a run with
//! one failing scenario; the page's DOM, dumped after its scripts ran, must have a row per
//! scenario, the first failure's text, every image loaded, and the failures filter must show
//! only the failure. A screenshot is kept in the test's directory under the target dir.

use std::path::{Path, PathBuf};
use std::process::Command;

fn library(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name)
}

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    let found = ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    found.expect("no chromium on PATH: scripts/test-all installs Debian's chromium package")
}

/// Runs headless Chromium on `url` with `args`; its stdout.
fn browse(profile: &Path, args: &[String], url: &str) -> String {
    let o = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium starts");
    assert!(o.status.success(), "chromium: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn attr(dom: &str, name: &str) -> Option<String> {
    let at = dom.find(&format!("{name}=\""))? + name.len() + 2;
    Some(dom[at..].split('"').next()?.to_string())
}

#[test]
fn the_report_opens_in_chromium_with_rows_failures_images_and_the_filter() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    let src = std::fs::read_to_string(library("overdue_alert.ron")).expect("readable");
    let bad = src.replace("after: \"2h 15m\", before: \"2h 15m 1s\"", "after: \"2h\", before: \"2h 10m\"");
    assert_ne!(src, bad);
    let failing = dir.join("overdue_alert.ron");
    std::fs::write(&failing, bad).expect("written");
    let report = dir.join("report.html");
    let o = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", "--out"])
        .arg(dir.join("out"))
        .arg("--report")
        .arg(&report)
        .arg(library("happy_take_and_return.ron"))
        .arg(library("untagged_wrong_key_caught_by_camera.ron"))
        .arg(&failing)
        .output()
        .expect("sim runs");
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stdout));
    let url = format!("file://{}", report.canonicalize().expect("report written").display());
    let profile = tempfile::tempdir().expect("profile dir");

    let dom = browse(profile.path(), &["--dump-dom".into()], &url);
    assert_eq!(attr(&dom, "data-scenarios").as_deref(), Some("3"), "{}", &dom[..dom.len().min(2000)]);
    for slug in ["happy-take-and-return", "untagged-wrong-key-caught-by-the-camera", "overdue-alert"] {
        assert!(dom.contains(&format!("data-slug=\"{slug}\"")), "no row for {slug}");
        assert!(dom.contains(&format!("id=\"{slug}\"")), "no section for {slug}");
    }
    assert!(dom.contains("expected Alert(Overdue, key 1)"), "the first failure's text");
    let (loaded, total) = (attr(&dom, "data-images-loaded"), attr(&dom, "data-images-total"));
    let total: usize = total.and_then(|t| t.parse().ok()).expect("the page counted its images");
    assert!(total >= 8, "user photos and slot images of three runs: {total}");
    assert_eq!(loaded, Some(total.to_string()), "every image loads");
    assert_eq!(attr(&dom, "data-visible-rows").as_deref(), Some("3"), "all rows without the filter");
    println!(
        "report of 3 scenarios: {} bytes, loaded in {:?} ms",
        std::fs::metadata(&report).map_or(0, |m| m.len()),
        attr(&dom, "data-load-ms")
    );

    let dom = browse(profile.path(), &["--dump-dom".into()], &format!("{url}#failures"));
    assert_eq!(attr(&dom, "data-visible-rows").as_deref(), Some("1"), "the filter shows only the failure");

    let shot = dir.join("report.png");
    browse(
        profile.path(),
        &[format!("--screenshot={}", shot.display()), "--window-size=1280,900".into()],
        &url,
    );
    let png = image::open(&shot).expect("a screenshot").to_rgb8();
    let first = png.get_pixel(0, 0);
    assert!(png.pixels().any(|p| p != first), "the screenshot is not blank");
    println!("screenshot: {}", shot.display());
}
