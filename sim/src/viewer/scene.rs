//! The viewer's 3D side: the automats of [`crate::scene`] (the model the rendered cameras see)
//! posed from the [`Current`] frame, under the room's light, and the camera that follows the
//! automat in use or orbits freely. The cabinet's side, top and back are clear and its front
//! panel left of the window is cut away, so the drum, its pockets and which slot is at the
//! window show from the default camera.

use bevy::prelude::*;
use firmware_proto::types::IndicatorMode;

use super::{Current, Model, Playback};
use crate::replay::{AutomatFrame, Replay};
pub(crate) use crate::scene::model::HangPoint;
pub(crate) use crate::scene::{DEPTH, DRUM_TOP, HOOK_Y, Layout, WINDOW_H, WINDOW_W, WINDOW_Y};
use crate::scene::{POCKET_RADIUS, Pose, ScenePlugin, Stage, Swing};

/// The pocket's outer radius (a fob at the window hangs just inside it).
pub(crate) const RADIUS: f32 = POCKET_RADIUS;
/// The front panel's screen, relative to an automat's origin.
pub(crate) const SCREEN: Vec3 = Vec3::from_array(crate::scene::SCREEN);
/// Where the person at the keypad stands, relative to an automat's origin.
pub(crate) const USER: Vec3 = Vec3::from_array(crate::scene::PERSON);
/// How long the door takes to swing open or shut, seconds.
const SWING_S: f32 = 0.6;

/// The model, posed from the frame at the playhead; the room's light; the viewer's camera.
pub(crate) struct ViewerScenePlugin;

impl Plugin for ViewerScenePlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(ScenePlugin { room: false })
            .add_systems(Startup, room)
            .add_systems(PreUpdate, pose.after(super::advance))
            .add_systems(Update, camera);
    }
}

/// A floor just under the automats (fill costs on a software rasteriser), one directional
/// light and ambient light, and the viewer's camera.
fn room(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    layout: Res<Layout>,
) {
    let floor = layout.origins.len() as f32 * (crate::scene::WIDTH + 1.1) + 2.0;
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::default().mesh().size(floor, 4.0))),
        MeshMaterial3d(materials.add(StandardMaterial {
            base_color: Color::srgb(0.22, 0.23, 0.25),
            unlit: true,
            ..default()
        })),
    ));
    commands.spawn((
        DirectionalLight { illuminance: 8_000.0, shadow_maps_enabled: false, ..default() },
        Transform::from_xyz(2.0, 5.0, 4.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    let focus = layout.origin(0) + Vec3::new(0.0, 1.0, 0.2);
    // No multisampling: on a software rasteriser (lavapipe) 4× MSAA costs most of the frame.
    commands.spawn((
        Camera3d::default(),
        Msaa::Off,
        AmbientLight { brightness: 700.0, ..default() },
        Transform::from_xyz(1.0, 1.6, 2.6).looking_at(focus, Vec3::Y),
    ));
}

/// The stage: each automat's pose in the frame at the playhead.
fn pose(current: Res<Current>, model: Res<Model>, mut stage: ResMut<Stage>) {
    let replay = model.replay();
    let poses: Vec<Pose> =
        current.0.automats.iter().enumerate().map(|(i, a)| pose_of(replay, i, a, current.0.t)).collect();
    if stage.poses != poses {
        stage.poses = poses;
    }
}

/// Automat `i` as the frame at `t` shows it: the door swinging for [`SWING_S`] after it moved,
/// blinking LEDs on at 2 Hz of the simulated clock, the person at the keypad as the trace's
/// scene says they look (in an old trace without looks, by their place in the scene).
fn pose_of(replay: &Replay, i: usize, a: &AutomatFrame, t: u64) -> Pose {
    let since = a.door_moved_at.map_or(f32::INFINITY, |m| t.saturating_sub(m) as f32 / 1e6);
    let progress = (since / SWING_S).clamp(0.0, 1.0);
    let eased = progress * progress * (3.0 - 2.0 * progress);
    let blink_on = (t / 250_000).is_multiple_of(2);
    let person = a.user.as_ref().map(|(name, _)| {
        let at = replay.users.iter().position(|u| u.name == *name).unwrap_or(i);
        replay
            .users
            .get(at)
            .and_then(|u| u.look)
            .unwrap_or_else(|| crate::plant::look::Person::default_for(at))
    });
    Pose {
        slots: u8::try_from(a.hooks.len()).unwrap_or(u8::MAX),
        carousel: a.carousel,
        door: if a.cabinet.door_open { eased } else { 1.0 - eased },
        hooks: a.hooks.iter().map(|h| h.as_ref().map(|item| item.look.clone())).collect(),
        swing: Swing::default(),
        leds: a.cabinet.leds.map(|m| {
            a.cabinet.powered
                && match m {
                    IndicatorMode::On => true,
                    IndicatorMode::Blink => blink_on,
                    IndicatorMode::Off => false,
                }
        }),
        light: if a.cabinet.powered { 1.0 } else { 0.0 },
        person,
    }
}

/// The follow camera's yaw, pitch (radians) and distance (metres) from the focus.
const FOLLOW: (f32, f32, f32) = (-0.4, 0.38, 3.2);

/// The camera: following the automat in view, or orbiting freely (drag to turn, wheel to zoom).
fn camera(
    playback: Res<Playback>,
    layout: Res<Layout>,
    mut orbit: Local<Option<(f32, f32, f32)>>,
    mouse: Res<ButtonInput<MouseButton>>,
    mut motion: MessageReader<bevy::input::mouse::MouseMotion>,
    mut wheel: MessageReader<bevy::input::mouse::MouseWheel>,
    pointer: Res<super::panels::PointerOverUi>,
    mut cameras: Query<&mut Transform, With<Camera3d>>,
) {
    let (yaw, pitch, dist) = orbit.get_or_insert(FOLLOW);
    let drag: Vec2 = motion.read().map(|m| m.delta).sum();
    let scroll: f32 = wheel.read().map(|w| w.y).sum();
    if !playback.follow && !pointer.0 {
        if mouse.pressed(MouseButton::Left) {
            *yaw -= drag.x * 0.005;
            *pitch = (*pitch + drag.y * 0.005).clamp(-0.2, 1.4);
        }
        *dist = (*dist * (1.0 - scroll * 0.1)).clamp(0.8, 12.0);
    }
    let focus = layout.origin(playback.automat) + Vec3::new(0.0, 1.0, 0.3);
    let (yaw, pitch, dist) = if playback.follow { FOLLOW } else { (*yaw, *pitch, *dist) };
    let eye = focus + dist * Vec3::new(yaw.sin() * pitch.cos(), pitch.sin(), yaw.cos() * pitch.cos());
    for mut tf in &mut cameras {
        *tf = Transform::from_translation(eye).looking_at(focus, Vec3::Y);
    }
}
