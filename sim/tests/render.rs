//! The 3D viewer really draws the run (feature `viewer`): `sim view --screenshot` of the happy
//! scenario at two moments, rendered by whatever Vulkan there is (Mesa's lavapipe in CI) in a
//! window on the display, or under `xvfb-run` when there is none.
//!
//! Before the take the door is shut and slot 0 faces the window; at 63.9 s the carousel has
//! turned slot 4 to the window and Alice has opened the door: the pictures must differ there,
//! the marker on the drum's top (seen through the glass top) must have moved, neither picture
//! may be blank, and the presented key's red fob must show at the window slot.

#![cfg(feature = "viewer")]
#![allow(clippy::panic)] // a test's failure is a panic

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::RgbImage;

fn sim() -> Command {
    let bin = env!("CARGO_BIN_EXE_sim");
    if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        Command::new(bin)
    } else {
        // No display: a virtual one. scripts/test-all installs xvfb (and Mesa's lavapipe).
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", "-screen 0 3000x2000x24", bin]);
        c
    }
}

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/happy_take_and_return.ron")
}

fn run(args: &[&str]) -> Output {
    match sim().args(args).output() {
        Ok(o) => o,
        Err(e) => panic!("cannot start sim view (is xvfb-run installed? scripts/test-all installs it): {e}"),
    }
}

fn shoot(dir: &Path, name: &str, at: &str) -> (RgbImage, Vec<serde_json::Value>) {
    shoot_source(dir, name, at, &scenario())
}

/// One viewer at a time: parallel `xvfb-run -a` can race for a display number, and two
/// software renderers on two cores only slow each other down.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn shoot_source(dir: &Path, name: &str, at: &str, source: &Path) -> (RgbImage, Vec<serde_json::Value>) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let png = dir.join(name);
    let out = run(&[
        "view",
        "--screenshot",
        png.to_str().expect("utf-8 path"),
        "--at",
        at,
        "--size",
        "1024x640",
        source.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "sim view --screenshot failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let picture = image::open(&png).expect("the PNG is written").to_rgb8();
    let regions = std::fs::read_to_string(png.with_extension("regions.json")).expect("regions beside it");
    let regions: Vec<serde_json::Value> = serde_json::from_str(&regions).expect("regions are JSON");
    (picture, regions)
}

fn rect(regions: &[serde_json::Value], name: &str) -> [u32; 4] {
    let r = regions[0][name].as_array().unwrap_or_else(|| panic!("no {name} region: {regions:?}"));
    let v: Vec<u32> = r.iter().map(|x| x.as_u64().expect("pixel") as u32).collect();
    [v[0], v[1], v[2], v[3]]
}

fn pixels(img: &RgbImage, r: [u32; 4]) -> impl Iterator<Item = [u8; 3]> + '_ {
    (r[1]..r[3].min(img.height()))
        .flat_map(move |y| (r[0]..r[2].min(img.width())).map(move |x| img.get_pixel(x, y).0))
}

/// Share of the region's pixels that are the red fob's colour (lit or shaded).
fn red_share(img: &RgbImage, r: [u32; 4]) -> f64 {
    let (mut red, mut all) = (0usize, 0usize);
    for [r, g, b] in pixels(img, r) {
        all += 1;
        let (r, g, b) = (f32::from(r), f32::from(g), f32::from(b));
        if r > 60.0 && r > 2.0 * g && r > 2.0 * b {
            red += 1;
        }
    }
    red as f64 / all.max(1) as f64
}

fn mean_difference(a: &RgbImage, b: &RgbImage, r: [u32; 4]) -> f64 {
    let (sum, n) = pixels(a, r).zip(pixels(b, r)).fold((0u64, 0u64), |(s, n), (p, q)| {
        let d: u64 = (0..3).map(|i| u64::from(p[i].abs_diff(q[i]))).sum();
        (s + d, n + 3)
    });
    sum as f64 / n.max(1) as f64
}

#[test]
fn screenshots_show_the_carousel_turn_and_the_door_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (before, regions) = shoot(dir.path(), "before.png", "30s");
    let (during, regions_during) = shoot(dir.path(), "during.png", "63.9s");
    assert_eq!(before.dimensions(), (1024, 640));
    assert_eq!(regions, regions_during, "the follow camera stands still");
    let window = rect(&regions, "window");
    let drum = rect(&regions, "drum");
    assert!(window[2] > window[0] + 10 && window[3] > window[1] + 10, "window region {window:?}");

    // Not blank: many colours, and not one flat tone.
    for img in [&before, &during] {
        let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        colours.sort_unstable();
        colours.dedup();
        assert!(colours.len() > 200, "only {} colours: blank or black", colours.len());
    }
    // The presented key's red fob shows at the window slot (where the follow camera sees it,
    // through the window and the cutaway), and did not before the carousel turned.
    let slot = rect(&regions, "slot");
    let (red_before, red_during) = (red_share(&before, slot), red_share(&during, slot));
    assert!(red_during > 0.02, "red at the window slot at 63.9 s: {red_during:.4}");
    assert!(
        red_before < red_during / 4.0,
        "red at the window slot at 30 s: {red_before:.4} vs {red_during:.4}"
    );
    // The door opened: the window region changed.
    let dw = mean_difference(&before, &during, window);
    assert!(dw > 12.0, "window region barely changed: {dw:.2}");
    // The carousel turned 4 slots (48°): the blue half of the bar on the drum's top moved.
    let (b0, b1) = (blue_centroid(&before, drum), blue_centroid(&during, drum));
    assert!((b1 - b0).abs() > 10.0, "the drum's marker stayed at x {b0:.1} → {b1:.1}");
}

/// Mean x of the drum marker's blue pixels in the region.
fn blue_centroid(img: &RgbImage, r: [u32; 4]) -> f64 {
    let mut xs = Vec::new();
    for y in r[1]..r[3].min(img.height()) {
        for x in r[0]..r[2].min(img.width()) {
            let [red, green, blue] = img.get_pixel(x, y).0.map(i32::from);
            if blue > red + 60 && blue > green + 30 {
                xs.push(f64::from(x));
            }
        }
    }
    assert!(xs.len() > 20, "the drum's marker is not in view ({} blue pixels in {r:?})", xs.len());
    xs.iter().sum::<f64>() / xs.len() as f64
}

#[test]
fn a_recorded_trace_replays_as_the_live_run_shows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", "--out", out.to_str().expect("utf-8"), scenario().to_str().expect("utf-8")])
        .output()
        .expect("sim run starts");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stdout));
    let (live, _) = shoot(dir.path(), "live.png", "63.9s");
    let (replayed, regions) =
        shoot_source(dir.path(), "trace.png", "63.9s", &out.join("happy-take-and-return"));
    let whole = [0, 0, live.width(), live.height()];
    let d = mean_difference(&live, &replayed, whole);
    assert!(d < 0.5, "the replayed trace looks different from the live run: {d:.3}");
    assert!(red_share(&replayed, rect(&regions, "slot")) > 0.02);
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = env!("CARGO_BIN_EXE_sim");
    let check = |args: &[&str], want: &str| {
        let out = Command::new(bin).args(args).output().expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    };
    let missing = dir.path().join("missing.jsonl");
    check(&["view", missing.to_str().expect("utf-8")], "cannot read");
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "{\"not\": \"a trace\"}\n").expect("write");
    check(&["view", junk.to_str().expect("utf-8")], "junk.jsonl:1: not a trace header");
    let s = scenario();
    let s = s.to_str().expect("utf-8");
    check(&["view", "--size", "1280", s], "is not WxH");
    check(&["view", "--at", "soon", s], "is not a duration");
    let png = dir.path().join("late.png");
    check(&["view", "--screenshot", png.to_str().expect("utf-8"), "--at", "5h", s], "is after the run's end");
}
