//! Visual verification accuracy: the controller's image comparison judging the internal
//! camera's captures, in both camera modes.
//!
//! **Drawn** (the 2D renderer): 1,500 same-key pairs (the enrolment reference against an
//! "after" image of the same fob under random conditions) and 1,500 different-key pairs (the
//! reference against another key's fob). Keys of one automat are told apart by fob colour and
//! outline (they are assigned distinct combinations). The renderer's noise: light 0.7–1.3
//! (bright fobs clip), a colour temperature gain of ±12 % on red and blue, a shift of ±4 px, a
//! swing of ±0.12 rad, sensor noise of ±6 levels.
//!
//! **Rendered** (feature `render`: the 3D scene through the camera in the cabinet, on whatever
//! Vulkan there is, lavapipe in CI): 42 fobs, among them near pairs (one colour in every shape,
//! one shape in close colours, white and black, the same fob with another label), each
//! enrolled once and hung [`HANGS`] times, each time swinging otherwise on its hook (roll
//! ±0.12 rad, pitch ±0.03, yaw ±0.20) under another exposure and light level (±15 % each) and
//! sensor noise, with other fobs on the neighbouring hooks; plus the empty hook and foreign
//! fobs. Every hang is compared with its own reference (a reject is false) and with every
//! other fob's (an accept is false), each judged against the camera's plate (the empty
//! carousel, another slot at the window), as the controller does.
//!
//! Bounds, both modes: false accepts ≤ 0.5 %, false rejects ≤ 1 %.

use controller::verify::{MATCH_THRESHOLD, Signature};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::plant::look::{COLOURS, Conditions, Look, Shape, render_slot};

const PAIRS: usize = 1_500;
const SHAPES: [Shape; 4] = [Shape::Round, Shape::Square, Shape::Tag, Shape::Triangle];
const LABEL: &[u8] = b"0123456789ABCDEFKV";

fn random_look(rng: &mut ChaCha8Rng) -> Look {
    let colour = COLOURS[rng.random_range(0..COLOURS.len())].1;
    let shape = SHAPES[rng.random_range(0..SHAPES.len())];
    let n = rng.random_range(1..=3);
    let label = (0..n).map(|_| char::from(LABEL[rng.random_range(0..LABEL.len())])).collect();
    Look { colour, shape, label }
}

fn other_look(rng: &mut ChaCha8Rng, a: &Look) -> Look {
    loop {
        let b = random_look(rng);
        if b.colour != a.colour || b.shape != a.shape {
            return b;
        }
    }
}

/// False reject and false accept rates of distances, with a line that says them.
#[allow(clippy::print_stdout, reason = "the test's report: `--nocapture` shows it")]
fn rates(name: &str, mut sames: Vec<f32>, mut others: Vec<f32>) -> (f64, f64) {
    let false_rejects = sames.iter().filter(|&&d| d >= MATCH_THRESHOLD).count();
    let false_accepts = others.iter().filter(|&&d| d < MATCH_THRESHOLD).count();
    sames.sort_by(f32::total_cmp);
    others.sort_by(f32::total_cmp);
    let (fr, fa) = (false_rejects as f64 / sames.len() as f64, false_accepts as f64 / others.len() as f64);
    let at = |v: &[f32], q: f64| v[((v.len() - 1) as f64 * q) as usize];
    println!(
        "{name}: {} same-key + {} other-key pairs, threshold {MATCH_THRESHOLD}: false rejects {:.2} % ({false_rejects}), \
         false accepts {:.2} % ({false_accepts}); same-key distance p50 {:.3} p99 {:.3} max {:.3}; \
         other-key distance min {:.3} p1 {:.3} p50 {:.3}",
        sames.len(),
        others.len(),
        fr * 100.0,
        fa * 100.0,
        at(&sames, 0.5),
        at(&sames, 0.99),
        at(&sames, 1.0),
        at(&others, 0.0),
        at(&others, 0.01),
        at(&others, 0.5),
    );
    (fr, fa)
}

#[test]
fn drawn_false_accepts_and_false_rejects_stay_within_bounds() {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let (mut sames, mut others) = (Vec::new(), Vec::new());
    for i in 0..PAIRS {
        let a = random_look(&mut rng);
        let reference = Signature::of(&render_slot(Some(&a), Conditions::NOMINAL, 0));
        let seed = 10_000 + i as u64;
        let same = Signature::of(&render_slot(Some(&a), Conditions::random(seed), seed));
        sames.push(reference.distance(&same));
        let b = other_look(&mut rng, &a);
        let seed = 50_000 + i as u64;
        let other = Signature::of(&render_slot(Some(&b), Conditions::random(seed), seed));
        others.push(reference.distance(&other));
    }
    let (fr, fa) = rates("drawn", sames, others);
    assert!(fa <= 0.005, "false accepts {:.2} % > 0.5 %", fa * 100.0);
    assert!(fr <= 0.01, "false rejects {:.2} % > 1 %", fr * 100.0);
}

#[test]
fn drawn_empty_hook_never_matches_a_key() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for i in 0..50 {
        let a = random_look(&mut rng);
        let reference = Signature::of(&render_slot(Some(&a), Conditions::NOMINAL, 0));
        let empty = Signature::of(&render_slot(None, Conditions::random(i), i));
        assert!(!reference.matches(&empty), "{a:?}");
    }
}

#[cfg(feature = "render")]
mod rendered {
    use super::*;
    use controller::verify::Plate;
    use sim::camera::{Camera, CameraMode, Cameras, Variation};
    use sim::scene::Pose;

    /// How often each fob is hung.
    pub(super) const HANGS: usize = 8;

    fn look(colour: [u8; 3], shape: Shape, label: &str) -> Look {
        Look { colour, shape, label: label.into() }
    }

    fn named(name: &str) -> [u8; 3] {
        COLOURS.iter().find(|(n, _)| *n == name).map_or([128, 128, 128], |(_, c)| *c)
    }

    /// The fobs of the test: every named colour in two shapes, red and blue in all four, close
    /// colours in one shape, and fobs that differ by their label only.
    pub(super) fn fobs() -> Vec<Look> {
        let mut fobs = Vec::new();
        for (i, (name, colour)) in COLOURS.iter().enumerate() {
            let (a, b) =
                if i % 2 == 0 { (Shape::Round, Shape::Square) } else { (Shape::Tag, Shape::Triangle) };
            fobs.push(look(*colour, a, &format!("{}", i)));
            fobs.push(look(*colour, b, &name[..1].to_uppercase()));
        }
        // One colour, every shape.
        for name in ["red", "blue"] {
            fobs.push(look(named(name), Shape::Tag, "T"));
            fobs.push(look(named(name), Shape::Triangle, "T"));
        }
        // One shape, close colours: each beside a named one above.
        for (colour, shape) in [
            ([160, 30, 50], Shape::Round),   // crimson, beside red
            ([30, 45, 140], Shape::Square),  // navy, beside blue (square: index 1 is a tag)
            ([30, 110, 50], Shape::Round),   // dark green, beside green
            ([215, 165, 30], Shape::Tag),    // gold, beside yellow
            ([250, 175, 70], Shape::Tag),    // amber, beside orange
            ([20, 140, 150], Shape::Tag),    // teal, beside cyan
            ([180, 180, 178], Shape::Round), // light grey, beside white
            ([80, 80, 84], Shape::Round),    // dark grey, beside black
            ([210, 60, 150], Shape::Round),  // magenta, beside pink
        ] {
            fobs.push(look(colour, shape, "N"));
        }
        // The same fob as one above with another label.
        for (name, shape, label) in [
            ("red", Shape::Round, "R"),
            ("blue", Shape::Tag, "7"),
            ("green", Shape::Square, "2"),
            ("yellow", Shape::Tag, "8"),
            ("white", Shape::Tag, "1"),
            ("orange", Shape::Triangle, "A"),
            ("cyan", Shape::Round, "F"),
            ("pink", Shape::Tag, "K"),
            ("purple", Shape::Round, "E"),
        ] {
            fobs.push(look(named(name), shape, label));
        }
        fobs
    }

    /// Foreign things a user may hang: not among the fobs.
    pub(super) fn foreign() -> Vec<Look> {
        vec![
            look([120, 80, 40], Shape::Tag, "KEY"),
            look([200, 200, 60], Shape::Round, ""),
            look([90, 30, 120], Shape::Square, "99"),
            look([240, 90, 90], Shape::Triangle, "X"),
        ]
    }

    /// Slot 10 at the window with `at` on its hook and the fobs of `neighbours` beside it.
    pub(super) fn pose(at: Option<&Look>, neighbours: [&Look; 2]) -> Pose {
        let mut pose = Pose::empty(30);
        pose.carousel = 10.0;
        pose.hooks[9] = Some(neighbours[0].clone());
        pose.hooks[10] = at.cloned();
        pose.hooks[11] = Some(neighbours[1].clone());
        pose
    }

    #[test]
    fn rendered_false_accepts_and_false_rejects_stay_within_bounds() {
        let cameras =
            Cameras::new(CameraMode::Rendered).expect("a Vulkan device (scripts/test-all installs lavapipe)");
        let fobs = fobs();
        let distinct: std::collections::BTreeSet<_> =
            fobs.iter().map(|l| (l.colour, l.shape, l.label.clone())).collect();
        assert!(
            distinct.len() == fobs.len() && fobs.len() >= 40,
            "{} fobs, {} distinct",
            fobs.len(),
            distinct.len()
        );
        let mut rng = ChaCha8Rng::seed_from_u64(15);
        let pick = |rng: &mut ChaCha8Rng| fobs[rng.random_range(0..fobs.len())].clone();
        // The camera's calibration: the empty carousel, another slot at the window.
        let plate = Plate::new(
            cameras.render(Camera::Internal, &Pose::empty(30), Variation::NONE, 0).expect("renders"),
        );
        let capture = |pose: &Pose, v: Variation, seed: u64| {
            let image = cameras.render(Camera::Internal, pose, v, seed).expect("renders");
            Signature::against(&image, &plate)
        };
        let references: Vec<Signature> = fobs
            .iter()
            .map(|f| {
                let n = [pick(&mut rng), pick(&mut rng)];
                capture(&pose(Some(f), [&n[0], &n[1]]), Variation::NONE, 0)
            })
            .collect();
        let (mut sames, mut others) = (Vec::new(), Vec::new());
        let mut seed = 1000;
        let mut hang = |look: Option<&Look>, rng: &mut ChaCha8Rng| {
            seed += 1;
            let n = [pick(rng), pick(rng)];
            capture(&pose(look, [&n[0], &n[1]]), Variation::random(seed), seed)
        };
        for (i, f) in fobs.iter().enumerate() {
            for _ in 0..HANGS {
                let after = hang(Some(f), &mut rng);
                for (j, reference) in references.iter().enumerate() {
                    let d = reference.distance(&after);
                    if i == j { sames.push(d) } else { others.push(d) }
                }
            }
        }
        let strangers: Vec<Option<Look>> = foreign().into_iter().map(Some).chain([None]).collect();
        for stranger in &strangers {
            for _ in 0..HANGS {
                let after = hang(stranger.as_ref(), &mut rng);
                others.extend(references.iter().map(|r| r.distance(&after)));
            }
        }
        let (fr, fa) = rates("rendered", sames, others);
        assert!(fa <= 0.005, "false accepts {:.2} % > 0.5 %", fa * 100.0);
        assert!(fr <= 0.01, "false rejects {:.2} % > 1 %", fr * 100.0);
    }
}
