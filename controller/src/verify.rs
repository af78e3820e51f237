//! Visual verification: is the key hanging in the slot the key that belongs there?
//!
//! The internal camera photographs the presented slot from a fixed mount. At enrolment the
//! controller keeps a [`Signature`] of the key's slot with the key on its hook (the
//! *reference*); after a return it compares the *after* image's signature with it.
//!
//! A signature describes the fob, segmented from the wall:
//!
//! 0. **Region**: only the part of the image below the hook's tip ([`REGION_TOP`] of the
//!    height) is looked at; the camera mount fixes where the hook is.
//! 1. **Wall**: the median colour of the region's left, right and bottom border, where a fob
//!    never hangs. Everything is measured against it, so the light's brightness and colour
//!    temperature (a gain per channel) drop out.
//! 2. **Fob**: the largest 4-connected set of pixels that differ from the wall by more than
//!    [`FOREGROUND`] of the wall's brightness. Label strokes are part of it. Fewer than
//!    [`MIN_AREA`] pixels: the hook is empty.
//! 3. **Colour**: per channel, the median over the fob divided by the wall's (a median, so the
//!    label and the edges do not move it); compared by the largest difference of logarithms.
//!    A channel whose median is saturated ([`SATURATED`]) only bounds the true value from
//!    below, so it differs only from a value above that bound.
//! 4. **Outline**: the fob's pixel mask around its centroid; compared by intersection over union
//!    at the best of a few rotations (the fob swings on its hook), so a shift does not matter.
//!
//! `distance = max(colour / COLOUR_TOLERANCE, (1 − IoU) / SHAPE_TOLERANCE)`: 0 is identical,
//! and a return matches below [`MATCH_THRESHOLD`] (1). An empty hook against a fob has IoU 0.
//! Keys are told apart by colour and outline; labels are inside the mask but too small to
//! decide, so keys of one automat need distinct colour and shape combinations. The false
//! accept and false reject rates on rendered slots with lighting and pose noise are measured
//! by the simulator's verification accuracy test.

use image::RgbImage;
use serde::{Deserialize, Serialize};

/// Fraction of the image height above which the hook hangs; the region starts there.
pub const REGION_TOP: f32 = 0.41;
/// How far from the wall colour (as a fraction of the wall's mean brightness) a fob pixel is.
pub const FOREGROUND: f32 = 0.3;
/// The fewest pixels a fob has (fewer: an empty hook).
pub const MIN_AREA: usize = 64;
/// Colour difference (largest per-channel difference of log ratios to the wall) worth 1.
pub const COLOUR_TOLERANCE: f32 = 0.27;
/// Outline difference (1 − intersection over union) worth 1.
pub const SHAPE_TOLERANCE: f32 = 0.12;
/// A channel median at or above this level is taken as clipped by the sensor.
pub const SATURATED: f32 = 250.0;
/// Distances below this are the same key.
pub const MATCH_THRESHOLD: f32 = 1.0;
/// Rotations tried when comparing outlines: `ROTATION_STEP` apart, up to ±`ROTATION_STEP ·
/// ROTATION_STEPS` radians (a fob swings up to about ±0.12).
const ROTATION_STEP: f32 = 0.025;
const ROTATION_STEPS: i32 = 8;

/// What the comparison keeps of an image.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// The fob; `None` for an empty hook.
    fob: Option<Fob>,
}

/// A segmented fob.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
struct Fob {
    /// Per channel: median over the fob ÷ the wall's, as a natural logarithm.
    colour: [f32; 3],
    /// Per channel: whether the median was clipped (the colour is then a lower bound).
    saturated: [bool; 3],
    /// Width of the mask's bounding box, pixels.
    width: u16,
    /// Height of the mask's bounding box, pixels.
    height: u16,
    /// Centroid within the box.
    centroid: (f32, f32),
    /// Pixels in the mask.
    area: u32,
    /// The mask, row-major bits over the box.
    mask: Vec<u8>,
}

impl core::fmt::Debug for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.fob {
            Some(fob) => write!(f, "Signature(fob {} px, colour {:?})", fob.area, fob.colour),
            None => write!(f, "Signature(empty)"),
        }
    }
}

/// The median of a 256-bin histogram.
fn median(histogram: &[u32; 256]) -> f32 {
    let total: u32 = histogram.iter().sum();
    let mut seen = 0;
    for (level, &n) in histogram.iter().enumerate() {
        seen += n;
        if 2 * seen >= total {
            return level as f32;
        }
    }
    0.0
}

impl Fob {
    fn bit(&self, x: i32, y: i32) -> bool {
        if x < 0 || y < 0 || x >= i32::from(self.width) || y >= i32::from(self.height) {
            return false;
        }
        let i = y as usize * usize::from(self.width) + x as usize;
        self.mask[i / 8] & (1 << (i % 8)) != 0
    }

    /// The pixels of the mask, relative to the centroid.
    fn points(&self) -> impl Iterator<Item = (f32, f32)> + '_ {
        let (w, h) = (i32::from(self.width), i32::from(self.height));
        (0..h)
            .flat_map(move |y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| self.bit(x, y))
            .map(|(x, y)| (x as f32 - self.centroid.0, y as f32 - self.centroid.1))
    }

    /// Intersection over union with `other`, centroids aligned, at the best rotation.
    fn overlap(&self, other: &Fob) -> f32 {
        let points: Vec<(f32, f32)> = self.points().collect();
        let best = (-ROTATION_STEPS..=ROTATION_STEPS)
            .map(|step| {
                let (sin, cos) = (step as f32 * ROTATION_STEP).sin_cos();
                points
                    .iter()
                    .filter(|&&(x, y)| {
                        let u = cos * x - sin * y + other.centroid.0;
                        let v = sin * x + cos * y + other.centroid.1;
                        other.bit(u.round() as i32, v.round() as i32)
                    })
                    .count()
            })
            .max()
            .unwrap_or(0) as f32;
        best / (self.area as f32 + other.area as f32 - best).max(1.0)
    }
}

impl Signature {
    /// The signature of an image of any size.
    pub fn of(image: &RgbImage) -> Signature {
        let (w, h) = image.dimensions();
        let top = (h as f32 * REGION_TOP) as u32;
        if w < 3 || h < top + 3 {
            return Signature { fob: None };
        }
        // The wall: the median of the region's border, where no fob hangs.
        let mut border = [[0u32; 256]; 3];
        for y in top..h {
            for x in 0..w {
                if x < 2 || x + 2 >= w || y + 2 >= h {
                    for (c, &v) in image.get_pixel(x, y).0.iter().enumerate() {
                        border[c][usize::from(v)] += 1;
                    }
                }
            }
        }
        let wall = [0, 1, 2].map(|c| median(&border[c]).max(1.0));
        let level = FOREGROUND * (wall[0] + wall[1] + wall[2]) / 3.0;
        let (rw, rh) = (w as usize, (h - top) as usize);
        let foreground: Vec<bool> = (0..rw * rh)
            .map(|i| {
                let p = image.get_pixel((i % rw) as u32, top + (i / rw) as u32).0;
                (0..3).any(|c| (f32::from(p[c]) - wall[c]).abs() > level)
            })
            .collect();
        // The largest 4-connected set of foreground pixels.
        let mut component = vec![0u32; rw * rh];
        let (mut best, mut best_size, mut next) = (0u32, 0usize, 0u32);
        let mut stack = Vec::new();
        for start in 0..rw * rh {
            if !foreground[start] || component[start] != 0 {
                continue;
            }
            next += 1;
            component[start] = next;
            stack.push(start);
            let mut size = 0;
            while let Some(i) = stack.pop() {
                size += 1;
                let (x, y) = (i % rw, i / rw);
                let neighbours = [
                    (x > 0).then(|| i - 1),
                    (x + 1 < rw).then_some(i + 1),
                    (y > 0).then(|| i - rw),
                    (y + 1 < rh).then_some(i + rw),
                ];
                for j in neighbours.into_iter().flatten() {
                    if foreground[j] && component[j] == 0 {
                        component[j] = next;
                        stack.push(j);
                    }
                }
            }
            if size > best_size {
                (best, best_size) = (next, size);
            }
        }
        if best_size < MIN_AREA {
            return Signature { fob: None };
        }
        let inside = |i: usize| component[i] == best;
        let (mut x0, mut y0, mut x1, mut y1) = (rw, rh, 0, 0);
        let (mut sx, mut sy) = (0.0f64, 0.0f64);
        let mut levels = [[0u32; 256]; 3];
        for i in (0..rw * rh).filter(|&i| inside(i)) {
            let (x, y) = (i % rw, i / rw);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            (sx, sy) = (sx + x as f64, sy + y as f64);
            for (c, &v) in image.get_pixel(x as u32, top + y as u32).0.iter().enumerate() {
                levels[c][usize::from(v)] += 1;
            }
        }
        let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
        let mut mask = vec![0u8; (bw * bh).div_ceil(8)];
        for y in y0..=y1 {
            for x in x0..=x1 {
                if inside(y * rw + x) {
                    let b = (y - y0) * bw + (x - x0);
                    mask[b / 8] |= 1 << (b % 8);
                }
            }
        }
        let n = best_size as f64;
        let medians = [0, 1, 2].map(|c| median(&levels[c]));
        let colour = [0, 1, 2].map(|c| (medians[c].max(1.0) / wall[c]).ln());
        let saturated = medians.map(|m| m >= SATURATED);
        Signature {
            fob: Some(Fob {
                colour,
                saturated,
                width: bw as u16,
                height: bh as u16,
                centroid: ((sx / n - x0 as f64) as f32, (sy / n - y0 as f64) as f32),
                area: best_size as u32,
                mask,
            }),
        }
    }

    /// Whether an image is all dark (a camera that returns black frames).
    pub fn is_blank(image: &RgbImage) -> bool {
        image.pixels().all(|p| p.0.iter().all(|&c| c < 8))
    }

    /// Whether a fob was found (`false`: an empty hook).
    pub fn has_fob(&self) -> bool {
        self.fob.is_some()
    }

    /// The distance between two signatures (see the module docs).
    pub fn distance(&self, other: &Signature) -> f32 {
        let [colour, shape] = self.terms(other);
        (colour / COLOUR_TOLERANCE).max(shape / SHAPE_TOLERANCE)
    }

    /// The two unweighted terms of the distance: colour (largest log-ratio difference) and
    /// shape (1 − intersection over union), for diagnostics.
    pub fn terms(&self, other: &Signature) -> [f32; 2] {
        match (&self.fob, &other.fob) {
            (None, None) => [0.0, 0.0],
            (Some(a), Some(b)) => {
                let colour = (0..3)
                    .map(|c| match (a.saturated[c], b.saturated[c]) {
                        (true, true) => 0.0,
                        // A clipped channel is a lower bound of the true value.
                        (true, false) => (a.colour[c] - b.colour[c]).max(0.0),
                        (false, true) => (b.colour[c] - a.colour[c]).max(0.0),
                        (false, false) => (a.colour[c] - b.colour[c]).abs(),
                    })
                    .fold(0.0, f32::max);
                [colour, 1.0 - a.overlap(b)]
            }
            _ => [0.0, 1.0],
        }
    }

    /// Whether two signatures show the same key.
    pub fn matches(&self, other: &Signature) -> bool {
        self.distance(other) < MATCH_THRESHOLD
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A grey slot with a hook and a fob: a disc, or a long tag (`square`), of a colour, with a
    /// dark label stroke, at an offset, under a light.
    fn slot(fob: Rgb<u8>, square: bool, dx: i32, light: f32) -> RgbImage {
        slot_labelled(fob, square, dx, light, 0)
    }

    fn slot_labelled(fob: Rgb<u8>, square: bool, dx: i32, light: f32, label: i32) -> RgbImage {
        let mut img = RgbImage::from_pixel(96, 96, Rgb([90, 90, 96]));
        let (cx, cy) = (48 + dx, 56);
        for y in 0..96i32 {
            for x in 0..96i32 {
                let hook = (x - 48).abs() <= 1 && (10..40).contains(&y);
                let inside = if square {
                    (x - cx).abs() <= 26 && (y - cy).abs() <= 8
                } else {
                    (x - cx) * (x - cx) + (y - cy) * (y - cy) <= 15 * 15
                };
                let stroke = inside && (y - cy).abs() <= 2 && (x - cx - label).abs() <= 6;
                if hook {
                    img.put_pixel(x as u32, y as u32, Rgb([200, 200, 200]));
                } else if stroke {
                    img.put_pixel(x as u32, y as u32, Rgb([20, 20, 20]));
                } else if inside {
                    img.put_pixel(x as u32, y as u32, fob);
                }
            }
        }
        for p in img.pixels_mut() {
            p.0 = p.0.map(|c| (f32::from(c) * light).min(255.0) as u8);
        }
        img
    }

    const RED: Rgb<u8> = Rgb([200, 40, 40]);
    const BLUE: Rgb<u8> = Rgb([40, 60, 200]);

    #[test]
    fn same_key_under_other_light_and_pose_matches() {
        let reference = Signature::of(&slot(RED, false, 0, 1.0));
        for (dx, light) in [(0, 0.7), (3, 1.0), (-4, 1.2), (2, 0.8)] {
            let after = Signature::of(&slot(RED, false, dx, light));
            let d = reference.distance(&after);
            eprintln!("same: shift {dx} light {light}: {d}");
            assert!(d < MATCH_THRESHOLD, "shift {dx}, light {light}: distance {d}");
        }
    }

    #[test]
    fn other_colour_other_shape_or_empty_slot_does_not_match() {
        let reference = Signature::of(&slot(RED, false, 0, 1.0));
        let others = [
            slot(BLUE, false, 0, 1.0),
            slot(RED, true, 0, 1.0),
            RgbImage::from_pixel(96, 96, Rgb([90, 90, 96])),
        ];
        for (i, img) in others.iter().enumerate() {
            let d = reference.distance(&Signature::of(img));
            eprintln!("other {i}: {d}");
            assert!(d >= MATCH_THRESHOLD, "case {i}: distance {d}");
        }
    }

    #[test]
    fn a_colour_temperature_shift_does_not_matter_but_an_empty_hook_does() {
        let reference = Signature::of(&slot(RED, false, 0, 1.0));
        let mut warm = slot(RED, false, 2, 0.9);
        for p in warm.pixels_mut() {
            p.0 = [(f32::from(p.0[0]) * 1.1) as u8, p.0[1], (f32::from(p.0[2]) * 0.9) as u8];
        }
        let d = reference.distance(&Signature::of(&warm));
        assert!(d < MATCH_THRESHOLD / 2.0, "distance {d}");
        let empty = Signature::of(&RgbImage::from_pixel(96, 96, Rgb([90, 90, 96])));
        assert!(!empty.has_fob());
        assert_eq!(reference.terms(&empty), [0.0, 1.0]);
    }

    #[test]
    fn black_frames_are_blank() {
        assert!(Signature::is_blank(&RgbImage::new(8, 8)));
        assert!(!Signature::is_blank(&slot(RED, false, 0, 1.0)));
    }
}
