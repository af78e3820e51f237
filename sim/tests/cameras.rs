//! The cameras: rendered captures show what the scene holds (feature `render`, on lavapipe in
//! CI), a library scenario is judged by rendered captures alone, and the command line refuses
//! rendered cameras it cannot have with a clear error (exit 2), never falling back to drawn.

use std::process::Command;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim"))
}

fn library(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name)
}

/// `sim run --cameras MODE` on a library scenario with `env`: it must exit 2 before running
/// anything; its standard error.
fn refused(mode: &str, env: &[(&str, &str)]) -> String {
    let out = sim()
        .envs(env.iter().copied())
        .args(["run", "--cameras", mode])
        .arg(library("happy_take_and_return.ron"))
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("pass"), "it ran anyway");
    err
}

#[test]
fn an_unknown_camera_mode_is_refused() {
    let err = refused("painted", &[]);
    assert!(err.contains("painted") && err.contains("rendered"), "{err}");
}

#[cfg(not(feature = "render"))]
#[test]
fn rendered_cameras_without_the_render_feature_are_refused() {
    let err = refused("rendered", &[]);
    assert!(err.contains("`render` feature"), "{err}");
}

#[cfg(feature = "render")]
mod rendered {
    use super::*;
    use image::RgbImage;
    use sim::camera::{Camera, CameraMode, Cameras, Variation};
    use sim::plant::look::{Look, Person, Shape};
    use sim::run::{RunOptions, run_scenario};
    use sim::scene::Pose;

    fn cameras() -> Cameras {
        Cameras::new(CameraMode::Rendered).expect("a Vulkan device (scripts/test-all installs lavapipe)")
    }

    /// The share of the pixels of the region `[x0, y0, x1, y1]` (fractions of the image) that
    /// `is` picks.
    fn share(img: &RgbImage, [x0, y0, x1, y1]: [f32; 4], is: impl Fn([u8; 3]) -> bool) -> f64 {
        let (w, h) = (img.width() as f32, img.height() as f32);
        let (xs, ys) = ((x0 * w) as u32..(x1 * w) as u32, (y0 * h) as u32..(y1 * h) as u32);
        let n = xs.len() * ys.len();
        let hits = ys
            .flat_map(|y| xs.clone().map(move |x| (x, y)))
            .filter(|&(x, y)| is(img.get_pixel(x, y).0))
            .count();
        hits as f64 / n as f64
    }

    /// Where the fob on the hook at the window hangs in an internal capture.
    const FOB: [f32; 4] = [0.35, 0.3, 0.65, 0.75];

    fn red(p: [u8; 3]) -> bool {
        p[0] > 110 && u16::from(p[1]) * 2 < u16::from(p[0]) && u16::from(p[2]) * 2 < u16::from(p[0])
    }

    fn blue(p: [u8; 3]) -> bool {
        p[2] > 110 && u16::from(p[0]) * 2 < u16::from(p[2]) && p[1] < p[2]
    }

    fn slot_with(look: Option<Look>) -> Pose {
        let mut pose = Pose::empty(12);
        pose.carousel = 3.0;
        pose.hooks[3] = look;
        pose
    }

    #[test]
    fn an_internal_capture_shows_the_fob_at_the_window_in_its_colour_and_an_empty_slot_none() {
        let cameras = cameras();
        let disc = Look { colour: [200, 40, 40], shape: Shape::Round, label: "V3".into() };
        let tag = Look { colour: [40, 70, 210], shape: Shape::Tag, label: "7".into() };
        let shot = |look: Option<Look>| {
            cameras.render(Camera::Internal, &slot_with(look), Variation::NONE, 0).expect("renders")
        };
        let (red_fob, blue_fob, empty) = (shot(Some(disc)), shot(Some(tag)), shot(None));
        assert_eq!(red_fob.dimensions(), sim::camera::RENDERED_SIZE);
        let (r, b) = (share(&red_fob, FOB, red), share(&blue_fob, FOB, blue));
        assert!(r > 0.25, "red in the red disc's capture: {r:.3}");
        assert!(b > 0.15, "blue in the blue tag's capture: {b:.3}");
        assert!(
            share(&red_fob, FOB, blue) < 0.01 && share(&blue_fob, FOB, red) < 0.01,
            "each shows its own colour"
        );
        for (name, is) in [("red", red as fn([u8; 3]) -> bool), ("blue", blue)] {
            let e = share(&empty, FOB, is);
            assert!(e < 0.005, "{name} in the empty slot's capture: {e:.4}");
        }
        // A neighbour's fob is not at the window: slot 4 holds the disc, slot 3 is shown.
        let mut beside = slot_with(None);
        beside.hooks[4] = Some(Look { colour: [200, 40, 40], shape: Shape::Round, label: "V3".into() });
        let next = cameras.render(Camera::Internal, &beside, Variation::NONE, 0).expect("renders");
        assert!(share(&next, FOB, red) < 0.01, "the neighbour shows in the window's middle");
    }

    #[test]
    fn the_front_captures_of_two_differently_dressed_users_differ_and_one_user_is_one_picture() {
        let cameras = cameras();
        let photo = |person: Person| {
            let mut pose = Pose::empty(12);
            pose.person = Some(person);
            cameras.render(Camera::Front, &pose, Variation::NONE, 0).expect("renders")
        };
        let alice =
            Person { height: 1.62, clothes: [40, 70, 150], hair: [200, 160, 90], skin: [235, 190, 160] };
        let bob = Person { height: 1.85, clothes: [170, 40, 40], hair: [40, 30, 25], skin: [140, 95, 70] };
        let (a, b, a2) = (photo(alice), photo(bob), photo(alice));
        let difference = |x: &RgbImage, y: &RgbImage| {
            let sum: u64 = x
                .pixels()
                .zip(y.pixels())
                .flat_map(|(p, q)| (0..3).map(move |c| u64::from(p.0[c].abs_diff(q.0[c]))))
                .sum();
            sum as f64 / (3 * x.width() * x.height()) as f64
        };
        let d = difference(&a, &b);
        assert!(d > 4.0, "two people, mean difference {d:.2} levels");
        assert!(difference(&a, &a2) < 0.01, "the same person twice differs");
        // Someone stood there: the capture differs from the empty room.
        let mut nobody = Pose::empty(12);
        nobody.person = None;
        let room = cameras.render(Camera::Front, &nobody, Variation::NONE, 0).expect("renders");
        assert!(difference(&a, &room) > 2.0, "alice is not in her photo");
    }

    #[test]
    fn the_untagged_wrong_key_is_caught_by_rendered_captures_alone() {
        let path = library("untagged_wrong_key_caught_by_camera.ron");
        let s = sim::scenario::load_file(&path).expect("loads");
        assert!(
            s.keys.iter().all(|k| k.tag.is_none()),
            "the keys must be untagged: the camera alone decides"
        );
        // The run with rendered cameras: whether it passed, and its trace.
        let run = || {
            let trace = tempfile::NamedTempFile::new().expect("temp file");
            let options = RunOptions {
                cameras: Some(CameraMode::Rendered),
                trace: Some(Box::new(trace.reopen().expect("reopens"))),
                ..RunOptions::default()
            };
            let out = run_scenario(&s, options);
            (out, std::fs::read(trace.path()).expect("reads"))
        };
        let (out, text) = run();
        assert!(out.passed, "{:#?}", out.failures);
        assert!(String::from_utf8_lossy(&text).contains("Wrong key"), "the screen never said so");
        // The same run again writes the same bytes.
        let (again, bytes) = run();
        assert!(again.passed);
        assert!(bytes == text, "two rendered runs differ");
    }

    #[test]
    fn rendered_cameras_without_a_vulkan_device_are_refused_with_why() {
        let nowhere = "/nonexistent/icd.json";
        let err = refused("rendered", &[("VK_ICD_FILENAMES", nowhere), ("VK_DRIVER_FILES", nowhere)]);
        assert!(err.contains("Vulkan device") && err.contains("mesa-vulkan-drivers"), "{err}");
    }
}
