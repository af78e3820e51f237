//! The automats in 3D, moved from the [`Current`] frame: cabinet (translucent walls so the
//! carousel shows), the outer door on its hinge, the carousel drum with a hook per slot and the
//! fobs on them in their colours and shapes, the presentation window, keypad, screen, indicator
//! LEDs, and the user at the front. Automats stand side by side along x, one metre apart.

use std::collections::HashMap;
use std::f32::consts::{PI, TAU};

use bevy::prelude::*;
use firmware_proto::types::IndicatorMode;

use super::{Current, Playback};
use crate::plant::Shape;
use crate::trace::HookItem;

/// Cabinet size, metres.
pub(crate) const WIDTH: f32 = 1.0;
const HEIGHT: f32 = 1.9;
pub(crate) const DEPTH: f32 = 1.0;
/// Drum radius and the hooks' height.
pub(crate) const RADIUS: f32 = 0.40;
pub(crate) const HOOK_Y: f32 = 1.12;
/// The drum's top (its bottom stands at 0.35 m).
pub(crate) const DRUM_TOP: f32 = 1.84;
/// The presentation window in the front panel: centre height, width, height.
pub(crate) const WINDOW_Y: f32 = 1.05;
pub(crate) const WINDOW_W: f32 = 0.1;
pub(crate) const WINDOW_H: f32 = 0.3;
/// How long the door takes to swing, simulated seconds.
const SWING_S: f32 = 0.6;
/// Where things sit on the front panel, relative to the cabinet's centre line.
pub(crate) const SCREEN: Vec3 = Vec3::new(0.25, 1.42, DEPTH / 2.0 + 0.012);
const KEYPAD: Vec3 = Vec3::new(0.3, 1.0, DEPTH / 2.0 + 0.01);
const LEDS_Y: f32 = 1.62;
/// Where a user stands.
pub(crate) const USER: Vec3 = Vec3::new(-0.72, 0.0, 0.8);

/// Where each automat stands.
#[derive(Resource, Debug)]
pub(crate) struct Layout {
    pub(crate) origins: Vec<Vec3>,
}

impl Layout {
    pub(crate) fn new(automats: usize) -> Self {
        let spacing = WIDTH + 1.1;
        let first = -(automats as f32 - 1.0) * spacing / 2.0;
        Layout { origins: (0..automats).map(|i| Vec3::new(first + i as f32 * spacing, 0.0, 0.0)).collect() }
    }

    pub(crate) fn origin(&self, automat: usize) -> Vec3 {
        self.origins.get(automat).copied().unwrap_or(Vec3::ZERO)
    }
}

/// The drum of an automat (turns with the carousel).
#[derive(Component)]
struct Drum {
    automat: usize,
    slots: usize,
}

/// A hook's hanging point; its child is the fob drawn for what hangs there.
#[derive(Component)]
pub(crate) struct HangPoint {
    pub(crate) automat: usize,
    pub(crate) slot: usize,
    shown: Option<HookItem>,
}

/// The outer door's hinge.
#[derive(Component)]
struct Hinge(usize);

/// An indicator LED.
#[derive(Component)]
struct Led {
    automat: usize,
    which: usize,
    material: Handle<StandardMaterial>,
}

/// The user figure at an automat.
#[derive(Component)]
struct Figure(usize);

/// Meshes and materials shared by everything drawn.
#[derive(Resource)]
struct Kit {
    fob: HashMap<Shape, Handle<Mesh>>,
    ring: Handle<Mesh>,
    metal: Handle<StandardMaterial>,
    colours: HashMap<[u8; 3], Handle<StandardMaterial>>,
}

pub(crate) struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, build_scene)
            .add_systems(Update, (turn_drums, swing_doors, hang_fobs, light_leds, place_users, camera));
    }
}

fn box_mesh(meshes: &mut Assets<Mesh>, x: f32, y: f32, z: f32) -> Handle<Mesh> {
    meshes.add(Cuboid::new(x, y, z))
}

/// The materials the automats are built of.
struct Palette {
    steel: Handle<StandardMaterial>,
    dark: Handle<StandardMaterial>,
    glass: Handle<StandardMaterial>,
    drum_mat: Handle<StandardMaterial>,
    screen_mat: Handle<StandardMaterial>,
    metal: Handle<StandardMaterial>,
    marker_mat: Handle<StandardMaterial>,
    marker_back: Handle<StandardMaterial>,
}

fn mat(materials: &mut Assets<StandardMaterial>, c: Color) -> Handle<StandardMaterial> {
    materials.add(StandardMaterial { base_color: c, perceptual_roughness: 0.7, ..default() })
}

fn palette(materials: &mut Assets<StandardMaterial>) -> Palette {
    let steel = mat(materials, Color::srgb(0.42, 0.45, 0.5));
    let dark = mat(materials, Color::srgb(0.18, 0.19, 0.21));
    let glass = materials.add(StandardMaterial {
        base_color: Color::srgba(0.55, 0.65, 0.75, 0.1),
        alpha_mode: AlphaMode::Blend,
        unlit: true,
        ..default()
    });
    let drum_mat = mat(materials, Color::srgb(0.42, 0.40, 0.36));
    let screen_mat = materials.add(StandardMaterial {
        base_color: Color::srgb(0.05, 0.12, 0.08),
        emissive: LinearRgba::rgb(0.02, 0.08, 0.04),
        ..default()
    });
    let metal = mat(materials, Color::srgb(0.75, 0.75, 0.72));
    let marker_mat =
        materials.add(StandardMaterial { base_color: Color::srgb(1.0, 0.8, 0.1), unlit: true, ..default() });
    let marker_back =
        materials.add(StandardMaterial { base_color: Color::srgb(0.1, 0.45, 1.0), unlit: true, ..default() });
    Palette { steel, dark, glass, drum_mat, screen_mat, metal, marker_mat, marker_back }
}

/// The fob meshes by shape, and the key ring.
fn fob_meshes(meshes: &mut Assets<Mesh>) -> (HashMap<Shape, Handle<Mesh>>, Handle<Mesh>) {
    let mut fob = HashMap::new();
    fob.insert(Shape::Round, meshes.add(Cylinder::new(0.03, 0.01)));
    fob.insert(Shape::Square, box_mesh(meshes, 0.055, 0.055, 0.01));
    fob.insert(Shape::Tag, box_mesh(meshes, 0.035, 0.09, 0.008));
    fob.insert(
        Shape::Triangle,
        meshes.add(Extrusion::new(
            Triangle2d::new(Vec2::new(-0.033, 0.025), Vec2::new(0.033, 0.025), Vec2::new(0.0, -0.04)),
            0.01,
        )),
    );
    let ring = meshes.add(Torus::new(0.008, 0.016));

    (fob, ring)
}

fn build_scene(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    layout: Res<Layout>,
    model: Res<super::Model>,
) {
    let replay = model.replay();
    let p = palette(&mut materials);
    let (fob, ring) = fob_meshes(&mut meshes);
    // Floor (just under the automats: fill costs on a software rasteriser) and light: one
    // directional light and ambient, no point lights (each costs every lit pixel).
    let floor = layout.origins.len() as f32 * (WIDTH + 1.1) + 2.0;
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
    commands.insert_resource(GlobalAmbientLight { brightness: 700.0, ..default() });

    for (i, automat) in replay.automats.iter().enumerate() {
        let o = layout.origin(i);
        let slots = usize::from(automat.slots.max(1));
        spawn_cabinet(&mut commands, &mut meshes, &mut materials, &p, i, o);
        spawn_drum(&mut commands, &mut meshes, &p, i, o, slots);
        spawn_user(&mut commands, &mut meshes, &mut materials, i, o);
    }
    commands.insert_resource(Kit { fob, ring, metal: p.metal.clone(), colours: HashMap::new() });
    let focus = layout.origin(0) + Vec3::new(0.0, 1.0, 0.2);
    // No multisampling: on a software rasteriser (lavapipe) 4× MSAA costs most of the frame.
    commands.spawn((
        Camera3d::default(),
        Msaa::Off,
        Transform::from_xyz(1.0, 1.6, 2.6).looking_at(focus, Vec3::Y),
    ));
}

/// An automat's cabinet at `o`: walls, the front panel, the door, screen, keypad and LEDs.
fn spawn_cabinet(
    commands: &mut Commands,
    meshes: &mut Assets<Mesh>,
    materials: &mut Assets<StandardMaterial>,
    p: &Palette,
    i: usize,
    o: Vec3,
) {
    let Palette { steel, dark, glass, screen_mat, metal, .. } = p;
    let (w, h, d) = (WIDTH, HEIGHT, DEPTH);
    // Walls: translucent sides, top and back so the carousel shows; a solid base and front.
    for (size, at, m) in [
        (Vec3::new(0.02, h, d), Vec3::new(-w / 2.0, h / 2.0, 0.0), glass),
        (Vec3::new(0.02, h, d), Vec3::new(w / 2.0, h / 2.0, 0.0), glass),
        (Vec3::new(w, 0.02, d), Vec3::new(0.0, h, 0.0), glass),
        (Vec3::new(w, h, 0.02), Vec3::new(0.0, h / 2.0, -d / 2.0), glass),
        (Vec3::new(w, 0.25, d), Vec3::new(0.0, 0.125, 0.0), steel),
    ] {
        commands.spawn((
            Mesh3d(box_mesh(meshes, size.x, size.y, size.z)),
            MeshMaterial3d(m.clone()),
            Transform::from_translation(o + at),
        ));
    }
    // The front panel around the window: below, above, left, right of it.
    let (wy, ww, wh) = (WINDOW_Y, WINDOW_W, WINDOW_H);
    let (bottom, top) = (wy - wh / 2.0 - 0.25, h - (wy + wh / 2.0));
    let side = (w - ww) / 2.0;
    for (size, at) in [
        (Vec3::new(w, bottom, 0.02), Vec3::new(0.0, 0.25 + bottom / 2.0, d / 2.0)),
        (Vec3::new(w, top, 0.02), Vec3::new(0.0, h - top / 2.0, d / 2.0)),
        (Vec3::new(side, wh, 0.02), Vec3::new(-(ww + side) / 2.0, wy, d / 2.0)),
        (Vec3::new(side, wh, 0.02), Vec3::new((ww + side) / 2.0, wy, d / 2.0)),
    ] {
        commands.spawn((
            Mesh3d(box_mesh(meshes, size.x, size.y, size.z)),
            MeshMaterial3d(steel.clone()),
            Transform::from_translation(o + at),
        ));
    }
    // The outer door over the window, hinged on its left edge.
    commands
        .spawn((Hinge(i), Transform::from_translation(o + Vec3::new(-ww / 2.0 - 0.02, wy, d / 2.0 + 0.02))))
        .insert(Visibility::default())
        .with_children(|hinge| {
            hinge.spawn((
                Mesh3d(box_mesh(meshes, ww + 0.04, wh + 0.04, 0.02)),
                MeshMaterial3d(dark.clone()),
                Transform::from_xyz((ww + 0.04) / 2.0, 0.0, 0.0),
            ));
            hinge.spawn((
                Mesh3d(box_mesh(meshes, 0.015, 0.12, 0.03)),
                MeshMaterial3d(metal.clone()),
                Transform::from_xyz(ww + 0.0, 0.0, 0.02),
            ));
        });
    // Screen and keypad.
    commands.spawn((
        Mesh3d(box_mesh(meshes, 0.34, 0.07, 0.01)),
        MeshMaterial3d(screen_mat.clone()),
        Transform::from_translation(o + SCREEN),
    ));
    for r in 0..4 {
        for c in 0..3 {
            commands.spawn((
                Mesh3d(box_mesh(meshes, 0.035, 0.035, 0.012)),
                MeshMaterial3d(dark.clone()),
                Transform::from_translation(
                    o + KEYPAD + Vec3::new((c as f32 - 1.0) * 0.045, 0.12 - r as f32 * 0.045, 0.0),
                ),
            ));
        }
    }
    // LEDs: Ready, Busy, Fault, Window.
    let led_mesh = meshes.add(Sphere::new(0.016));
    for which in 0..4 {
        let material = materials.add(StandardMaterial { base_color: led_colour(which, 0.25), ..default() });
        commands.spawn((
            Led { automat: i, which, material: material.clone() },
            Mesh3d(led_mesh.clone()),
            MeshMaterial3d(material),
            Transform::from_translation(o + Vec3::new(-0.09 + which as f32 * 0.06, LEDS_Y, d / 2.0 + 0.015)),
        ));
    }
}

/// An automat's carousel at `o`: a drum on the cabinet's axis, a hook per slot.
fn spawn_drum(
    commands: &mut Commands,
    meshes: &mut Assets<Mesh>,
    p: &Palette,
    i: usize,
    o: Vec3,
    slots: usize,
) {
    let Palette { drum_mat, metal, marker_mat, marker_back, .. } = p;
    // The carousel: a drum on the cabinet's axis, a hook per slot; slot k at angle k/slots.
    let drum_mesh = meshes.add(Cylinder::new(RADIUS - 0.04, DRUM_TOP - 0.35));
    let marker_mesh = box_mesh(meshes, 0.05, 0.01, RADIUS - 0.04);
    let hook_mesh = box_mesh(meshes, 0.008, 0.008, 0.07);

    commands
        .spawn((Drum { automat: i, slots }, Transform::from_translation(o + Vec3::new(0.0, 0.0, 0.0))))
        .insert(Visibility::default())
        .with_children(|drum| {
            drum.spawn((
                Mesh3d(drum_mesh),
                MeshMaterial3d(drum_mat.clone()),
                Transform::from_xyz(0.0, (DRUM_TOP + 0.35) / 2.0, 0.0),
            ));
            // A bar across the drum's top, yellow towards slot 0, blue towards the opposite
            // slot: seen through the glass top, it shows how far the carousel has turned.
            for (mat, z) in [(marker_mat, 1.0), (marker_back, -1.0)] {
                drum.spawn((
                    Mesh3d(marker_mesh.clone()),
                    MeshMaterial3d(mat.clone()),
                    Transform::from_xyz(0.0, DRUM_TOP + 0.005, z * (RADIUS - 0.04) / 2.0),
                ));
            }
            for slot in 0..slots {
                let a = slot as f32 / slots as f32 * TAU;
                let dir = Vec3::new(a.sin(), 0.0, a.cos());
                drum.spawn((
                    Mesh3d(hook_mesh.clone()),
                    MeshMaterial3d(metal.clone()),
                    Transform::from_translation(dir * (RADIUS - 0.04 + 0.035) + Vec3::Y * HOOK_Y)
                        .with_rotation(Quat::from_rotation_y(a)),
                ));
                drum.spawn((
                    HangPoint { automat: i, slot, shown: None },
                    Transform::from_translation(dir * (RADIUS + 0.005) + Vec3::Y * (HOOK_Y - 0.01))
                        .with_rotation(Quat::from_rotation_y(a)),
                    Visibility::default(),
                ));
            }
        });
}

/// The person at automat `i`, hidden until someone acts there.
fn spawn_user(
    commands: &mut Commands,
    meshes: &mut Assets<Mesh>,
    materials: &mut Assets<StandardMaterial>,
    i: usize,
    o: Vec3,
) {
    let skin = mat(materials, Color::srgb(0.85, 0.68, 0.55));
    let coat = mat(materials, user_colour(i));
    commands.spawn((Figure(i), Transform::from_translation(o + USER), Visibility::Hidden)).with_children(
        |f| {
            f.spawn((
                Mesh3d(meshes.add(Capsule3d::new(0.17, 0.75))),
                MeshMaterial3d(coat),
                Transform::from_xyz(0.0, 0.72, 0.0),
            ));
            f.spawn((
                Mesh3d(meshes.add(Sphere::new(0.11))),
                MeshMaterial3d(skin),
                Transform::from_xyz(0.0, 1.45, 0.0),
            ));
        },
    );
}

fn led_colour(which: usize, level: f32) -> Color {
    let [r, g, b] = match which {
        0 => [0.1, 0.9, 0.2],
        1 => [1.0, 0.7, 0.1],
        2 => [1.0, 0.1, 0.1],
        _ => [0.2, 0.5, 1.0],
    };
    Color::srgb(r * level, g * level, b * level)
}

fn user_colour(i: usize) -> Color {
    let hues = [210.0, 30.0, 120.0, 280.0];
    Color::hsl(hues[i % hues.len()], 0.45, 0.45)
}

fn turn_drums(current: Res<Current>, mut drums: Query<(&Drum, &mut Transform)>, layout: Res<Layout>) {
    for (drum, mut tf) in &mut drums {
        let Some(a) = current.0.automats.get(drum.automat) else { continue };
        // Slot k faces the window (+z) when the carousel's position is k.
        let turn = -(a.carousel as f32) / drum.slots as f32 * TAU;
        *tf = Transform::from_translation(layout.origin(drum.automat))
            .with_rotation(Quat::from_rotation_y(turn));
    }
}

fn swing_doors(current: Res<Current>, mut hinges: Query<(&Hinge, &mut Transform)>) {
    let t = current.0.t;
    for (hinge, mut tf) in &mut hinges {
        let Some(a) = current.0.automats.get(hinge.0) else { continue };
        let since = a.door_moved_at.map_or(f32::INFINITY, |m| t.saturating_sub(m) as f32 / 1e6);
        let progress = (since / SWING_S).clamp(0.0, 1.0);
        let eased = progress * progress * (3.0 - 2.0 * progress);
        let open = if a.cabinet.door_open { eased } else { 1.0 - eased };
        tf.rotation = Quat::from_rotation_y(-open * 0.58 * PI);
    }
}

fn hang_fobs(
    mut commands: Commands,
    current: Res<Current>,
    mut kit: ResMut<Kit>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut points: Query<(Entity, &mut HangPoint)>,
) {
    for (entity, mut point) in &mut points {
        let item =
            current.0.automats.get(point.automat).and_then(|a| a.hooks.get(point.slot)).cloned().flatten();
        if item == point.shown {
            continue;
        }
        commands.entity(entity).despawn_related::<Children>();
        if let Some(item) = &item {
            let colour = item.look.colour;
            let material = kit
                .colours
                .entry(colour)
                .or_insert_with(|| {
                    let [r, g, b] = colour;
                    materials.add(StandardMaterial {
                        base_color: Color::srgb_u8(r, g, b),
                        perceptual_roughness: 0.55,
                        ..default()
                    })
                })
                .clone();
            let mesh = kit.fob.get(&item.look.shape).cloned().unwrap_or_default();
            let (ring, metal) = (kit.ring.clone(), kit.metal.clone());
            commands.entity(entity).with_children(|p| {
                p.spawn((
                    Mesh3d(ring),
                    MeshMaterial3d(metal),
                    Transform::from_xyz(0.0, -0.015, 0.0).with_rotation(Quat::from_rotation_y(PI / 2.0)),
                ));
                let turn = if item.look.shape == Shape::Round {
                    Quat::from_rotation_x(PI / 2.0)
                } else {
                    Quat::IDENTITY
                };
                p.spawn((
                    Mesh3d(mesh),
                    MeshMaterial3d(material),
                    Transform::from_xyz(0.0, -0.06, 0.0).with_rotation(turn),
                ));
            });
        }
        point.shown = item;
    }
}

fn light_leds(current: Res<Current>, leds: Query<&Led>, mut materials: ResMut<Assets<StandardMaterial>>) {
    // Blink at 2 Hz on the simulated clock.
    let blink_on = (current.0.t / 250_000).is_multiple_of(2);
    for led in &leds {
        let Some(a) = current.0.automats.get(led.automat) else { continue };
        let lit = a.cabinet.powered
            && match a.cabinet.leds[led.which] {
                IndicatorMode::On => true,
                IndicatorMode::Blink => blink_on,
                IndicatorMode::Off => false,
            };
        let Some(mut m) = materials.get_mut(&led.material) else { continue };
        let want = led_colour(led.which, if lit { 1.0 } else { 0.2 });
        if m.base_color != want {
            m.base_color = want;
            m.emissive = if lit { want.to_linear() * 4.0 } else { LinearRgba::BLACK };
        }
    }
}

fn place_users(current: Res<Current>, mut figures: Query<(&Figure, &mut Visibility)>) {
    for (figure, mut vis) in &mut figures {
        let here = current.0.automats.get(figure.0).is_some_and(|a| a.user.is_some());
        let want = if here { Visibility::Inherited } else { Visibility::Hidden };
        if *vis != want {
            *vis = want;
        }
    }
}

/// The follow camera's yaw, pitch (radians) and distance (metres) from the focus.
const FOLLOW: (f32, f32, f32) = (0.22, 0.42, 3.4);

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
    let focus = layout.origin(playback.automat) + Vec3::new(-0.25, 0.95, 0.3);
    let (yaw, pitch, dist) = if playback.follow { FOLLOW } else { (*yaw, *pitch, *dist) };
    let eye = focus + dist * Vec3::new(yaw.sin() * pitch.cos(), pitch.sin(), yaw.cos() * pitch.cos());
    for mut tf in &mut cameras {
        *tf = Transform::from_translation(eye).looking_at(focus, Vec3::Y);
    }
}
