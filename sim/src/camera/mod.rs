//! The automat's two cameras: the front camera photographs the person at the keypad, the
//! internal camera the slot at the window. A capture shows the [`Pose`] of the automat at the
//! capture's instant, in one of two modes:
//!
//! - [`CameraMode::Drawn`]: the fast 2D renderer of [`crate::plant::look`] (a wall, a hook,
//!   the fob's outline in its colour; a face against the room). The swarm's default.
//! - [`CameraMode::Rendered`]: the 3D scene ([`crate::scene`]) rendered by Bevy offscreen,
//!   through the camera mounted in the cabinet or on its front (feature `render`). One
//!   renderer serves every run of the process; a run's clock stands still while its capture
//!   is rendered.
//!
//! Either way a capture is varied by a seed drawn from the run's: the fob just hung swings on
//! its hook, the exposure and the interior light vary, the sensor adds noise. Same pose and
//! seed, same image (on one machine: other GPU drivers may rasterise a few pixels otherwise).

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::plant::look::{self, Conditions};
use crate::scene::{Pose, Swing};
pub use controller::Camera;

#[cfg(feature = "render")]
pub mod rendered;

/// How camera images are made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
pub enum CameraMode {
    /// Drawn in 2D: fast, no GPU (the default).
    #[default]
    Drawn,
    /// Rendered from the 3D scene (needs the `render` feature and a Vulkan device).
    Rendered,
}

impl std::fmt::Display for CameraMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CameraMode::Drawn => "drawn",
            CameraMode::Rendered => "rendered",
        })
    }
}

/// Width and height of rendered captures.
pub const RENDERED_SIZE: (u32, u32) = (320, 240);

/// What varies from one rendered capture to the next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Variation {
    /// How the fob at the window swings.
    pub swing: Swing,
    /// The interior light's level (a flicker around 1).
    pub light: f32,
    /// The sensor's gain (auto-exposure that never settles exactly).
    pub exposure: f32,
    /// The sensor's noise amplitude, levels.
    pub noise: f32,
}

impl Variation {
    /// None: the nominal image (enrolment).
    pub const NONE: Variation =
        Variation { swing: Swing { roll: 0.0, pitch: 0.0, yaw: 0.0 }, light: 1.0, exposure: 1.0, noise: 0.0 };

    /// From a seed: a swing of up to ±0.12 rad sideways (roll), ±0.03 rad to and fro (pitch:
    /// the pocket's back wall keeps it small) and ±0.2 rad turned (yaw), the light at 85–115 %,
    /// exposure 85–115 %, noise ±5 levels.
    pub fn random(seed: u64) -> Variation {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_CA4E_0000_0001);
        Variation {
            swing: Swing {
                roll: rng.random_range(-0.12..0.12),
                pitch: rng.random_range(-0.03..0.03),
                yaw: rng.random_range(-0.20..0.20),
            },
            light: rng.random_range(0.85..1.15),
            exposure: rng.random_range(0.85..1.15),
            noise: 5.0,
        }
    }
}

/// The cameras of a run: draws or renders captures.
#[derive(Clone, Debug)]
pub struct Cameras {
    mode: CameraMode,
    #[cfg(feature = "render")]
    renderer: Option<&'static rendered::Renderer>,
}

impl Cameras {
    /// Drawn cameras.
    pub fn drawn() -> Cameras {
        Cameras {
            mode: CameraMode::Drawn,
            #[cfg(feature = "render")]
            renderer: None,
        }
    }

    /// Cameras of `mode`: rendered ones start (or join) the process's renderer, and fail with
    /// why when there is no renderer (no Vulkan device, or a build without `render`).
    pub fn new(mode: CameraMode) -> Result<Cameras, String> {
        match mode {
            CameraMode::Drawn => Ok(Cameras::drawn()),
            #[cfg(feature = "render")]
            CameraMode::Rendered => {
                Ok(Cameras { mode, renderer: Some(rendered::Renderer::shared()?) })
            }
            #[cfg(not(feature = "render"))]
            CameraMode::Rendered => Err(
                "rendered cameras need the `render` feature: build with `cargo run --release -p sim --features render -- …`"
                    .into(),
            ),
        }
    }

    /// The mode.
    pub fn mode(&self) -> CameraMode {
        self.mode
    }

    /// The internal camera's image of an empty carousel of `slots` slots, still, in nominal
    /// light: the plate an installer calibrates the controller with (rendered cameras; drawn
    /// ones have none: the controller tells their fobs from the plain wall).
    pub fn plate(&self, slots: u8) -> Result<Option<RgbImage>, String> {
        match self.mode {
            CameraMode::Drawn => Ok(None),
            CameraMode::Rendered => {
                self.render(Camera::Internal, &Pose::empty(slots), Variation::NONE, 0).map(Some)
            }
        }
    }

    /// The internal camera's image of `look` on slot `slot`'s hook, at the window, still, in
    /// nominal light: a key's enrolment reference.
    pub fn reference(&self, slots: u8, slot: u8, look: &look::Look) -> Result<RgbImage, String> {
        match self.mode {
            CameraMode::Drawn => Ok(look::render_slot(Some(look), Conditions::NOMINAL, 0)),
            CameraMode::Rendered => {
                let mut pose = Pose::empty(slots);
                pose.carousel = f64::from(slot);
                if let Some(hook) = pose.hooks.get_mut(usize::from(slot)) {
                    *hook = Some(look.clone());
                }
                self.render(Camera::Internal, &pose, Variation::NONE, 0)
            }
        }
    }

    /// What `camera` sees of `pose`, varied by `seed`.
    pub fn capture(&self, camera: Camera, pose: &Pose, seed: u64) -> Result<RgbImage, String> {
        match self.mode {
            CameraMode::Drawn => Ok(draw(camera, pose, seed)),
            CameraMode::Rendered => self.render(camera, pose, Variation::random(seed), seed),
        }
    }

    /// What `camera` sees of `pose` under the variation `v` (rendered mode; drawn cameras
    /// draw with their own conditions).
    pub fn render(&self, camera: Camera, pose: &Pose, v: Variation, seed: u64) -> Result<RgbImage, String> {
        #[cfg(feature = "render")]
        if let Some(renderer) = self.renderer {
            let mut pose = pose.clone();
            pose.swing = v.swing;
            pose.light *= v.light;
            let mut image = renderer.render(camera, pose)?;
            expose(&mut image, v, seed);
            return Ok(image);
        }
        let _ = (v, seed);
        Ok(draw(camera, pose, seed))
    }
}

/// The drawn cameras: the slot at the window, or the person at the keypad.
fn draw(camera: Camera, pose: &Pose, seed: u64) -> RgbImage {
    match camera {
        Camera::Internal => {
            let at = (pose.carousel - pose.carousel.round()).abs() < 0.25;
            let look = pose.hooks.get(pose.window_slot()).and_then(Option::as_ref).filter(|_| at);
            look::render_slot(look, Conditions::random(seed), seed)
        }
        Camera::Front => {
            let nobody = look::Person { height: 0.0, clothes: [0; 3], hair: [0; 3], skin: [0; 3] };
            look::render_user(pose.person.as_ref().unwrap_or(&nobody), seed)
        }
    }
}

#[cfg(feature = "render")]
/// The sensor: a gain, and noise uniform in ±`v.noise` per channel, seeded.
fn expose(image: &mut RgbImage, v: Variation, seed: u64) {
    use rand::RngCore;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for p in image.pixels_mut() {
        let word = if v.noise > 0.0 { rng.next_u32() } else { 0x0080_8080 };
        let noise = |shift: u32| (((word >> shift) & 0xFF) as f32 / 127.5 - 1.0) * v.noise;
        for (c, value) in p.0.iter_mut().enumerate() {
            *value = (f32::from(*value) * v.exposure + noise(8 * c as u32)).round().clamp(0.0, 255.0) as u8;
        }
    }
}
