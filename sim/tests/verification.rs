//! Visual verification accuracy: the controller's image comparison judging internal-camera
//! images rendered by the simulator, with lighting and pose noise.
//!
//! 1,500 same-key pairs (the enrolment reference against an "after" image of the same fob under
//! random conditions) and 1,500 different-key pairs (the reference against another key's fob).
//! Keys of one automat are told apart by fob colour and outline (they are assigned distinct
//! combinations); labels differ too but are not relied upon. Bounds: false accepts ≤ 0.5 %,
//! false rejects ≤ 1 %.
//!
//! The renderer's noise: light 0.7–1.3 (bright fobs clip), a colour temperature gain of
//! ±12 % on red and blue, a shift of ±4 px, a swing of ±0.12 rad, sensor noise of ±6 levels.

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

#[test]
fn false_accepts_and_false_rejects_stay_within_bounds() {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let (mut sames, mut others) = (Vec::new(), Vec::new());
    let mut closest: Option<(f32, Look, Look)> = None;
    for i in 0..PAIRS {
        let a = random_look(&mut rng);
        let reference = Signature::of(&render_slot(Some(&a), Conditions::NOMINAL, 0));
        let seed = 10_000 + i as u64;
        let same = Signature::of(&render_slot(Some(&a), Conditions::random(seed), seed));
        sames.push(reference.distance(&same));
        let b = other_look(&mut rng, &a);
        let seed = 50_000 + i as u64;
        let other = Signature::of(&render_slot(Some(&b), Conditions::random(seed), seed));
        let d = reference.distance(&other);
        if closest.as_ref().is_none_or(|c| d < c.0) {
            closest = Some((d, a, b));
        }
        others.push(d);
    }
    let false_rejects = sames.iter().filter(|&&d| d >= MATCH_THRESHOLD).count();
    let false_accepts = others.iter().filter(|&&d| d < MATCH_THRESHOLD).count();
    sames.sort_by(f32::total_cmp);
    others.sort_by(f32::total_cmp);
    let (fr, fa) = (false_rejects as f64 / PAIRS as f64, false_accepts as f64 / PAIRS as f64);
    println!(
        "visual verification, {PAIRS} same-key + {PAIRS} other-key pairs, threshold {MATCH_THRESHOLD}: \
         false rejects {:.2} %, false accepts {:.2} %; same-key distance p50 {:.3} p99 {:.3} max {:.3}; \
         other-key distance min {:.3} p1 {:.3} p50 {:.3}; closest other pair {closest:?}",
        fr * 100.0,
        fa * 100.0,
        sames[PAIRS / 2],
        sames[PAIRS * 99 / 100],
        sames[PAIRS - 1],
        others[0],
        others[PAIRS / 100],
        others[PAIRS / 2],
    );
    assert!(fa <= 0.005, "false accepts {:.2} % > 0.5 %", fa * 100.0);
    assert!(fr <= 0.01, "false rejects {:.2} % > 1 %", fr * 100.0);
}

#[test]
fn an_empty_hook_never_matches_a_key() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for i in 0..50 {
        let a = random_look(&mut rng);
        let reference = Signature::of(&render_slot(Some(&a), Conditions::NOMINAL, 0));
        let empty = Signature::of(&render_slot(None, Conditions::random(i), i));
        assert!(!reference.matches(&empty), "{a:?}");
    }
}
