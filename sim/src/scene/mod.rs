//! The automat in 3D: one model that the viewer draws and the rendered cameras see.
//!
//! What the model shows is plain data, a [`Pose`] per automat: where the carousel stands, how
//! far the door is open, what hangs on each hook (and how the fob at the window swings), the
//! front panel's LEDs, the interior light and the person at the keypad. The viewer makes poses
//! from a trace's frames; a camera capture makes one from the plant at the capture's instant.
//! Behind the `render` feature, [`model`] builds and moves Bevy entities from them (the
//! [`ScenePlugin`]): cabinet, carousel drum with a pocket, hook and number plate per slot,
//! fobs as solid shapes with their label printed on the face and a metal key on the ring, the
//! presentation window, interior light, front panel, and people.
//!
//! Geometry, in metres: an automat stands on the floor at its origin, its front panel at
//! `z = DEPTH / 2` facing +z; the drum turns about the vertical axis, and slot `k` faces the
//! window when the carousel's position is `k` (modulo the slot count).

use crate::plant::look::{Look, Person};

#[cfg(feature = "render")]
pub mod model;
#[cfg(feature = "render")]
pub use model::{Layout, SceneCamera, ScenePlugin, Stage};

/// Cabinet width, height and depth.
pub const WIDTH: f32 = 1.0;
/// Cabinet height.
pub const HEIGHT: f32 = 1.9;
/// Cabinet depth.
pub const DEPTH: f32 = 1.0;
/// The drum's wall (the back of every slot's pocket).
pub const DRUM_RADIUS: f32 = 0.30;
/// How far the dividers between pockets reach out.
pub const POCKET_RADIUS: f32 = 0.40;
/// The drum's bottom and top.
pub const DRUM_BOTTOM: f32 = 0.35;
/// The drum's top.
pub const DRUM_TOP: f32 = 1.84;
/// The hooks' height.
pub const HOOK_Y: f32 = 1.16;
/// Where a ring hangs on its hook: distance from the axis.
pub const HANG_RADIUS: f32 = 0.352;
/// The presentation window in the front panel: centre height, width, height.
pub const WINDOW_Y: f32 = 1.08;
/// Window width.
pub const WINDOW_W: f32 = 0.1;
/// Window height.
pub const WINDOW_H: f32 = 0.3;
/// The screen on the front panel, relative to the automat's origin.
pub const SCREEN: [f32; 3] = [0.25, 1.42, DEPTH / 2.0 + 0.012];
/// Where the person using the keypad stands.
pub const PERSON: [f32; 3] = [0.2, 0.0, DEPTH / 2.0 + 0.55];

/// How the fob at the window hangs off the vertical, radians: it has just been hung and
/// swings on its hook.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Swing {
    /// Sideways, about the hook's axis (seen from the window: a pendulum).
    pub roll: f32,
    /// Towards or away from the window.
    pub pitch: f32,
    /// Turned about the vertical.
    pub yaw: f32,
}

/// One automat as the scene shows it at a moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Pose {
    /// Slots on the carousel.
    pub slots: u8,
    /// Carousel position in slots: slot `k` faces the window at `k` modulo `slots`.
    pub carousel: f64,
    /// The outer door: 0 shut, 1 wide open.
    pub door: f32,
    /// What hangs on each hook.
    pub hooks: Vec<Option<Look>>,
    /// How the fob at the window swings.
    pub swing: Swing,
    /// The Ready, Busy, Fault and Window LEDs: lit or not.
    pub leds: [bool; 4],
    /// The interior light's level: 1 nominal, 0 off (no power).
    pub light: f32,
    /// The person at the keypad, if anyone stands there.
    pub person: Option<Person>,
}

impl Pose {
    /// A carousel of `slots` at rest with slot 0 at the window, door shut, nothing hanging.
    pub fn empty(slots: u8) -> Pose {
        Pose {
            slots,
            carousel: 0.0,
            door: 0.0,
            hooks: vec![None; usize::from(slots)],
            swing: Swing::default(),
            leds: [false; 4],
            light: 1.0,
            person: None,
        }
    }

    /// The slot nearest the window.
    pub fn window_slot(&self) -> usize {
        let n = f64::from(self.slots.max(1));
        (self.carousel.round().rem_euclid(n)) as usize
    }
}
