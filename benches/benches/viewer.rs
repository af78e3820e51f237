//! Group `viewer` (feature `viewer`): frames of the 3D viewer at 1280×720 playing the busy hour
//! (30 keys, a user at the front, the carousel turning) at 10×, panels and all, on whatever
//! Vulkan there is (Mesa's lavapipe on the CI machines). Frames per second = 1 ÷ the time per
//! frame. Target: at least 10 fps on lavapipe.
//!
//! `cargo bench -p benches --features viewer --bench viewer` (under `xvfb-run` when there is no
//! display; the bench starts one itself otherwise).
//!
//! A window's event loop can be made once per process, so each sample is a child process (this
//! same executable) that waits until the scene is drawn, plays, and reports the time its frames
//! took; start-up and shader compilation are outside the measurement.

#![allow(clippy::panic, clippy::print_stdout)] // a bench whose setup fails has nothing to measure

use std::process::Command;
use std::time::Duration;

use benches::busy_hour;
use criterion::Criterion;
use sim::viewer::{Source, ViewOptions, view};

const CHILD: &str = "VIEWER_BENCH_FRAMES";

fn child(frames: u32) {
    let dir = std::env::temp_dir().join(format!("viewer-bench-{}", std::process::id()));
    let options = ViewOptions {
        source: Source::Scenario(Box::new(busy_hour()), dir.clone()),
        seed: None,
        size: (1280, 720),
        at: 20_000_000,
        screenshot: None,
        measure_frames: Some(frames),
        cameras: None,
    };
    let result = view(options);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        panic!("the viewer failed: {e}");
    }
}

/// Renders `frames` frames in a child; returns the time they took.
fn frames_in_child(frames: u64) -> Duration {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("no executable: {e}"));
    let mut cmd = if std::env::var_os("DISPLAY").is_some() {
        Command::new(&exe)
    } else {
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", "-screen 0 3000x2000x24"]).arg(&exe);
        c
    };
    let out = cmd
        .env(CHILD, frames.max(1).to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot start the viewer (xvfb-run missing?): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // "frames: N in S s = F fps"
    let secs = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("frames: ")?.split(" in ").nth(1)?.split(' ').next()?.parse::<f64>().ok()
        })
        .unwrap_or_else(|| {
            panic!("the viewer reported no frames: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr))
        });
    Duration::from_secs_f64(secs)
}

fn main() {
    if let Some(frames) = std::env::var(CHILD).ok().and_then(|n| n.parse().ok()) {
        child(frames);
        return;
    }
    let mut c =
        Criterion::default().sample_size(10).measurement_time(Duration::from_secs(20)).configure_from_args();
    let mut g = c.benchmark_group("viewer");
    g.bench_function("frame_1280x720_busy_hour", |b| b.iter_custom(frames_in_child));
    g.finish();
    c.final_summary();
}
