//! What things look like to the internal camera, and the renderer that draws the presented
//! slot: a wall, a hook, and the key fob hanging on it with its shape, colour and label, under
//! seeded lighting and pose noise. Deterministic per seed.

use image::{Rgb, RgbImage};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Width and height of internal camera images.
pub const IMAGE_SIZE: u32 = 128;

/// A fob's outline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Shape {
    /// A disc.
    Round,
    /// A square.
    Square,
    /// A long rectangular tag.
    Tag,
    /// A triangle, point down.
    Triangle,
}

/// How a key's fob looks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Look {
    /// Colour as `[r, g, b]`.
    pub colour: [u8; 3],
    /// Outline.
    pub shape: Shape,
    /// Up to 4 characters printed on it.
    #[serde(default)]
    pub label: String,
}

/// Named colours scenario files may use.
pub const COLOURS: [(&str, [u8; 3]); 10] = [
    ("red", [200, 40, 40]),
    ("blue", [40, 70, 210]),
    ("green", [40, 170, 70]),
    ("yellow", [230, 205, 40]),
    ("purple", [150, 60, 200]),
    ("orange", [240, 140, 30]),
    ("cyan", [30, 190, 210]),
    ("white", [235, 235, 235]),
    ("black", [30, 30, 30]),
    ("pink", [240, 120, 180]),
];

/// Lighting and pose of one capture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conditions {
    /// Overall brightness factor (1 = nominal).
    pub light: f32,
    /// Colour temperature shift: red's gain is `1 + warmth`, blue's `1 − warmth`.
    pub warmth: f32,
    /// Horizontal and vertical offset of the fob, pixels.
    pub shift: (f32, f32),
    /// Swing of the fob around the hook, radians.
    pub swing: f32,
    /// Sensor noise amplitude, levels.
    pub noise: f32,
}

impl Conditions {
    /// Nominal conditions (enrolment).
    pub const NOMINAL: Conditions =
        Conditions { light: 1.0, warmth: 0.0, shift: (0.0, 0.0), swing: 0.0, noise: 0.0 };

    /// Random conditions from a seed: light 0.7–1.3, warmth ±0.12, shift ±4 px, swing ±0.12 rad,
    /// noise 6 levels.
    pub fn random(seed: u64) -> Conditions {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Conditions {
            light: rng.random_range(0.7..1.3),
            warmth: rng.random_range(-0.12..0.12),
            shift: (rng.random_range(-4.0..4.0), rng.random_range(-4.0..4.0)),
            swing: rng.random_range(-0.12..0.12),
            noise: 6.0,
        }
    }
}

/// A 3×5 pixel font for labels: digits and upper-case letters. Each row's three pixels are
/// the bits 4, 2, 1, left to right.
pub fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_uppercase() {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 2, 2, 2],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'C' => [7, 4, 4, 4, 7],
        'D' => [6, 5, 5, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'F' => [7, 4, 6, 4, 4],
        'G' => [7, 4, 5, 5, 7],
        'H' => [5, 5, 7, 5, 5],
        'I' => [7, 2, 2, 2, 7],
        'J' => [1, 1, 1, 5, 7],
        'K' => [5, 5, 6, 5, 5],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'O' => [2, 5, 5, 5, 2],
        'P' => [7, 5, 7, 4, 4],
        'Q' => [7, 5, 5, 7, 1],
        'R' => [6, 5, 6, 5, 5],
        'S' => [3, 4, 2, 1, 6],
        'T' => [7, 2, 2, 2, 2],
        'U' => [5, 5, 5, 5, 7],
        'V' => [5, 5, 5, 5, 2],
        'W' => [5, 5, 7, 7, 5],
        'X' => [5, 5, 2, 5, 5],
        'Y' => [5, 5, 2, 2, 2],
        'Z' => [7, 1, 2, 4, 7],
        '-' => [0, 0, 7, 0, 0],
        ' ' => [0; 5],
        _ => [7, 7, 7, 7, 7],
    }
}

fn inside(shape: Shape, x: f32, y: f32) -> bool {
    match shape {
        Shape::Round => x * x + y * y <= 20.0 * 20.0,
        Shape::Square => x.abs() <= 18.0 && y.abs() <= 18.0,
        Shape::Tag => x.abs() <= 30.0 && y.abs() <= 11.0,
        Shape::Triangle => (-16.0..=20.0).contains(&y) && x.abs() <= (20.0 - y) * 0.75,
    }
}

/// Renders the presented slot with `look` hanging on the hook (`None`: an empty hook).
pub fn render_slot(look: Option<&Look>, c: Conditions, seed: u64) -> RgbImage {
    let n = IMAGE_SIZE as i32;
    let mut img = RgbImage::new(IMAGE_SIZE, IMAGE_SIZE);
    let (cx, cy) = (64.0 + c.shift.0, 78.0 + c.shift.1);
    let (sin, cos) = c.swing.sin_cos();
    let label: Vec<[u8; 5]> = look.map(|l| l.label.chars().take(4).map(glyph).collect()).unwrap_or_default();
    let label_w = label.len() as f32 * 4.0 * 2.0;
    for y in 0..n {
        for x in 0..n {
            // Wall: a soft vertical gradient; the slot's back plate a little darker.
            let mut px = [92.0 + y as f32 * 0.1, 92.0 + y as f32 * 0.1, 100.0];
            if (x - 64).abs() <= 1 && (14..52).contains(&y) {
                px = [205.0, 205.0, 210.0]; // hook
            }
            if let Some(look) = look {
                // Into the fob's frame: rotate around the hook's tip by the swing.
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                let (fx, fy) = (dx * cos + dy * sin, -dx * sin + dy * cos);
                if inside(look.shape, fx, fy) {
                    px = look.colour.map(f32::from);
                    // Label: 2× scaled 3×5 glyphs centred on the fob.
                    let lx = fx + label_w / 2.0;
                    let ly = fy + 5.0;
                    if lx >= 0.0 && ly >= 0.0 && lx < label_w && ly < 10.0 {
                        let (col, row) = ((lx / 2.0) as usize, (ly / 2.0) as usize);
                        let (g, gx) = (col / 4, col % 4);
                        if gx < 3 && label.get(g).is_some_and(|rows| rows[row] & (4 >> gx) != 0) {
                            px = [20.0, 20.0, 20.0];
                        }
                    }
                }
            }
            img.put_pixel(x as u32, y as u32, Rgb(px.map(|v| v.round() as u8)));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for p in img.pixels_mut() {
        let [r, g, b] = p.0.map(f32::from);
        // Sensor noise, uniform in ±noise: one random word gives the three channels a byte each.
        let word = if c.noise > 0.0 { rng.next_u32() } else { 0x0080_8080 };
        let noise = |shift: u32| (((word >> shift) & 0xFF) as f32 / 127.5 - 1.0) * c.noise;
        let r = r * c.light * (1.0 + c.warmth) + noise(0);
        let g = g * c.light + noise(8);
        let b = b * c.light * (1.0 - c.warmth) + noise(16);
        p.0 = [r, g, b].map(|v| v.clamp(0.0, 255.0) as u8);
    }
    img
}

/// How a person looks to the front camera: a scenario's `users[..].look`, or a default that
/// differs from user to user.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Height, metres.
    pub height: f32,
    /// Colour of their clothes, `[r, g, b]`.
    pub clothes: [u8; 3],
    /// Colour of their hair.
    pub hair: [u8; 3],
    /// Colour of their skin.
    pub skin: [u8; 3],
}

/// Default clothes, hair and skin colours of the `i`-th user: cycled with different periods so
/// that neighbours in a scenario's user list never look alike.
const CLOTHES: [[u8; 3]; 8] = [
    [40, 70, 150],
    [170, 40, 40],
    [60, 120, 60],
    [220, 200, 60],
    [90, 60, 130],
    [230, 230, 225],
    [200, 110, 40],
    [35, 35, 40],
];
const HAIR: [[u8; 3]; 5] = [[40, 28, 20], [200, 160, 90], [120, 60, 30], [20, 20, 20], [170, 170, 165]];
const SKIN: [[u8; 3]; 5] = [[235, 190, 160], [150, 100, 70], [210, 160, 120], [95, 65, 45], [245, 205, 180]];

impl Person {
    /// The default look of the `i`-th user of a scenario.
    pub fn default_for(i: usize) -> Person {
        Person {
            height: 1.62 + 0.07 * (i % 5) as f32,
            clothes: CLOTHES[i % CLOTHES.len()],
            hair: HAIR[(i * 3 + 1) % HAIR.len()],
            skin: SKIN[(i * 2) % SKIN.len()],
        }
    }
}

/// Width and height of drawn user photos.
pub const PHOTO_SIZE: u32 = 64;

/// Draws the front camera's photo of a person: their clothes, face and hair against the room,
/// the head higher in the picture the taller they are. Deterministic per seed.
pub fn render_user(person: &Person, seed: u64) -> RgbImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = PHOTO_SIZE as i32;
    let mut img = RgbImage::new(PHOTO_SIZE, PHOTO_SIZE);
    // The camera is at 1.55 m: a taller head is higher in the picture, 40 px per metre.
    let head_y = 30.0 - (person.height - 1.75) * 40.0;
    for y in 0..n {
        for x in 0..n {
            let (fx, fy) = (x as f32, y as f32);
            let mut px = [150.0 + fy * 0.3, 148.0 + fy * 0.3, 140.0 + fy * 0.2]; // the room
            let below = fy - head_y - 13.0;
            let shoulders = below > 0.0 && (fx - 32.0).abs() < 12.0 + below * 1.2;
            if shoulders {
                px = person.clothes.map(f32::from);
            }
            let (dx, dy) = ((fx - 32.0) / 12.0, (fy - head_y) / 15.0);
            if dx * dx + dy * dy <= 1.0 {
                px = person.skin.map(f32::from);
                if dy < -0.45 || (dy < 0.1 && dx.abs() > 0.85) {
                    px = person.hair.map(f32::from);
                } else if (dy + 0.1).abs() < 0.09 && (dx.abs() - 0.4).abs() < 0.12 {
                    px = [25.0, 25.0, 30.0]; // eyes
                }
            }
            let j: f32 = rng.random_range(-5.0..5.0);
            img.put_pixel(x as u32, y as u32, Rgb(px.map(|v| (v + j).clamp(0.0, 255.0) as u8)));
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(colour: [u8; 3], shape: Shape, label: &str) -> Look {
        Look { colour, shape, label: label.into() }
    }

    #[test]
    fn rendering_is_deterministic_per_seed() {
        let l = look([200, 40, 40], Shape::Round, "V3");
        let c = Conditions::random(9);
        assert_eq!(render_slot(Some(&l), c, 9), render_slot(Some(&l), c, 9));
        assert_ne!(render_slot(Some(&l), c, 9), render_slot(Some(&l), c, 10));
    }

    #[test]
    fn the_fob_colour_is_at_the_fob_and_the_label_is_dark() {
        let l = look([40, 70, 210], Shape::Square, "8");
        let img = render_slot(Some(&l), Conditions::NOMINAL, 1);
        assert_eq!(img.get_pixel(64, 92).0, [40, 70, 210]);
        let dark = (56..72)
            .flat_map(|x| (70..86).map(move |y| (x, y)))
            .any(|(x, y)| img.get_pixel(x, y).0 == [20, 20, 20]);
        assert!(dark, "label drawn");
    }
}
