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
//! **With a plate.** An automat whose internal camera was calibrated at installation (an image
//! of an empty pocket, its [`Plate`]) has its fobs told from that image instead
//! ([`Signature::against`]), which is what a camera that sees a real pocket needs: the pocket's
//! back is shaded from top to bottom by the interior light, the dividers and the neighbouring
//! slots show at the sides, and a grey fob may be as bright as the wall somewhere.
//!
//! 0. **Region**: the pocket, between [`POCKET_LEFT`] and [`POCKET_RIGHT`] of the width, below
//!    [`POCKET_TOP`] of the height.
//! 1. **Gain**: the median ratio of the image's brightness to the plate's over the region (the
//!    fob covers less than half of it): the exposure and the light's level drop out.
//! 2. **Fob**: the largest 4-connected set of pixels that differ from the plate (times the
//!    gain) by more than [`PLATE_FOREGROUND`] of the plate's brightness there (at least
//!    [`PLATE_FLOOR`] levels).
//! 3. **Colour**: per channel, the median level over that set as if at the plate's exposure
//!    (divided by the gain), as a logarithm; levels below [`DARK_FLOOR`] count as that floor.
//! 4. **Face**: of that set, the largest part within [`HUE_BAND`] of the colour's hue and
//!    [`SHADE_BAND`] of its shade (the fob, not the ring, the key or the fob's lit edge), its
//!    holes (the print) filled: the outline, compared as without a plate.
//! 5. **Print**: pixels at least [`PRINT_MARGIN`] inside the face and darker than [`INK`] of
//!    its median brightness, in strokes of at least [`PRINT_SPECK`] pixels. Two prints are laid
//!    over each other by the centres of their boxes, one stretched to the other's size by up to
//!    [`PRINT_STRETCH`], at the best of the outline's rotations (a disc's outline does not tell
//!    its roll) and the best shift of up to [`PRINT_SHIFT`] pixels; the term is the share of
//!    either print's ink with no ink of the other within [`PRINT_REACH`] pixels (a stroke seen
//!    a pixel aside is the same stroke; a glyph cell one label has and the other lacks is
//!    not). Fobs alike but for their label differ here.
//!
//! `distance = max(colour / COLOUR_TOLERANCE, (1 − IoU) / SHAPE_TOLERANCE, print /
//! PRINT_TOLERANCE)`: 0 is identical, and a return matches below [`MATCH_THRESHOLD`] (1). An
//! empty hook against a fob has IoU 0. Without a plate there is no print term: keys are told
//! apart by colour and outline (labels are inside the mask but too small to decide), so keys of
//! one automat need distinct colour and shape combinations. The false
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

/// The pocket's region in a plate-calibrated image: left and right edges and top, as fractions
/// of the width and height.
pub const POCKET_LEFT: f32 = 0.25;
/// The pocket region's right edge.
pub const POCKET_RIGHT: f32 = 0.75;
/// The pocket region's top.
pub const POCKET_TOP: f32 = 0.28;
/// With a plate: how far from the plate (as a fraction of its brightness there, and at least
/// [`PLATE_FLOOR`] levels) a fob pixel is. The plate is the very background, so this can be
/// far below [`FOREGROUND`].
pub const PLATE_FOREGROUND: f32 = 0.12;
/// The least difference from the plate a fob pixel has, levels (above the sensor's noise).
pub const PLATE_FLOOR: f32 = 14.0;
/// A fob pixel darker than this share of the fob's median brightness is print.
pub const INK: f32 = 0.55;
/// With a plate: levels below this are noise (a dark channel's ratios are floored here).
pub const DARK_FLOOR: f32 = 12.0;
/// With a plate: a pixel of the fob's colour has the hue of its median within this, per
/// channel (log ratio to the pixel's mean): the ring and the key on it have another.
pub const HUE_BAND: f32 = 0.3;
/// With a plate: and its brightness within this of the median's (log): the light falls off
/// down a long tag.
pub const SHADE_BAND: f32 = 0.8;
/// Print lies this many pixels or more inside the fob's outline (nearer the edge, a fob's
/// shaded side shows when it hangs turned).
pub const PRINT_MARGIN: usize = 4;
/// Print difference worth 1 (see the module docs).
pub const PRINT_TOLERANCE: f32 = 0.08;
/// How far apart two strokes may be seen and still be one, pixels.
pub const PRINT_REACH: i32 = 1;
/// Dark specks smaller than this (pixels) are shading, not print.
pub const PRINT_SPECK: usize = 12;
/// How far one print may be stretched, each way, to lie over another (a share of its size).
pub const PRINT_STRETCH: f32 = 0.1;
/// The largest shift tried when laying one print over another, pixels.
pub const PRINT_SHIFT: i32 = 2;

/// An automat's internal camera's image of an empty pocket, taken at installation: what fobs
/// are told from (see the module docs).
#[derive(Clone)]
pub struct Plate(std::sync::Arc<RgbImage>);

impl Plate {
    /// The plate of `image`.
    pub fn new(image: RgbImage) -> Plate {
        Plate(std::sync::Arc::new(image))
    }
}

impl core::fmt::Debug for Plate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Plate({}×{})", self.0.width(), self.0.height())
    }
}

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
    /// The print, bits over the box as the mask (with a plate only; `None` without). Always
    /// serialized: the journal's format (postcard) has no field names to leave one out by.
    print: Option<Vec<u8>>,
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
        self.bit_of(&self.mask, x, y)
    }

    /// A bit of a mask over the box (outside it: unset).
    fn bit_of(&self, bits: &[u8], x: i32, y: i32) -> bool {
        if x < 0 || y < 0 || x >= i32::from(self.width) || y >= i32::from(self.height) {
            return false;
        }
        let i = y as usize * usize::from(self.width) + x as usize;
        bits.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
    }

    /// The rotation (radians) at which this outline best covers `other`'s, centroids aligned,
    /// and the overlap there.
    fn best_rotation(&self, other: &Fob) -> (f32, usize) {
        let points: Vec<(f32, f32)> = self.points().collect();
        (-ROTATION_STEPS..=ROTATION_STEPS)
            .map(|step| {
                let angle = step as f32 * ROTATION_STEP;
                let (sin, cos) = angle.sin_cos();
                let n = points
                    .iter()
                    .filter(|&&(x, y)| {
                        let u = cos * x - sin * y + other.centroid.0;
                        let v = sin * x + cos * y + other.centroid.1;
                        other.bit(u.round() as i32, v.round() as i32)
                    })
                    .count();
                (angle, n)
            })
            .fold((0.0, 0), |best, c| if c.1 > best.1 { c } else { best })
    }

    /// The pixels of the mask, relative to the centroid.
    fn points(&self) -> impl Iterator<Item = (f32, f32)> + '_ {
        self.pixels_of(&self.mask).map(|(x, y)| (x as f32 - self.centroid.0, y as f32 - self.centroid.1))
    }

    /// The pixels of a mask over the box, as coordinates.
    fn pixels_of<'a>(&'a self, bits: &'a [u8]) -> impl Iterator<Item = (i32, i32)> + 'a {
        let (w, h) = (i32::from(self.width), i32::from(self.height));
        (0..h).flat_map(move |y| (0..w).map(move |x| (x, y))).filter(move |&(x, y)| self.bit_of(bits, x, y))
    }

    /// The share of this fob's print with no print of `other` within [`PRINT_REACH`], the two
    /// laid over each other by the centres of their boxes, stretched to the other's size by up
    /// to [`PRINT_STRETCH`], at the best rotation (a round fob's outline does not tell its
    /// roll) and the best shift of up to [`PRINT_SHIFT`] pixels.
    fn print_missed(&self, other: &Fob) -> f32 {
        let (Some(mine), Some(theirs)) = (&self.print, &other.print) else { return 0.0 };
        let ink: Vec<(i32, i32)> = self.pixels_of(mine).collect();
        let their: Vec<(i32, i32)> = other.pixels_of(theirs).collect();
        match (ink.is_empty(), their.is_empty()) {
            (true, _) => return 0.0,
            (false, true) => return 1.0,
            _ => {}
        }
        // The centre of the print's bounding box: the ink's centroid would align a T's stem
        // with a 7's.
        let frame = |v: &[(i32, i32)]| {
            let (x0, x1) = v.iter().fold((i32::MAX, i32::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
            let (y0, y1) = v.iter().fold((i32::MAX, i32::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
            ((x0 + x1) as f32 / 2.0, (y0 + y1) as f32 / 2.0, (x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32)
        };
        let ((mx, my, mw, mh), (tx, ty, tw, th)) = (frame(&ink), frame(&their));
        // Stretched to the other's size, within what a swing does to one print.
        let stretch = |to: f32, from: f32| (to / from).clamp(1.0 - PRINT_STRETCH, 1.0 + PRINT_STRETCH);
        let (kx, ky) = (stretch(tw, mw), stretch(th, mh));
        // The other's print, grown by the reach, on a grid with room for the shifts.
        let (ow, oh) = (i32::from(other.width), i32::from(other.height));
        let r = PRINT_REACH + PRINT_SHIFT;
        let (gw, gh) = (ow + 2 * r, oh + 2 * r);
        let mut near = vec![false; (gw * gh) as usize];
        for &(x, y) in &their {
            for dy in -PRINT_REACH..=PRINT_REACH {
                for dx in -PRINT_REACH..=PRINT_REACH {
                    near[((y + r + dy) * gw + x + r + dx) as usize] = true;
                }
            }
        }
        let mut fewest = ink.len();
        for step in -ROTATION_STEPS..=ROTATION_STEPS {
            let (sin, cos) = (step as f32 * ROTATION_STEP).sin_cos();
            let placed: Vec<(i32, i32)> = ink
                .iter()
                .map(|&(x, y)| {
                    let (x, y) = ((x as f32 - mx) * kx, (y as f32 - my) * ky);
                    ((cos * x - sin * y + tx).round() as i32 + r, (sin * x + cos * y + ty).round() as i32 + r)
                })
                .collect();
            for sy in -PRINT_SHIFT..=PRINT_SHIFT {
                for sx in -PRINT_SHIFT..=PRINT_SHIFT {
                    let missed = placed
                        .iter()
                        .filter(|&&(u, v)| {
                            let (u, v) = (u + sx, v + sy);
                            u < 0 || v < 0 || u >= gw || v >= gh || !near[(v * gw + u) as usize]
                        })
                        .count();
                    fewest = fewest.min(missed);
                }
            }
        }
        fewest as f32 / ink.len() as f32
    }
}

/// A pixel's brightness: the mean of its channels.
fn brightness(p: [u8; 3]) -> f32 {
    (f32::from(p[0]) + f32::from(p[1]) + f32::from(p[2])) / 3.0
}

/// The median of some values (reorders them; NaN for none).
fn median_of(values: &mut [f32]) -> f32 {
    if values.is_empty() {
        return f32::NAN;
    }
    let mid = values.len() / 2;
    *values.select_nth_unstable_by(mid, f32::total_cmp).1
}

/// The 4-connected components of a `rw`×`rh` mask: the label of each pixel (0: background)
/// and the size of each label's component (index `label − 1`).
fn components(foreground: &[bool], rw: usize, rh: usize) -> (Vec<u32>, Vec<usize>) {
    let mut component = vec![0u32; rw * rh];
    let mut sizes = Vec::new();
    let mut stack = Vec::new();
    for start in 0..rw * rh {
        if !foreground[start] || component[start] != 0 {
            continue;
        }
        let label = sizes.len() as u32 + 1;
        component[start] = label;
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
                    component[j] = label;
                    stack.push(j);
                }
            }
        }
        sizes.push(size);
    }
    (component, sizes)
}

/// The 4-connected components of a `rw`×`rh` mask: the label of each pixel (0: background),
/// the label of the largest and its size.
fn largest_component(foreground: &[bool], rw: usize, rh: usize) -> (Vec<u32>, u32, usize) {
    let (component, sizes) = components(foreground, rw, rh);
    let (best, size) =
        sizes.iter().enumerate().fold((0, 0), |b, (i, &n)| if n > b.1 { (i as u32 + 1, n) } else { b });
    (component, best, size)
}

/// Sets every pixel of a `rw`×`rh` mask that the background cannot reach from the border
/// (4-connected): the holes.
fn fill_holes(mask: &mut [bool], rw: usize, rh: usize) {
    let background: Vec<bool> = mask.iter().map(|&m| !m).collect();
    let (parts, sizes) = components(&background, rw, rh);
    // Per label (0: the mask), whether that part of the background touches the border.
    let mut outside = vec![false; sizes.len() + 1];
    for (i, &part) in parts.iter().enumerate() {
        let (x, y) = (i % rw, i / rw);
        if part != 0 && (x == 0 || y == 0 || x + 1 == rw || y + 1 == rh) {
            outside[part as usize] = true;
        }
    }
    for (m, part) in mask.iter_mut().zip(parts) {
        *m = !outside[part as usize];
    }
}

/// Over the box `(x0, y0, w, h)` of a mask `rw` wide: whether each pixel lies at least
/// `margin` pixels (horizontally and vertically) inside the mask.
fn interior(
    mask: &[bool],
    rw: usize,
    (x0, y0, w, h): (usize, usize, usize, usize),
    margin: usize,
) -> Vec<bool> {
    let set = |x: isize, y: isize| {
        x >= 0
            && y >= 0
            && (x as usize) < w
            && (y as usize) < h
            && mask[(y as usize + y0) * rw + x as usize + x0]
    };
    let m = margin as isize;
    (0..w * h)
        .map(|b| {
            let (x, y) = ((b % w) as isize, (b / w) as isize);
            set(x, y) && set(x - m, y) && set(x + m, y) && set(x, y - m) && set(x, y + m)
        })
        .collect()
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
        let (component, best, best_size) = largest_component(&foreground, rw, rh);
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
                print: None,
            }),
        }
    }

    /// The signature of an image taken by a camera calibrated with `plate` (see the module
    /// docs); an image of another size than the plate's is judged without it.
    pub fn against(image: &RgbImage, plate: &Plate) -> Signature {
        let plate = &*plate.0;
        let (w, h) = image.dimensions();
        if plate.dimensions() != (w, h) {
            return Signature::of(image);
        }
        let (x0, x1) = ((w as f32 * POCKET_LEFT) as u32, (w as f32 * POCKET_RIGHT) as u32);
        let y0 = (h as f32 * POCKET_TOP) as u32;
        if x1 < x0 + 3 || h < y0 + 3 {
            return Signature { fob: None };
        }
        let (rw, rh) = ((x1 - x0) as usize, (h - y0) as usize);
        let pixel = |i: usize| image.get_pixel(x0 + (i % rw) as u32, y0 + (i / rw) as u32).0;
        let behind = |i: usize| plate.get_pixel(x0 + (i % rw) as u32, y0 + (i / rw) as u32).0;
        // The gain: the median brightness ratio to the plate over the region.
        let mut ratios: Vec<f32> =
            (0..rw * rh).map(|i| brightness(pixel(i)) / brightness(behind(i)).max(4.0)).collect();
        let gain = median_of(&mut ratios);
        let gain = if gain.is_finite() && gain > 0.05 { gain } else { 1.0 };
        // The wall behind each pixel: the plate, as bright as this image.
        let wall = |i: usize| behind(i).map(|v| (f32::from(v) * gain).max(4.0));
        let foreground: Vec<bool> = (0..rw * rh)
            .map(|i| {
                let (p, q) = (pixel(i), wall(i));
                let level = (PLATE_FOREGROUND * (q[0] + q[1] + q[2]) / 3.0).max(PLATE_FLOOR);
                (0..3).any(|c| (f32::from(p[c]) - q[c]).abs() > level)
            })
            .collect();
        let (component, best, size) = largest_component(&foreground, rw, rh);
        if size < MIN_AREA {
            return Signature { fob: None };
        }
        // Its colour: per channel the median level, as if at the plate's exposure (the wall
        // behind a pixel is no measure of the light on the fob in front of it: a divider's
        // edge may lie behind).
        let ratio = |i: usize, c: usize| f32::from(pixel(i)[c]).max(DARK_FLOOR) / (gain * 128.0);
        let members: Vec<usize> = (0..rw * rh).filter(|&i| component[i] == best).collect();
        let colour =
            [0, 1, 2].map(|c| median_of(&mut members.iter().map(|&i| ratio(i, c)).collect::<Vec<_>>()).ln());
        let clipped =
            [0, 1, 2].map(|c| members.iter().filter(|&&i| f32::from(pixel(i)[c]) >= SATURATED).count());
        let saturated = clipped.map(|n| 2 * n >= size);
        // The fob proper: the pixels of its colour (not the ring or the key on it), its print
        // and any other hole filled.
        let shade = |l: [f32; 3]| (l[0] + l[1] + l[2]) / 3.0;
        let (hue, light) = (colour.map(|c| c - shade(colour)), shade(colour));
        let face: Vec<bool> = (0..rw * rh)
            .map(|i| {
                let l = [0, 1, 2].map(|c| ratio(i, c).ln());
                let s = shade(l);
                component[i] == best
                    && (s - light).abs() <= SHADE_BAND
                    && (0..3).all(|c| saturated[c] || (l[c] - s - hue[c]).abs() <= HUE_BAND)
            })
            .collect();
        let (parts, fob, _) = largest_component(&face, rw, rh);
        let mut mask: Vec<bool> = parts.iter().map(|&p| p == fob && fob != 0).collect();
        fill_holes(&mut mask, rw, rh);
        let area = mask.iter().filter(|&&m| m).count();
        if area < MIN_AREA {
            return Signature { fob: None };
        }
        let (mut bx0, mut by0, mut bx1, mut by1) = (rw, rh, 0, 0);
        let (mut sx, mut sy) = (0.0f64, 0.0f64);
        for i in (0..rw * rh).filter(|&i| mask[i]) {
            let (x, y) = (i % rw, i / rw);
            (bx0, by0, bx1, by1) = (bx0.min(x), by0.min(y), bx1.max(x), by1.max(y));
            (sx, sy) = (sx + x as f64, sy + y as f64);
        }
        let (bw, bh) = (bx1 - bx0 + 1, by1 - by0 + 1);
        let light = median_of(
            &mut (0..rw * rh).filter(|&i| mask[i]).map(|i| brightness(pixel(i))).collect::<Vec<_>>(),
        );
        let deep = interior(&mask, rw, (bx0, by0, bw, bh), PRINT_MARGIN);
        // The print: dark pixels well inside the face, in strokes (not specks of shading).
        let inside = |b: usize| (b / bw + by0) * rw + b % bw + bx0;
        let ink: Vec<bool> =
            (0..bw * bh).map(|b| deep[b] && brightness(pixel(inside(b))) < INK * light).collect();
        let (strokes, sizes) = components(&ink, bw, bh);
        let mut bits = vec![0u8; (bw * bh).div_ceil(8)];
        let mut print = vec![0u8; (bw * bh).div_ceil(8)];
        for b in 0..bw * bh {
            if mask[inside(b)] {
                bits[b / 8] |= 1 << (b % 8);
            }
            if strokes[b] != 0 && sizes[strokes[b] as usize - 1] >= PRINT_SPECK {
                print[b / 8] |= 1 << (b % 8);
            }
        }
        let n = area as f64;
        Signature {
            fob: Some(Fob {
                colour,
                saturated,
                width: bw as u16,
                height: bh as u16,
                centroid: ((sx / n - bx0 as f64) as f32, (sy / n - by0 as f64) as f32),
                area: area as u32,
                mask: bits,
                print: Some(print),
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
        let [colour, shape, print] = self.terms(other);
        (colour / COLOUR_TOLERANCE).max(shape / SHAPE_TOLERANCE).max(print / PRINT_TOLERANCE)
    }

    /// The three unweighted terms of the distance: colour (largest log-ratio difference),
    /// shape (1 − intersection over union) and print (the larger share of either print not
    /// found in the other; 0 without plates), for diagnostics.
    pub fn terms(&self, other: &Signature) -> [f32; 3] {
        match (&self.fob, &other.fob) {
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
                let (_, best) = a.best_rotation(b);
                let shape = 1.0 - best as f32 / (a.area as f32 + b.area as f32 - best as f32).max(1.0);
                let print = match (&a.print, &b.print) {
                    (Some(_), Some(_)) => a.print_missed(b).max(b.print_missed(a)),
                    _ => 0.0,
                };
                [colour, shape, print]
            }
            (None, None) => [0.0, 0.0, 0.0],
            _ => [0.0, 1.0, 0.0],
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
        assert_eq!(reference.terms(&empty), [0.0, 1.0, 0.0]);
    }

    /// A pocket 160×120 lit from above (bright at the top, dark at the bottom) between dark
    /// dividers, with a tag of `colour` at an offset, printed with a 3×5 `glyph` in 5-pixel
    /// cells, all under a gain (the exposure).
    fn pocket(tag: Option<(Rgb<u8>, [u8; 5])>, dx: i32, gain: f32) -> RgbImage {
        let mut img = RgbImage::new(160, 120);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let wall = 150.0 - 0.75 * y as f32;
            let level = if !(30..130).contains(&x) { 30.0 } else { wall };
            p.0 = [level, level, level * 1.05].map(|c| (c * gain).min(255.0) as u8);
        }
        if let Some((colour, glyph)) = tag {
            let (x0, y0) = (65 + dx, 40);
            for y in y0..y0 + 60 {
                for x in x0..x0 + 30 {
                    let (cx, cy) = ((x - x0 - 7) / 5, (y - y0 - 17) / 5);
                    let ink = (x - x0 - 7) >= 0
                        && (y - y0 - 17) >= 0
                        && cx < 3
                        && cy < 5
                        && glyph[cy as usize] & (4 >> cx) != 0;
                    let c = if ink { Rgb([20, 20, 22]) } else { colour };
                    img.put_pixel(
                        x as u32,
                        y as u32,
                        Rgb(c.0.map(|v| (f32::from(v) * gain).min(255.0) as u8)),
                    );
                }
            }
        }
        img
    }

    const T: [u8; 5] = [0b111, 0b010, 0b010, 0b010, 0b010];
    const SEVEN: [u8; 5] = [0b111, 0b001, 0b001, 0b010, 0b010];

    fn plate() -> Plate {
        Plate::new(pocket(None, 0, 1.0))
    }

    #[test]
    fn against_a_plate_the_same_fob_matches_under_other_exposure_and_shift() {
        let plate = plate();
        let reference = Signature::against(&pocket(Some((BLUE, T)), 0, 1.0), &plate);
        assert!(reference.has_fob());
        for (dx, gain) in [(0, 0.85), (3, 1.0), (-3, 1.15), (2, 0.9)] {
            let after = Signature::against(&pocket(Some((BLUE, T)), dx, gain), &plate);
            let d = reference.distance(&after);
            assert!(
                d < MATCH_THRESHOLD,
                "shift {dx}, gain {gain}: distance {d}, terms {:?}",
                reference.terms(&after)
            );
        }
    }

    #[test]
    fn against_a_plate_the_label_tells_fobs_otherwise_alike_apart() {
        let plate = plate();
        let t = Signature::against(&pocket(Some((BLUE, T)), 0, 1.0), &plate);
        let seven = Signature::against(&pocket(Some((BLUE, SEVEN)), 1, 1.0), &plate);
        let [colour, shape, print] = t.terms(&seven);
        assert!(colour < COLOUR_TOLERANCE && shape < SHAPE_TOLERANCE, "{colour} {shape}");
        assert!(print >= PRINT_TOLERANCE, "print term {print}");
        assert!(!t.matches(&seven));
        // Without the plate the print is not looked at: the two are one key.
        let (a, b) = (
            Signature::of(&pocket(Some((BLUE, T)), 0, 1.0)),
            Signature::of(&pocket(Some((BLUE, SEVEN)), 1, 1.0)),
        );
        assert_eq!(a.terms(&b)[2], 0.0);
    }

    #[test]
    fn against_a_plate_an_empty_pocket_is_empty_in_any_exposure() {
        let plate = plate();
        for gain in [0.85, 1.0, 1.15] {
            assert!(!Signature::against(&pocket(None, 0, gain), &plate).has_fob(), "gain {gain}");
        }
        // An image of another size than the plate's is judged without it.
        let small = slot(RED, false, 0, 1.0);
        assert_eq!(Signature::against(&small, &plate), Signature::of(&small));
    }

    #[test]
    fn black_frames_are_blank() {
        assert!(Signature::is_blank(&RgbImage::new(8, 8)));
        assert!(!Signature::is_blank(&slot(RED, false, 0, 1.0)));
    }
}
