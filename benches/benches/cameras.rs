//! Group `cameras` (feature `render`): the rendered cameras on whatever Vulkan there is (Mesa's
//! lavapipe on the CI machines), at their capture size (320×240).
//!
//! - `internal_capture` / `front_capture`: one capture after the renderer's start-up and
//!   warm-up (pipelines compiled, every fob shape and a person drawn once): the scene posed,
//!   drawn until nothing is left compiling, read back from the GPU, exposed and noised.
//! - `library_rendered_jobs_2`: every scenario of `scenarios/` (the soak included) in
//!   `rendered` mode, two side by side, sharing the process's one renderer. Target: under 60 s
//!   on 2 cores.
//!
//! `cargo bench -p benches --features render --bench cameras`

#![allow(clippy::panic)] // a bench whose setup fails has nothing to measure

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sim::camera::{Camera, CameraMode, Cameras};
use sim::plant::look::{Look, Person, Shape};
use sim::scene::Pose;
use sim::suite::{self, SuiteOptions};

fn bench_capture(c: &mut Criterion) {
    let cameras = Cameras::new(CameraMode::Rendered).unwrap_or_else(|e| panic!("{e}"));
    let mut pose = Pose::empty(30);
    pose.carousel = 4.0;
    pose.hooks[3] = Some(Look { colour: [40, 170, 70], shape: Shape::Tag, label: "B7".into() });
    pose.hooks[4] = Some(Look { colour: [200, 40, 40], shape: Shape::Round, label: "V3".into() });
    pose.hooks[5] = Some(Look { colour: [40, 70, 210], shape: Shape::Square, label: "12".into() });
    pose.person = Some(Person::default_for(1));
    let mut g = c.benchmark_group("cameras");
    for (name, camera) in [("internal_capture", Camera::Internal), ("front_capture", Camera::Front)] {
        let mut seed = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                seed += 1;
                cameras.capture(camera, &pose, seed).unwrap_or_else(|e| panic!("{e}"))
            })
        });
    }
    g.finish();
}

fn library() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn bench_library(c: &mut Criterion) {
    let all = suite::load(&[library()]).unwrap_or_else(|e| panic!("{} scenarios do not load", e.len()));
    let options = SuiteOptions { jobs: 2, cameras: Some(CameraMode::Rendered), ..Default::default() };
    suite::start_cameras(&all, &options).unwrap_or_else(|e| panic!("{e}"));
    let mut g = c.benchmark_group("cameras");
    g.bench_function("library_rendered_jobs_2", |b| {
        b.iter(|| {
            let results = suite::run(&all, &options);
            assert!(results.iter().all(|r| r.outcome.passed), "a library scenario failed in rendered mode");
            results
        })
    });
    g.finish();
}

criterion_group! {
    name = capture_group;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(10));
    targets = bench_capture
}
criterion_group! {
    name = library_group;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(60));
    targets = bench_library
}
criterion_main!(capture_group, library_group);
