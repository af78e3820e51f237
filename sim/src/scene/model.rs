//! The Bevy side of the scene: entities built and moved from the [`Stage`] (a [`Pose`] per
//! automat), by the [`ScenePlugin`]. The viewer adds its own camera, lights and panels; the
//! renderer of the rendered cameras adds the room and the cameras of [`SceneCamera`].

// Bevy systems name their parameters without lifetimes, and take many of them.
#![allow(elided_lifetimes_in_paths, clippy::too_many_arguments)]

use std::collections::HashMap;
use std::f32::consts::{FRAC_PI_2, PI, TAU};

use bevy::asset::RenderAssetUsages;
use bevy::image::ImageSampler;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};

use super::*;
use crate::plant::look::{self, Look, Person, Shape};

/// The automats to show, by index.
#[derive(Resource, Debug, Default, Clone)]
pub struct Stage {
    /// One pose per automat.
    pub poses: Vec<Pose>,
}

/// Where each automat stands.
#[derive(Resource, Debug, Clone)]
pub struct Layout {
    /// Per automat, its origin.
    pub origins: Vec<Vec3>,
}

impl Layout {
    /// `automats` side by side along x.
    pub fn new(automats: usize) -> Self {
        let spacing = WIDTH + 1.1;
        let first = -(automats as f32 - 1.0) * spacing / 2.0;
        Layout { origins: (0..automats).map(|i| Vec3::new(first + i as f32 * spacing, 0.0, 0.0)).collect() }
    }

    /// Automat `i`'s origin.
    pub fn origin(&self, automat: usize) -> Vec3 {
        self.origins.get(automat).copied().unwrap_or(Vec3::ZERO)
    }
}

/// The two cameras of an automat, where they are mounted and what they see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SceneCamera {
    /// Inside the cabinet above the window, looking down at the presented slot.
    Internal,
    /// On the front panel beside the screen, looking at the person at the keypad.
    Front,
}

impl SceneCamera {
    /// The camera's place and aim, for an automat at `origin`.
    pub fn transform(self, origin: Vec3) -> Transform {
        match self {
            SceneCamera::Internal => {
                Transform::from_translation(origin + Vec3::new(0.0, HOOK_Y + 0.07, 0.485))
                    .looking_at(origin + Vec3::new(0.0, HOOK_Y - 0.058, HANG_RADIUS), Vec3::Y)
            }
            SceneCamera::Front => Transform::from_translation(origin + Vec3::new(PERSON[0], 1.53, 0.515))
                .looking_at(origin + Vec3::new(PERSON[0], 1.56, PERSON[2]), Vec3::Y),
        }
    }

    /// Its lens: vertical field of view in radians, and the nearest distance it sees.
    pub fn lens(self, aspect_ratio: f32) -> PerspectiveProjection {
        let (fov, near) = match self {
            SceneCamera::Internal => (40f32.to_radians(), 0.01),
            SceneCamera::Front => (64f32.to_radians(), 0.05),
        };
        PerspectiveProjection { fov, near, aspect_ratio, ..default() }
    }
}

/// Builds the automats of the [`Stage`] and moves them every frame. `room`: a floor and the
/// walls of the room around the automats, as a camera at the front sees them (off in the
/// viewer, whose camera flies around the automats).
#[derive(Debug, Default)]
pub struct ScenePlugin {
    /// Draw the room.
    pub room: bool,
}

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        let room = self.room;
        app.init_resource::<Stage>()
            .init_resource::<AssetsMade>()
            .add_systems(
                Startup,
                move |c: Commands, m: ResMut<Assets<Mesh>>, mt: ResMut<Assets<StandardMaterial>>| {
                    setup(c, m, mt, room)
                },
            )
            .add_systems(
                Update,
                (build_automats, (turn_drums, swing_doors, hang_fobs, light_up, place_people)).chain(),
            );
    }
}

/// How many times the scene made new assets (an automat, a fob colour, a print): a frame that
/// made any is drawn again before it is trusted, since a new asset may show a frame late.
#[derive(Resource, Debug, Default)]
pub struct AssetsMade(pub u64);

/// Meshes and materials shared by everything drawn, and made once.
#[derive(Resource)]
struct Kit {
    fob: HashMap<Shape, Handle<Mesh>>,
    ring: Handle<Mesh>,
    key_bow: Handle<Mesh>,
    key_blade: Handle<Mesh>,
    label: Handle<Mesh>,
    cuboid: Handle<Mesh>,
    sphere: Handle<Mesh>,
    capsule: Handle<Mesh>,
    cylinder: Handle<Mesh>,
    steel: Handle<StandardMaterial>,
    dark: Handle<StandardMaterial>,
    glass: Handle<StandardMaterial>,
    drum: Handle<StandardMaterial>,
    pocket: Handle<StandardMaterial>,
    screen: Handle<StandardMaterial>,
    metal: Handle<StandardMaterial>,
    brass: Handle<StandardMaterial>,
    marker: Handle<StandardMaterial>,
    marker_back: Handle<StandardMaterial>,
    /// Fob plastics by colour.
    colours: HashMap<[u8; 3], Handle<StandardMaterial>>,
    /// Printed text by the text: dark strokes, the rest cut away.
    prints: HashMap<String, Handle<StandardMaterial>>,
    /// Number plates by slot number: dark digits on white.
    plates: HashMap<usize, Handle<StandardMaterial>>,
}

impl Kit {
    /// How many assets its caches hold.
    fn cached(&self) -> usize {
        self.colours.len() + self.prints.len() + self.plates.len()
    }
}

fn plastic(
    materials: &mut Assets<StandardMaterial>,
    [r, g, b]: [u8; 3],
    roughness: f32,
) -> Handle<StandardMaterial> {
    materials.add(StandardMaterial {
        base_color: Color::srgb_u8(r, g, b),
        perceptual_roughness: roughness,
        reflectance: 0.35,
        ..default()
    })
}

fn setup(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    room: bool,
) {
    let m = &mut *materials;
    let mut fob = HashMap::new();
    for shape in [Shape::Round, Shape::Square, Shape::Tag, Shape::Triangle] {
        fob.insert(shape, fob_mesh(&mut meshes, shape));
    }
    let kit = Kit {
        fob,
        ring: meshes.add(Torus::new(0.0105, 0.0135)),
        key_bow: meshes.add(Extrusion::new(Circle::new(0.011), 0.0025)),
        key_blade: meshes.add(Cuboid::new(0.007, 0.042, 0.0022)),
        label: meshes.add(Rectangle::new(1.0, 1.0)),
        cuboid: meshes.add(Cuboid::new(1.0, 1.0, 1.0)),
        sphere: meshes.add(Sphere::new(1.0).mesh().uv(24, 16)),
        capsule: meshes.add(Capsule3d::new(0.5, 1.0)),
        cylinder: meshes.add(Cylinder::new(0.5, 1.0).mesh().resolution(64)),
        steel: plastic(m, [108, 115, 128], 0.6),
        dark: plastic(m, [46, 48, 54], 0.7),
        glass: m.add(StandardMaterial {
            base_color: Color::srgba(0.55, 0.65, 0.75, 0.12),
            alpha_mode: AlphaMode::Blend,
            unlit: true,
            ..default()
        }),
        drum: plastic(m, [120, 121, 124], 0.95),
        pocket: plastic(m, [104, 105, 109], 0.95),
        screen: m.add(StandardMaterial {
            base_color: Color::srgb(0.05, 0.12, 0.08),
            emissive: LinearRgba::rgb(0.02, 0.08, 0.04),
            ..default()
        }),
        metal: m.add(StandardMaterial {
            base_color: Color::srgb(0.78, 0.78, 0.76),
            metallic: 0.35,
            perceptual_roughness: 0.35,
            ..default()
        }),
        brass: m.add(StandardMaterial {
            base_color: Color::srgb(0.80, 0.66, 0.36),
            metallic: 0.35,
            perceptual_roughness: 0.4,
            ..default()
        }),
        marker: m.add(StandardMaterial { base_color: Color::srgb(1.0, 0.8, 0.1), unlit: true, ..default() }),
        marker_back: m.add(StandardMaterial {
            base_color: Color::srgb(0.1, 0.45, 1.0),
            unlit: true,
            ..default()
        }),
        colours: HashMap::new(),
        prints: HashMap::new(),
        plates: HashMap::new(),
    };
    if room {
        // The room a front camera sees behind the person: a floor and a wall, lit from above.
        let floor = plastic(m, [120, 118, 112], 0.9);
        let wall = plastic(m, [196, 192, 180], 0.9);
        commands.spawn((
            Mesh3d(meshes.add(Plane3d::default().mesh().size(12.0, 12.0))),
            MeshMaterial3d(floor),
            Transform::from_xyz(0.0, 0.0, 3.0),
        ));
        commands.spawn((
            Mesh3d(kit.cuboid.clone()),
            MeshMaterial3d(wall),
            Transform::from_xyz(0.0, 3.0, 3.2).with_scale(Vec3::new(12.0, 6.0, 0.05)),
        ));
    }
    commands.insert_resource(kit);
}

/// A fob's solid, its face towards +z, its top edge (where the ring holds it) at y = 0.
fn fob_mesh(meshes: &mut Assets<Mesh>, shape: Shape) -> Handle<Mesh> {
    const THICK: f32 = 0.007;
    let mesh: Mesh = match shape {
        Shape::Round => Extrusion::new(Circle::new(0.03), THICK).mesh().resolution(40).into(),
        Shape::Square => Extrusion::new(Rectangle::new(0.055, 0.055), THICK).into(),
        Shape::Tag => Extrusion::new(Rectangle::new(0.034, 0.088), THICK).into(),
        Shape::Triangle => Extrusion::new(
            Triangle2d::new(Vec2::new(-0.034, 0.026), Vec2::new(0.0, -0.04), Vec2::new(0.034, 0.026)),
            THICK,
        )
        .into(),
    };
    let top = fob_top(shape);
    meshes.add(mesh.translated_by(Vec3::new(0.0, -top, 0.0)))
}

/// How far above its centre a fob's top edge is.
fn fob_top(shape: Shape) -> f32 {
    match shape {
        Shape::Round => 0.03,
        Shape::Square => 0.0275,
        Shape::Tag => 0.044,
        Shape::Triangle => 0.026,
    }
}

/// The share of a fob's width its print may take.
const PRINT_SHARE: f32 = 0.8;
/// The largest size of a font pixel on a fob, metres (a one-character print on a tag is 16 mm
/// wide and 20 mm tall: large enough for the internal camera to read).
const PRINT_PIXEL: f32 = 0.004;

/// A fob's width and the height of its face's centre below the top edge, for its print.
fn fob_face(shape: Shape) -> (f32, f32) {
    match shape {
        Shape::Round => (0.05, 0.03),
        Shape::Square => (0.05, 0.0275),
        Shape::Tag => (0.03, 0.044),
        Shape::Triangle => (0.036, 0.018),
    }
}

/// Text in `ink` on `ground`, in the 3×5 font of the drawn cameras, a font pixel of margin
/// around.
fn print_image(text: &str, ink: [u8; 4], ground: [u8; 4]) -> Image {
    let glyphs: Vec<[u8; 5]> = text.chars().take(4).map(look::glyph).collect();
    let (w, h) = ((glyphs.len() as u32 * 4 + 1).max(2), 7u32);
    let mut data = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let (gx, gy) = (x as i32 - 1, y as i32 - 1);
            let on = gx >= 0
                && (0..5).contains(&gy)
                && gx % 4 < 3
                && glyphs.get(gx as usize / 4).is_some_and(|g| g[gy as usize] & (4 >> (gx % 4)) != 0);
            data.extend_from_slice(if on { &ink } else { &ground });
        }
    }
    let size = Extent3d { width: w, height: h, depth_or_array_layers: 1 };
    let mut image = Image::new(
        size,
        TextureDimension::D2,
        data,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    );
    image.sampler = ImageSampler::nearest();
    image
}

/// The root of automat `i`'s entities, rebuilt when its slot count changes.
#[derive(Component)]
struct AutomatRoot {
    automat: usize,
    slots: u8,
}

/// The drum of an automat (turns with the carousel).
#[derive(Component)]
struct Drum {
    automat: usize,
    slots: u8,
}

/// Where a slot's ring hangs on its hook; its child is what hangs there.
#[derive(Component, Debug)]
pub struct HangPoint {
    /// The automat, by index.
    pub automat: usize,
    /// The slot.
    pub slot: usize,
    shown: Option<Look>,
}

/// What hangs on a hook (swings about the hang point).
#[derive(Component)]
struct Pendant;

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

/// The light inside a cabinet, beside the internal camera.
#[derive(Component)]
struct InteriorLight(usize);

/// The interior light's intensity at level 1, lumens.
const INTERIOR_LUMENS: f32 = 9_000.0;

/// The person at an automat's keypad.
#[derive(Component)]
struct Figure {
    automat: usize,
    shown: Option<PersonKey>,
}

/// A person's look, comparable (heights to the millimetre).
type PersonKey = (u32, [u8; 3], [u8; 3], [u8; 3]);

fn person_key(p: &Person) -> PersonKey {
    ((p.height * 1000.0).round() as u32, p.clothes, p.hair, p.skin)
}

fn build_automats(
    mut commands: Commands,
    stage: Res<Stage>,
    layout: Res<Layout>,
    roots: Query<(Entity, &AutomatRoot)>,
    mut kit: ResMut<Kit>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut images: ResMut<Assets<Image>>,
    mut made: ResMut<AssetsMade>,
) {
    let mut built = vec![false; stage.poses.len()];
    for (entity, root) in &roots {
        match stage.poses.get(root.automat) {
            Some(p) if p.slots == root.slots && !built[root.automat] => built[root.automat] = true,
            _ => commands.entity(entity).despawn(),
        }
    }
    for (i, pose) in stage.poses.iter().enumerate() {
        if built[i] {
            continue;
        }
        made.0 += 1;
        let o = layout.origin(i);
        let root = commands
            .spawn((
                AutomatRoot { automat: i, slots: pose.slots },
                Transform::from_translation(o),
                Visibility::default(),
            ))
            .id();
        let kit = &mut *kit;
        spawn_cabinet(&mut commands, root, kit, &mut meshes, &mut materials, i);
        spawn_drum(&mut commands, root, kit, &mut materials, &mut images, i, pose.slots);
        commands.entity(root).with_children(|r| {
            r.spawn((
                InteriorLight(i),
                SpotLight {
                    intensity: INTERIOR_LUMENS,
                    range: 0.7,
                    outer_angle: 0.62,
                    inner_angle: 0.3,
                    shadow_maps_enabled: false,
                    ..default()
                },
                Transform::from_xyz(0.0, HOOK_Y + 0.26, 0.47)
                    .looking_at(Vec3::new(0.0, HOOK_Y - 0.09, HANG_RADIUS - 0.02), Vec3::Y),
            ));
            r.spawn((
                Figure { automat: i, shown: None },
                Transform::from_xyz(PERSON[0], PERSON[1], PERSON[2]).with_rotation(Quat::from_rotation_y(PI)),
                Visibility::Hidden,
            ));
        });
    }
}

fn part(kit_mesh: &Handle<Mesh>, material: &Handle<StandardMaterial>, at: Vec3, size: Vec3) -> impl Bundle {
    (
        Mesh3d(kit_mesh.clone()),
        MeshMaterial3d(material.clone()),
        Transform::from_translation(at).with_scale(size),
    )
}

/// An automat's cabinet: walls (clear on the sides, top and back, and the front panel's
/// left part, so the carousel shows), the front panel with the window, the door, screen,
/// keypad and LEDs.
fn spawn_cabinet(
    commands: &mut Commands,
    root: Entity,
    kit: &Kit,
    meshes: &mut Assets<Mesh>,
    materials: &mut Assets<StandardMaterial>,
    i: usize,
) {
    let (w, h, d) = (WIDTH, HEIGHT, DEPTH);
    let (wy, ww, wh) = (WINDOW_Y, WINDOW_W, WINDOW_H);
    let (bottom, top) = (wy - wh / 2.0 - 0.25, h - (wy + wh / 2.0));
    let side = (w - ww) / 2.0;
    let led_mesh = meshes.add(Sphere::new(0.016));
    let leds: Vec<Handle<StandardMaterial>> = (0..4)
        .map(|which| materials.add(StandardMaterial { base_color: led_colour(which, 0.25), ..default() }))
        .collect();
    let c = &kit.cuboid;
    commands.entity(root).with_children(|r| {
        for (size, at, m) in [
            // Sides, top, back: clear; the base: steel.
            (Vec3::new(0.02, h, d), Vec3::new(-w / 2.0, h / 2.0, 0.0), &kit.glass),
            (Vec3::new(0.02, h, d), Vec3::new(w / 2.0, h / 2.0, 0.0), &kit.glass),
            (Vec3::new(w, 0.02, d), Vec3::new(0.0, h, 0.0), &kit.glass),
            (Vec3::new(w, h, 0.02), Vec3::new(0.0, h / 2.0, -d / 2.0), &kit.glass),
            (Vec3::new(w, 0.25, d), Vec3::new(0.0, 0.125, 0.0), &kit.steel),
            // The front panel around the window: below, above, left (clear), right.
            (Vec3::new(w, bottom, 0.02), Vec3::new(0.0, 0.25 + bottom / 2.0, d / 2.0), &kit.steel),
            (Vec3::new(w, top, 0.02), Vec3::new(0.0, h - top / 2.0, d / 2.0), &kit.steel),
            (Vec3::new(side, wh, 0.02), Vec3::new(-(ww + side) / 2.0, wy, d / 2.0), &kit.glass),
            (Vec3::new(side, wh, 0.02), Vec3::new((ww + side) / 2.0, wy, d / 2.0), &kit.steel),
            // Screen and the keypad's plate.
            (Vec3::new(0.34, 0.07, 0.01), Vec3::from(SCREEN), &kit.screen),
        ] {
            r.spawn(part(c, m, at, size));
        }
        for row in 0..4 {
            for col in 0..3 {
                let at =
                    Vec3::new(0.3 + (col as f32 - 1.0) * 0.045, 1.12 - row as f32 * 0.045, d / 2.0 + 0.01);
                r.spawn(part(c, &kit.dark, at, Vec3::new(0.035, 0.035, 0.012)));
            }
        }
        // The outer door over the window, hinged on its right edge (it opens away from the
        // cutaway, out of the viewer's line of sight into the window), with a handle.
        r.spawn((Hinge(i), Transform::from_xyz(ww / 2.0 + 0.02, wy, d / 2.0 + 0.02), Visibility::default()))
            .with_children(|hinge| {
                hinge.spawn(part(
                    c,
                    &kit.dark,
                    Vec3::new(-(ww + 0.04) / 2.0, 0.0, 0.0),
                    Vec3::new(ww + 0.04, wh + 0.04, 0.02),
                ));
                hinge.spawn(part(c, &kit.metal, Vec3::new(-ww, 0.0, 0.02), Vec3::new(0.015, 0.12, 0.03)));
            });
        for (which, material) in leds.into_iter().enumerate() {
            r.spawn((
                Led { automat: i, which, material: material.clone() },
                Mesh3d(led_mesh.clone()),
                MeshMaterial3d(material),
                Transform::from_xyz(-0.09 + which as f32 * 0.06, 1.62, d / 2.0 + 0.015),
            ));
        }
    });
}

/// An automat's carousel: a drum on the cabinet's axis with a pocket per slot between
/// dividers, a hook and a number plate in each; slot k at angle k/slots.
fn spawn_drum(
    commands: &mut Commands,
    root: Entity,
    kit: &mut Kit,
    materials: &mut Assets<StandardMaterial>,
    images: &mut Assets<Image>,
    i: usize,
    slots: u8,
) {
    let n = usize::from(slots.max(1));
    let plates: Vec<Handle<StandardMaterial>> = (0..n)
        .map(|slot| {
            kit.plates
                .entry(slot)
                .or_insert_with(|| {
                    let image = print_image(&slot.to_string(), [20, 20, 24, 255], [235, 235, 228, 255]);
                    materials.add(StandardMaterial {
                        base_color_texture: Some(images.add(image)),
                        perceptual_roughness: 0.8,
                        ..default()
                    })
                })
                .clone()
        })
        .collect();
    let c = kit.cuboid.clone();
    commands.entity(root).with_children(|r| {
        r.spawn((Drum { automat: i, slots }, Transform::default(), Visibility::default())).with_children(
            |drum| {
                drum.spawn((
                    Mesh3d(kit.cylinder.clone()),
                    MeshMaterial3d(kit.drum.clone()),
                    Transform::from_xyz(0.0, (DRUM_TOP + DRUM_BOTTOM) / 2.0, 0.0).with_scale(Vec3::new(
                        2.0 * DRUM_RADIUS,
                        DRUM_TOP - DRUM_BOTTOM,
                        2.0 * DRUM_RADIUS,
                    )),
                ));
                // A bar across the drum's top, yellow towards slot 0, blue towards the opposite slot:
                // seen through the clear top, it shows how far the carousel has turned.
                for (m, z) in [(&kit.marker, 1.0), (&kit.marker_back, -1.0)] {
                    let at = Vec3::new(0.0, DRUM_TOP + 0.005, z * DRUM_RADIUS / 2.0);
                    drum.spawn(part(&c, m, at, Vec3::new(0.05, 0.01, DRUM_RADIUS)));
                }
                for (slot, plate) in plates.iter().enumerate() {
                    spawn_pocket(drum, kit, &c, plate, (i, slot, n));
                }
            },
        );
    });
}

/// Slot `slot` of `n` of automat `i`'s drum: the divider after it, its floor and roof, its
/// hook, its number plate and the point its pendant hangs from.
fn spawn_pocket(
    drum: &mut ChildSpawnerCommands<'_>,
    kit: &Kit,
    c: &Handle<Mesh>,
    plate: &Handle<StandardMaterial>,
    (i, slot, n): (usize, usize, usize),
) {
    let depth = POCKET_RADIUS - DRUM_RADIUS;
    let a = slot as f32 / n as f32 * TAU;
    let turn = Quat::from_rotation_y(a);
    let radial = |r: f32, y: f32| turn * Vec3::new(0.0, y, r);
    // The divider after this slot, and the pocket's floor and roof.
    let between = Quat::from_rotation_y(a + TAU / n as f32 / 2.0);
    drum.spawn((
        Mesh3d(c.clone()),
        MeshMaterial3d(kit.pocket.clone()),
        Transform::from_translation(between * Vec3::new(0.0, HOOK_Y - 0.08, DRUM_RADIUS + depth / 2.0))
            .with_rotation(between)
            .with_scale(Vec3::new(0.004, 0.36, depth)),
    ));
    let arc = (TAU * POCKET_RADIUS / n as f32).min(0.2);
    for y in [HOOK_Y - 0.26, HOOK_Y + 0.10] {
        drum.spawn((
            Mesh3d(c.clone()),
            MeshMaterial3d(kit.pocket.clone()),
            Transform::from_translation(radial(DRUM_RADIUS + depth / 2.0, y))
                .with_rotation(turn)
                .with_scale(Vec3::new(arc, 0.006, depth)),
        ));
    }
    // The hook: a rod out of the wall, its tip bent up; the plate above it.
    drum.spawn((
        Mesh3d(c.clone()),
        MeshMaterial3d(kit.metal.clone()),
        Transform::from_translation(radial((DRUM_RADIUS + HANG_RADIUS + 0.012) / 2.0, HOOK_Y))
            .with_rotation(turn)
            .with_scale(Vec3::new(0.005, 0.005, HANG_RADIUS + 0.012 - DRUM_RADIUS)),
    ));
    drum.spawn((
        Mesh3d(c.clone()),
        MeshMaterial3d(kit.metal.clone()),
        Transform::from_translation(radial(HANG_RADIUS + 0.012, HOOK_Y + 0.006))
            .with_rotation(turn)
            .with_scale(Vec3::new(0.005, 0.014, 0.005)),
    ));
    drum.spawn((
        Mesh3d(kit.label.clone()),
        MeshMaterial3d(plate.clone()),
        Transform::from_translation(radial(DRUM_RADIUS + 0.001, HOOK_Y + 0.045))
            .with_rotation(turn)
            .with_scale(Vec3::new(0.032, 0.022, 1.0)),
    ));
    drum.spawn((
        HangPoint { automat: i, slot, shown: None },
        Transform::from_translation(radial(HANG_RADIUS, HOOK_Y - 0.003)).with_rotation(turn),
        Visibility::default(),
    ));
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

fn turn_drums(stage: Res<Stage>, mut drums: Query<(&Drum, &mut Transform)>) {
    for (drum, mut tf) in &mut drums {
        let Some(p) = stage.poses.get(drum.automat) else { continue };
        // Slot k faces the window (+z) when the carousel's position is k.
        let turn = -(p.carousel as f32) / f32::from(drum.slots.max(1)) * TAU;
        tf.rotation = Quat::from_rotation_y(turn);
    }
}

fn swing_doors(stage: Res<Stage>, mut hinges: Query<(&Hinge, &mut Transform)>) {
    for (hinge, mut tf) in &mut hinges {
        let Some(p) = stage.poses.get(hinge.0) else { continue };
        tf.rotation = Quat::from_rotation_y(p.door.clamp(0.0, 1.0) * 0.58 * PI);
    }
}

/// Hangs on each hook what the stage says, and swings the fob at the window.
fn hang_fobs(
    mut commands: Commands,
    stage: Res<Stage>,
    mut kit: ResMut<Kit>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut images: ResMut<Assets<Image>>,
    mut points: Query<(Entity, &mut HangPoint, Option<&Children>)>,
    mut pendants: Query<&mut Transform, With<Pendant>>,
    mut made: ResMut<AssetsMade>,
) {
    let cached = kit.cached();
    for (entity, mut point, children) in &mut points {
        let Some(pose) = stage.poses.get(point.automat) else { continue };
        let item = pose.hooks.get(point.slot).cloned().flatten();
        let swing = if point.slot == pose.window_slot() { pose.swing } else { Swing::default() };
        let rotation = Quat::from_euler(EulerRot::YXZ, swing.yaw, swing.pitch, swing.roll);
        if item == point.shown {
            for child in children.into_iter().flatten() {
                if let Ok(mut tf) = pendants.get_mut(*child) {
                    tf.rotation = rotation;
                }
            }
            continue;
        }
        commands.entity(entity).despawn_related::<Children>();
        if let Some(look) = &item {
            let pendant = pendant(&mut kit, &mut materials, &mut images, look);
            commands.entity(entity).with_children(|p| {
                p.spawn((Pendant, Transform::from_rotation(rotation), Visibility::default())).with_children(
                    |p| {
                        for (mesh, material, tf) in pendant {
                            p.spawn((Mesh3d(mesh), MeshMaterial3d(material), tf));
                        }
                    },
                );
            });
        }
        point.shown = item;
    }
    if kit.cached() != cached {
        made.0 += 1;
    }
}

/// The parts of what hangs on a hook, relative to the hang point: the ring, the fob below it
/// with its print, and a metal key on the ring behind the fob.
fn pendant(
    kit: &mut Kit,
    materials: &mut Assets<StandardMaterial>,
    images: &mut Assets<Image>,
    look: &Look,
) -> Vec<(Handle<Mesh>, Handle<StandardMaterial>, Transform)> {
    let colour =
        kit.colours.entry(look.colour).or_insert_with(|| plastic(materials, look.colour, 0.55)).clone();
    let mut parts = vec![
        // The ring, in the plane facing the window, hanging from the hook.
        (
            kit.ring.clone(),
            kit.metal.clone(),
            Transform::from_xyz(0.0, -0.012, 0.0).with_rotation(Quat::from_rotation_x(FRAC_PI_2)),
        ),
        // The key behind the fob: its bow on the ring, its blade hanging down and a little aside.
        (
            kit.key_bow.clone(),
            kit.brass.clone(),
            Transform::from_xyz(-0.004, -0.03, -0.009).with_rotation(Quat::from_rotation_z(0.35)),
        ),
        (
            kit.key_blade.clone(),
            kit.brass.clone(),
            Transform::from_xyz(-0.017, -0.061, -0.009).with_rotation(Quat::from_rotation_z(0.35)),
        ),
        (
            kit.fob.get(&look.shape).cloned().unwrap_or_default(),
            colour,
            Transform::from_xyz(0.0, -0.024, 0.0),
        ),
    ];
    let label: String = look.label.chars().take(4).collect();
    if !label.trim().is_empty() {
        let (width, centre) = fob_face(look.shape);
        let print = kit
            .prints
            .entry(label.clone())
            .or_insert_with(|| {
                let image = print_image(&label, [18, 18, 20, 255], [0, 0, 0, 0]);
                materials.add(StandardMaterial {
                    base_color_texture: Some(images.add(image)),
                    alpha_mode: AlphaMode::Mask(0.5),
                    perceptual_roughness: 0.6,
                    ..default()
                })
            })
            .clone();
        let cols = label.chars().count() as f32 * 4.0 + 1.0;
        let pixel = (PRINT_SHARE * width / cols).min(PRINT_PIXEL);
        let at = Vec3::new(0.0, -0.024 - centre, 0.0037);
        parts.push((
            kit.label.clone(),
            print,
            Transform::from_translation(at).with_scale(Vec3::new(cols * pixel, 7.0 * pixel, 1.0)),
        ));
    }
    parts
}

fn light_up(
    stage: Res<Stage>,
    leds: Query<&Led>,
    mut lights: Query<(&InteriorLight, &mut SpotLight)>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    for led in &leds {
        let Some(p) = stage.poses.get(led.automat) else { continue };
        let lit = p.leds[led.which];
        let want = led_colour(led.which, if lit { 1.0 } else { 0.2 });
        let Some(m) = materials.get(&led.material) else { continue };
        if m.base_color != want
            && let Some(mut m) = materials.get_mut(&led.material)
        {
            m.base_color = want;
            m.emissive = if lit { want.to_linear() * 4.0 } else { LinearRgba::BLACK };
        }
    }
    for (light, mut point) in &mut lights {
        let level = stage.poses.get(light.0).map_or(0.0, |p| p.light.max(0.0));
        let want = INTERIOR_LUMENS * level;
        if point.intensity != want {
            point.intensity = want;
        }
    }
}

/// Shows the person at each keypad as they look; rebuilds a figure when the look changes.
fn place_people(
    mut commands: Commands,
    stage: Res<Stage>,
    mut kit: ResMut<Kit>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut figures: Query<(Entity, &mut Figure, &mut Visibility)>,
    mut made: ResMut<AssetsMade>,
) {
    let cached = kit.cached();
    for (entity, mut figure, mut vis) in &mut figures {
        let person = stage.poses.get(figure.automat).and_then(|p| p.person);
        let want = if person.is_some() { Visibility::Inherited } else { Visibility::Hidden };
        if *vis != want {
            *vis = want;
        }
        let Some(person) = person else { continue };
        let key = person_key(&person);
        if figure.shown == Some(key) {
            continue;
        }
        figure.shown = Some(key);
        commands.entity(entity).despawn_related::<Children>();
        let parts = body(&mut kit, &mut materials, &person);
        commands.entity(entity).with_children(|f| {
            for (mesh, material, tf) in parts {
                f.spawn((Mesh3d(mesh), MeshMaterial3d(material), tf));
            }
        });
    }
    if kit.cached() != cached {
        made.0 += 1;
    }
}

/// A person's body, facing +z in its own frame (the figure is turned to face the cabinet):
/// legs, torso and arms in their clothes, neck and head in their skin, hair on top and at the
/// back, eyes.
fn body(
    kit: &mut Kit,
    materials: &mut Assets<StandardMaterial>,
    p: &Person,
) -> Vec<(Handle<Mesh>, Handle<StandardMaterial>, Transform)> {
    let h = p.height.clamp(1.0, 2.4);
    let s = h / 1.75;
    let mut paint =
        |c: [u8; 3], rough: f32| kit.colours.entry(c).or_insert_with(|| plastic(materials, c, rough)).clone();
    let clothes = paint(p.clothes, 0.85);
    let trousers = paint(p.clothes.map(|v| (f32::from(v) * 0.45) as u8), 0.85);
    let skin = paint(p.skin, 0.6);
    let hair = paint(p.hair, 0.9);
    let eyes = paint([25, 22, 22], 0.3);
    let (capsule, sphere) = (kit.capsule.clone(), kit.sphere.clone());
    let limb = |x: f32, y0: f32, y1: f32, r: f32| {
        Transform::from_xyz(x, (y0 + y1) / 2.0, 0.0).with_scale(Vec3::new(2.0 * r, (y1 - y0) / 2.0, 2.0 * r))
    };
    let head = Vec3::new(0.0, 0.925 * h, 0.0);
    let r = 0.105 * s;
    vec![
        (capsule.clone(), trousers.clone(), limb(-0.09 * s, 0.0, 0.49 * h, 0.07 * s)),
        (capsule.clone(), trousers, limb(0.09 * s, 0.0, 0.49 * h, 0.07 * s)),
        (
            capsule.clone(),
            clothes.clone(),
            Transform::from_xyz(0.0, 0.66 * h, 0.0).with_scale(Vec3::new(0.36 * s, 0.17 * h, 0.22 * s)),
        ),
        (capsule.clone(), clothes.clone(), limb(-0.23 * s, 0.47 * h, 0.81 * h, 0.05 * s)),
        (capsule.clone(), clothes, limb(0.23 * s, 0.47 * h, 0.81 * h, 0.05 * s)),
        (capsule, skin.clone(), limb(0.0, 0.80 * h, 0.88 * h, 0.045 * s)),
        (sphere.clone(), skin, Transform::from_translation(head).with_scale(Vec3::new(0.9 * r, r * 1.12, r))),
        (
            sphere.clone(),
            hair,
            Transform::from_translation(head + Vec3::new(0.0, 0.32 * r, -0.18 * r)).with_scale(Vec3::new(
                0.97 * r,
                0.86 * r,
                1.0 * r,
            )),
        ),
        (
            sphere.clone(),
            eyes.clone(),
            Transform::from_translation(head + Vec3::new(-0.33 * r, 0.1 * r, 0.86 * r))
                .with_scale(Vec3::splat(0.12 * r)),
        ),
        (
            sphere,
            eyes,
            Transform::from_translation(head + Vec3::new(0.33 * r, 0.1 * r, 0.86 * r))
                .with_scale(Vec3::splat(0.12 * r)),
        ),
    ]
}
