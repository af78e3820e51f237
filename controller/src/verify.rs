//! Visual verification: is the key hanging in the slot the key that belongs there?
//!
//! The internal camera photographs the presented slot. At enrolment the controller keeps a
//! [`Signature`] of the key's slot with the key on its hook (the *reference*); after a return it
//! compares the *after* image's signature with it. The measure, built on the `image` crate,
//! has three parts, each chosen to be blind to one kind of noise:
//!
//! 0. The image is downscaled to 64×64 (sensor noise averages out) and white-balanced by the
//!    grey-world rule (each channel scaled to the same mean: the wall dominates the view, so
//!    the light's brightness and colour temperature drop out).
//! 1. **Colour**: a histogram of chromaticity `(r, g) / (r + g + b)` over every pixel, in
//!    [`CHROMA_BINS`]² bins with bilinear soft binning. A histogram does not change when the
//!    fob swings or the camera shifts; a fob of another colour moves its share of the mass.
//! 2. **Outline**: a histogram of gradient orientations (modulo π, soft-binned around the
//!    circle) in [`ORIENTATION_BINS`] bins over the
//!    pixels with a strong gradient (the strongest of the three colour channels', so a red fob
//!    on a grey wall has an outline even where luminance has none), weighted by gradient
//!    magnitude and normalised.
//!    A disc spreads over every bin, a long tag piles up on two; position does not matter.
//! 3. **Layout**: luminance on a [`GRID`]×[`GRID`] grid (triangle-filtered), normalised to zero
//!    mean and unit variance (so brightness and contrast drop out), compared by normalised
//!    cross-correlation at the best shift of up to [`MAX_SHIFT`] cells. Labels live here.
//!
//! `distance = COLOUR_WEIGHT · ½‖Δcolour‖₁ + OUTLINE_WEIGHT · ½‖Δoutline‖₁ + LAYOUT_WEIGHT · (1 − ncc) / 2`
//!
//! 0 is identical. A return matches when the distance is below [`MATCH_THRESHOLD`]. The
//! threshold, and the false accept and false reject rates on rendered slots with lighting and
//! pose noise, are measured by the simulator's verification accuracy test.

use image::{GrayImage, RgbImage, imageops};
use serde::{Deserialize, Serialize};

/// Bins per chromaticity axis.
pub const CHROMA_BINS: usize = 10;
/// Bins of gradient orientation (0..π).
pub const ORIENTATION_BINS: usize = 12;
/// Cells per side of the layout grid.
pub const GRID: u32 = 16;
/// Largest shift, in layout cells, tried when comparing.
pub const MAX_SHIFT: i32 = 2;
/// Weight of the colour term.
pub const COLOUR_WEIGHT: f32 = 1.0;
/// Weight of the outline term.
pub const OUTLINE_WEIGHT: f32 = 1.0;
/// Weight of the layout term.
pub const LAYOUT_WEIGHT: f32 = 1.0;
/// Distances below this are the same key.
pub const MATCH_THRESHOLD: f32 = 0.24;

const CELLS: usize = (GRID * GRID) as usize;
/// Side of the working image the histograms are taken on.
const WORK: u32 = 64;
/// Gradient magnitude (levels over two pixels) that counts as an edge.
const EDGE: f32 = 30.0;

/// What the comparison keeps of an image.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// Chromaticity histogram, normalised to sum 1.
    colour: Vec<f32>,
    /// Orientation histogram, normalised to sum 1 (all zero for a flat image).
    outline: Vec<f32>,
    /// Normalised luminance per layout cell, scaled by 32 and clamped to i8.
    layout: Vec<i8>,
}

impl core::fmt::Debug for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Signature")
    }
}

fn normalise(v: &mut [f32]) {
    let sum: f32 = v.iter().sum();
    if sum > 0.0 {
        v.iter_mut().for_each(|x| *x /= sum);
    }
}

fn half_l1(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / 2.0
}

impl Signature {
    /// The signature of an image of any size.
    pub fn of(image: &RgbImage) -> Signature {
        // Downscale first: sensor noise averages out, shape and colour stay.
        let work = imageops::resize(image, WORK, WORK, imageops::FilterType::Triangle);
        let n = (WORK * WORK) as f32;
        // Grey-world white balance: the wall dominates the view, so scaling each channel to the
        // same mean removes the light's brightness and colour temperature.
        let mut mean = [0.0f32; 3];
        for p in work.pixels() {
            for (m, v) in mean.iter_mut().zip(p.0) {
                *m += f32::from(v) / n;
            }
        }
        let grey = (mean[0] + mean[1] + mean[2]) / 3.0;
        let gain = mean.map(|m| if m > 1.0 { grey / m } else { 1.0 });
        let balanced: Vec<[f32; 3]> =
            work.pixels().map(|p| [0, 1, 2].map(|c| f32::from(p.0[c]) * gain[c])).collect();

        let mut colour = vec![0.0f32; CHROMA_BINS * CHROMA_BINS];
        for [r, g, b] in &balanced {
            let sum = r + g + b + 1.0;
            // Soft (bilinear) binning: a colour near a bin edge counts in both neighbours.
            let (fr, fg) = (r / sum * CHROMA_BINS as f32 - 0.5, g / sum * CHROMA_BINS as f32 - 0.5);
            let (r0, g0) = (fr.floor(), fg.floor());
            let (wr, wg) = (fr - r0, fg - g0);
            for (dr, wr) in [(0.0, 1.0 - wr), (1.0, wr)] {
                for (dg, wg) in [(0.0, 1.0 - wg), (1.0, wg)] {
                    let (ri, gi) = (
                        (r0 + dr).clamp(0.0, (CHROMA_BINS - 1) as f32),
                        (g0 + dg).clamp(0.0, (CHROMA_BINS - 1) as f32),
                    );
                    colour[ri as usize * CHROMA_BINS + gi as usize] += wr * wg;
                }
            }
        }
        normalise(&mut colour);

        let mut outline = vec![0.0f32; ORIENTATION_BINS];
        let w = WORK as usize;
        let at = |x: usize, y: usize, c: usize| balanced[y * w + x][c];
        for y in 1..w - 1 {
            for x in 1..w - 1 {
                // The strongest of the three colour channels' gradients, as colour HOG does:
                // a red fob on a grey wall has an edge in red even where luminance has none.
                let (mut gx, mut gy, mut m) = (0.0f32, 0.0f32, 0.0f32);
                for c in 0..3 {
                    let cx = at(x + 1, y, c) - at(x - 1, y, c);
                    let cy = at(x, y + 1, c) - at(x, y - 1, c);
                    let cm = (cx * cx + cy * cy).sqrt();
                    if cm > m {
                        (gx, gy, m) = (cx, cy, cm);
                    }
                }
                if m < EDGE {
                    continue;
                }
                // Orientation modulo π, soft-binned around the circle: 179° is next to 0°.
                let angle = gy.atan2(gx).rem_euclid(std::f32::consts::PI);
                let f = angle / std::f32::consts::PI * ORIENTATION_BINS as f32 - 0.5;
                let b0 = f.floor();
                let w1 = f - b0;
                let k = ORIENTATION_BINS as i32;
                outline[(b0 as i32).rem_euclid(k) as usize] += m * (1.0 - w1);
                outline[(b0 as i32 + 1).rem_euclid(k) as usize] += m * w1;
            }
        }
        normalise(&mut outline);

        let mut lum = GrayImage::new(WORK, WORK);
        for (i, p) in lum.pixels_mut().enumerate() {
            let [r, g, b] = balanced[i];
            p.0 = [(0.299 * r + 0.587 * g + 0.114 * b).clamp(0.0, 255.0) as u8];
        }
        let small = imageops::resize(&lum, GRID, GRID, imageops::FilterType::Triangle);
        let cells: Vec<f32> = small.pixels().map(|p| f32::from(p.0[0])).collect();
        let mean = cells.iter().sum::<f32>() / CELLS as f32;
        let var = cells.iter().map(|l| (l - mean) * (l - mean)).sum::<f32>() / CELLS as f32;
        let sd = var.sqrt().max(1.0);
        let layout = cells.iter().map(|l| ((l - mean) / sd * 32.0).clamp(-127.0, 127.0) as i8).collect();
        Signature { colour, outline, layout }
    }

    /// Whether an image is all dark (a camera that returns black frames).
    pub fn is_blank(image: &RgbImage) -> bool {
        image.pixels().all(|p| p.0.iter().all(|&c| c < 8))
    }

    /// The distance between two signatures (see the module docs).
    pub fn distance(&self, other: &Signature) -> f32 {
        let [colour, outline, layout] = self.terms(other);
        COLOUR_WEIGHT * colour + OUTLINE_WEIGHT * outline + LAYOUT_WEIGHT * layout
    }

    /// The three unweighted terms of the distance: colour, outline, layout (for diagnostics).
    pub fn terms(&self, other: &Signature) -> [f32; 3] {
        let colour = half_l1(&self.colour, &other.colour);
        let outline = half_l1(&self.outline, &other.outline);
        let mut ncc = -1.0f32;
        for dy in -MAX_SHIFT..=MAX_SHIFT {
            for dx in -MAX_SHIFT..=MAX_SHIFT {
                ncc = ncc.max(self.layout_ncc(other, dx, dy));
            }
        }
        [colour, outline, (1.0 - ncc) / 2.0]
    }

    fn layout_ncc(&self, other: &Signature, dx: i32, dy: i32) -> f32 {
        let g = GRID as i32;
        let (mut sab, mut saa, mut sbb) = (0.0f32, 0.0f32, 0.0f32);
        for y in 0.max(-dy)..g.min(g - dy) {
            for x in 0.max(-dx)..g.min(g - dx) {
                let la = f32::from(self.layout[(y * g + x) as usize]);
                let lb = f32::from(other.layout[((y + dy) * g + (x + dx)) as usize]);
                sab += la * lb;
                saa += la * la;
                sbb += lb * lb;
            }
        }
        if saa > 0.0 && sbb > 0.0 { sab / (saa * sbb).sqrt() } else { 0.0 }
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
    fn a_label_alone_moves_the_distance_beyond_pose_and_light_noise() {
        // Keys are told apart by colour and outline; a label is extra evidence, not relied on.
        let reference = Signature::of(&slot(RED, false, 0, 1.0));
        let unlabelled = reference.distance(&Signature::of(&slot_labelled(RED, false, 0, 1.0, 100)));
        let noisy = [(3, 1.0), (-4, 1.2), (2, 0.8)]
            .map(|(dx, light)| reference.distance(&Signature::of(&slot(RED, false, dx, light))));
        assert!(noisy.iter().all(|&d| d < unlabelled), "{noisy:?} vs {unlabelled}");
    }

    #[test]
    fn black_frames_are_blank() {
        assert!(Signature::is_blank(&RgbImage::new(8, 8)));
        assert!(!Signature::is_blank(&slot(RED, false, 0, 1.0)));
    }
}
