//! The egui side of the viewer: controls (play/pause, speed 0.1×–100×, previous/next event,
//! follow or orbit camera), the timeline with its event markers (failures in red), the event
//! log in step with the playhead, the expectations with their verdicts, the link traffic as
//! decoded messages, the camera images at the playhead, and labels over the 3D scene (fob
//! labels, the screen line, the user's name).
//!
//! Keys: space play/pause, ←/→ previous/next event, Home/End, +/− speed, F follow/orbit.

use std::collections::HashMap;
use std::path::PathBuf;

use bevy::camera::visibility::RenderLayers;
use bevy::camera::{CameraOutputMode, Viewport};
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::prelude::*;
use bevy::render::render_resource::BlendState;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, EguiGlobalSettings, EguiPrimaryContextPass, PrimaryEguiContext, egui};

use super::scene::{HOOK_Y, HangPoint, Layout, RADIUS, SCREEN, USER};
use super::{Current, Model, Playback};
use crate::replay::{Capture, Entry, Kind, Replay};
use crate::run::fmt_time;

/// Whether the pointer is over a panel (the orbit camera then ignores it).
#[derive(Resource, Debug, Default)]
pub(crate) struct PointerOverUi(pub bool);

/// What the panels remember between frames.
#[derive(Resource, Default)]
struct PanelState {
    show_messages: bool,
    show_plant: bool,
    /// Indices of the entries the log shows, and how many entries that was computed over.
    filtered: Vec<usize>,
    filtered_over: (usize, bool, bool),
    follow_log: bool,
    /// The playhead when the log last scrolled to it.
    scrolled_to: Option<u64>,
    textures: HashMap<PathBuf, Option<egui::TextureHandle>>,
}

pub(crate) struct PanelsPlugin;

impl Plugin for PanelsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<PointerOverUi>()
            .add_systems(Startup, egui_camera)
            .insert_resource(PanelState { follow_log: true, ..default() })
            .add_systems(Update, keys)
            .add_systems(EguiPrimaryContextPass, panels);
    }
}

/// egui draws through a camera of its own over the whole window, after the 3D view (whose
/// viewport is what the panels leave).
fn egui_camera(mut commands: Commands, mut settings: ResMut<EguiGlobalSettings>) {
    settings.auto_create_primary_context = false;
    commands.spawn((
        PrimaryEguiContext,
        Camera2d,
        Msaa::Off,
        Tonemapping::None,
        DebandDither::Disabled,
        RenderLayers::none(),
        Camera {
            order: 1,
            output_mode: CameraOutputMode::Write {
                blend_state: Some(BlendState::ALPHA_BLENDING),
                clear_color: ClearColorConfig::None,
            },
            clear_color: ClearColorConfig::Custom(Color::NONE),
            ..default()
        },
    ));
}

fn t_text(t: u64) -> String {
    fmt_time(firmware_proto::Instant::from_micros(t))
}

fn keys(keys: Res<ButtonInput<KeyCode>>, model: Res<Model>, mut playback: ResMut<Playback>) {
    let replay = model.replay();
    if keys.just_pressed(KeyCode::Space) {
        playback.playing = !playback.playing;
    }
    if keys.just_pressed(KeyCode::ArrowRight) {
        playback.jump(replay, true);
    }
    if keys.just_pressed(KeyCode::ArrowLeft) {
        playback.jump(replay, false);
    }
    if keys.just_pressed(KeyCode::Home) {
        playback.t = 0.0;
    }
    if keys.just_pressed(KeyCode::End) {
        playback.t = replay.end() as f64;
    }
    if keys.just_pressed(KeyCode::Equal) || keys.just_pressed(KeyCode::NumpadAdd) {
        playback.speed = (playback.speed * 2.0).min(100.0);
    }
    if keys.just_pressed(KeyCode::Minus) || keys.just_pressed(KeyCode::NumpadSubtract) {
        playback.speed = (playback.speed / 2.0).max(0.1);
    }
    if keys.just_pressed(KeyCode::KeyF) {
        playback.follow = !playback.follow;
    }
}

fn kind_colour(kind: Kind) -> egui::Color32 {
    match kind {
        Kind::Failure => egui::Color32::from_rgb(235, 80, 80),
        Kind::Alert => egui::Color32::from_rgb(240, 170, 60),
        Kind::Step => egui::Color32::from_rgb(120, 180, 255),
        Kind::User => egui::Color32::from_rgb(200, 200, 120),
        Kind::Display => egui::Color32::from_rgb(120, 220, 140),
        Kind::Message | Kind::Link => egui::Color32::from_gray(140),
        Kind::Plant => egui::Color32::from_gray(170),
        _ => egui::Color32::from_gray(215),
    }
}

fn panels(
    mut contexts: EguiContexts,
    model: Res<Model>,
    current: Res<Current>,
    layout: Res<Layout>,
    mut playback: ResMut<Playback>,
    mut state: ResMut<PanelState>,
    mut pointer: ResMut<PointerOverUi>,
    mut camera: Query<(&mut Camera, &GlobalTransform), With<Camera3d>>,
    points: Query<(&HangPoint, &GlobalTransform)>,
    window: Query<&Window, With<PrimaryWindow>>,
) -> Result {
    let ctx = contexts.ctx_mut()?.clone();
    let replay = model.replay();
    let t = playback.micros();
    let mut root = egui::Ui::new(
        ctx.clone(),
        "viewer".into(),
        egui::UiBuilder::new().layer_id(egui::LayerId::background()).max_rect(ctx.viewport_rect()),
    );

    egui::Panel::top("controls").show(&mut root, |ui| controls(ui, replay, &mut playback));
    egui::Panel::bottom("timeline")
        .exact_size(46.0)
        .show(&mut root, |ui| timeline(ui, replay, &mut playback));
    egui::Panel::left("log").default_size(380.0).resizable(true).show(&mut root, |ui| {
        event_log(ui, replay, &mut state, &mut playback);
    });
    egui::Panel::right("inspect").default_size(310.0).resizable(true).show(&mut root, |ui| {
        egui::ScrollArea::vertical().show(ui, |ui| {
            expectations(ui, replay);
            ui.separator();
            link_traffic(ui, replay, t, playback.automat);
            ui.separator();
            cameras(ui, &ctx, &current, playback.automat, &mut state.textures);
        });
    });
    let free = root.available_rect_before_wrap();
    // The root covers the whole window, so "over egui" is: outside the 3D view's rectangle, or
    // dragging a widget.
    let in_view = ctx.pointer_latest_pos().is_some_and(|p| free.contains(p));
    pointer.0 = !in_view || ctx.dragged_id().is_some();

    // The 3D view fills what the panels leave.
    let scale = window.iter().next().map_or(1.0, |w| w.scale_factor());
    let Ok((mut cam, cam_tf)) = camera.single_mut() else { return Ok(()) };
    let pos = (free.min.to_vec2() * scale).max(egui::Vec2::ZERO);
    let size = (free.size() * scale).max(egui::vec2(1.0, 1.0));
    cam.viewport = Some(Viewport {
        physical_position: UVec2::new(pos.x as u32, pos.y as u32),
        physical_size: UVec2::new(size.x as u32, size.y as u32),
        ..default()
    });

    labels(&ctx, free, (&cam, cam_tf), &points, &current, &layout, replay);
    Ok(())
}

/// Labels over the scene where world points land in the free rectangle: the presented fob's
/// label, each automat's screen line and name, and what its user is doing.
fn labels(
    ctx: &egui::Context,
    free: egui::Rect,
    (cam, cam_tf): (&Camera, &GlobalTransform),
    points: &Query<(&HangPoint, &GlobalTransform)>,
    current: &Current,
    layout: &Layout,
    replay: &crate::replay::Replay,
) {
    let (min, size) = (Vec2::new(free.min.x, free.min.y), Vec2::new(free.width(), free.height()));
    let project = |p: Vec3| -> Option<egui::Pos2> {
        let (at, seen) = super::project(cam, cam_tf, p, min, size)?;
        seen.then(|| egui::pos2(at.x, at.y))
    };
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Background, egui::Id::new("labels")));
    let painter = painter.with_clip_rect(free);
    let font = egui::FontId::proportional(12.0);
    for (point, tf) in points {
        let Some(item) =
            current.0.automats.get(point.automat).and_then(|a| a.hooks.get(point.slot)).cloned().flatten()
        else {
            continue;
        };
        let origin = layout.origin(point.automat);
        let at = tf.translation();
        // The fob at the window: the others are behind the front panel.
        let at_window = (at.x - origin.x).abs() < 0.03 && at.z - origin.z > RADIUS * 0.9;
        if !at_window || item.look.label.is_empty() {
            continue;
        }
        if let Some(p) = project(at - Vec3::Y * 0.09) {
            painter.text(
                p,
                egui::Align2::CENTER_CENTER,
                &item.look.label,
                font.clone(),
                egui::Color32::WHITE,
            );
        }
    }
    for (i, a) in current.0.automats.iter().enumerate() {
        let o = layout.origin(i);
        if let Some(p) = project(o + SCREEN) {
            let text = if a.cabinet.powered { a.display.as_str() } else { "" };
            painter.text(
                p,
                egui::Align2::CENTER_CENTER,
                text,
                egui::FontId::monospace(9.0),
                egui::Color32::from_rgb(140, 255, 160),
            );
        }
        if let Some(p) = project(o + Vec3::new(0.0, HOOK_Y + 0.85, 0.5)) {
            let name = replay.automats.get(i).map_or("?", |a| a.name.as_str());
            painter.text(
                p,
                egui::Align2::CENTER_BOTTOM,
                name,
                egui::FontId::proportional(15.0),
                egui::Color32::WHITE,
            );
        }
        if let Some((user, act)) = &a.user
            && let Some(p) = project(o + USER + Vec3::Y * 1.7)
        {
            painter.text(
                p,
                egui::Align2::CENTER_BOTTOM,
                format!("{user}: {act}"),
                font.clone(),
                egui::Color32::from_rgb(240, 230, 160),
            );
        }
    }
}

fn controls(ui: &mut egui::Ui, replay: &Replay, playback: &mut Playback) {
    ui.horizontal(|ui| {
        if ui.button("⏮").on_hover_text("previous event (←)").clicked() {
            playback.jump(replay, false);
        }
        let play = if playback.playing { "⏸ pause" } else { "▶ play" };
        if ui.button(play).on_hover_text("space").clicked() {
            playback.playing = !playback.playing;
        }
        if ui.button("⏭").on_hover_text("next event (→)").clicked() {
            playback.jump(replay, true);
        }
        let t = playback.micros();
        ui.add(
            egui::Slider::new(&mut playback.speed, 0.1..=100.0).logarithmic(true).suffix("×").text("speed"),
        );
        ui.separator();
        ui.monospace(format!("{} / {}", t_text(t), t_text(replay.end())));
        ui.separator();
        ui.selectable_value(&mut playback.follow, true, "follow");
        ui.selectable_value(&mut playback.follow, false, "orbit");
        if replay.automats.len() > 1 {
            egui::ComboBox::from_id_salt("automat")
                .selected_text(replay.automats.get(playback.automat).map_or("?", |a| a.name.as_str()))
                .show_ui(ui, |ui| {
                    for (i, a) in replay.automats.iter().enumerate() {
                        ui.selectable_value(&mut playback.automat, i, &a.name);
                    }
                });
        }
        ui.separator();
        let (verdict, colour) = match replay.passed {
            Some(true) => ("passed", egui::Color32::from_rgb(110, 220, 120)),
            Some(false) => ("FAILED", egui::Color32::from_rgb(235, 80, 80)),
            None => ("running…", egui::Color32::from_gray(200)),
        };
        ui.label(format!("{} · seed {} · {}", replay.info.scenario, replay.info.seed, replay.info.source));
        ui.colored_label(colour, verdict);
    });
}

fn timeline(ui: &mut egui::Ui, replay: &Replay, playback: &mut Playback) {
    let (rect, response) = ui.allocate_exact_size(ui.available_size(), egui::Sense::click_and_drag());
    let end = replay.end().max(1) as f32;
    let x_of = |t: u64| rect.left() + t as f32 / end * rect.width();
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 3.0, egui::Color32::from_gray(32));
    // One tick per pixel column at most; a failure wins its column.
    let mut columns: HashMap<i32, bool> = HashMap::new();
    for (t, failure) in replay.markers() {
        let c = columns.entry(x_of(t) as i32).or_default();
        *c |= failure;
    }
    for (x, failure) in columns {
        let (colour, top) = if failure {
            (egui::Color32::from_rgb(235, 70, 70), rect.top())
        } else {
            (egui::Color32::from_gray(150), rect.center().y)
        };
        painter.line_segment([egui::pos2(x as f32, top), egui::pos2(x as f32, rect.bottom())], (1.0, colour));
    }
    let x = x_of(playback.micros());
    painter.line_segment(
        [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
        (2.0, egui::Color32::from_rgb(90, 170, 255)),
    );
    if let Some(p) = response.interact_pointer_pos() {
        playback.t = f64::from(((p.x - rect.left()) / rect.width()).clamp(0.0, 1.0) * end);
    }
    if let Some(p) = response.hover_pos() {
        let t = ((p.x - rect.left()) / rect.width()).clamp(0.0, 1.0) * end;
        response.on_hover_text(t_text(t as u64));
    }
}

fn event_log(ui: &mut egui::Ui, replay: &Replay, state: &mut PanelState, playback: &mut Playback) {
    ui.horizontal(|ui| {
        ui.strong("events");
        ui.checkbox(&mut state.show_messages, "link messages");
        ui.checkbox(&mut state.show_plant, "plant");
        ui.checkbox(&mut state.follow_log, "follow");
    });
    let key = (replay.entries.len(), state.show_messages, state.show_plant);
    if state.filtered_over != key {
        let (messages, plant) = (state.show_messages, state.show_plant);
        state.filtered = (0..replay.entries.len())
            .filter(|&i| {
                let e: &Entry = &replay.entries[i];
                match e.kind {
                    Kind::Message | Kind::Link => messages,
                    Kind::Plant => plant,
                    _ => true,
                }
            })
            .collect();
        state.filtered_over = key;
    }
    let now = replay.entries_until(playback.micros());
    let current_row = state.filtered.partition_point(|&i| i < now);
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 2.0;
    let mut area = egui::ScrollArea::vertical().auto_shrink([false, false]);
    if state.follow_log && state.scrolled_to != Some(playback.micros()) {
        state.scrolled_to = Some(playback.micros());
        let target = (current_row as f32 * row_height - ui.available_height() / 2.0).max(0.0);
        area = area.vertical_scroll_offset(target);
    }
    area.show_rows(ui, row_height, state.filtered.len(), |ui, rows| {
        for row in rows {
            let e = &replay.entries[state.filtered[row]];
            let past = row < current_row;
            let mut colour = kind_colour(e.kind);
            if !past {
                colour = colour.gamma_multiply(0.45);
            }
            let text = egui::RichText::new(format!("{} {}", t_text(e.t), e.text)).monospace().color(colour);
            let label = egui::Label::new(text).truncate().sense(egui::Sense::click());
            if ui.add(label).on_hover_text(&e.text).clicked() {
                playback.t = e.t as f64;
            }
        }
    });
}

fn expectations(ui: &mut egui::Ui, replay: &Replay) {
    ui.strong("expectations");
    if replay.expectations.is_empty() {
        ui.label("none");
    }
    for e in &replay.expectations {
        let (mark, colour) = match e.met {
            Some(true) => ("✔", egui::Color32::from_rgb(110, 220, 120)),
            Some(false) => ("✘", egui::Color32::from_rgb(235, 80, 80)),
            None => ("…", egui::Color32::from_gray(180)),
        };
        let at = e.at.map(|t| format!(" @ {}", t_text(t))).unwrap_or_default();
        ui.colored_label(colour, format!("{mark} {}{at}", e.text));
    }
}

fn link_traffic(ui: &mut egui::Ui, replay: &Replay, t: u64, automat: usize) {
    ui.strong("link traffic (decoded, last 14 before the playhead)");
    let upto = replay.entries_until(t);
    let recent: Vec<&Entry> = replay.entries[..upto]
        .iter()
        .rev()
        .filter(|e| e.kind == Kind::Message && e.automat == Some(automat))
        .take(14)
        .collect();
    if recent.is_empty() {
        ui.label("none yet");
    }
    for e in recent.into_iter().rev() {
        ui.add(
            egui::Label::new(
                egui::RichText::new(format!("{} {}", t_text(e.t), e.text)).monospace().size(10.5),
            )
            .truncate(),
        )
        .on_hover_text(&e.text);
    }
}

fn cameras(
    ui: &mut egui::Ui,
    ctx: &egui::Context,
    current: &Current,
    automat: usize,
    textures: &mut HashMap<PathBuf, Option<egui::TextureHandle>>,
) {
    ui.strong("camera images at the playhead");
    let Some(a) = current.0.automats.get(automat) else { return };
    ui.horizontal(|ui| {
        for (title, capture) in [("user", &a.front), ("before", &a.before), ("after", &a.after)] {
            ui.vertical(|ui| {
                ui.label(title);
                image(ui, ctx, capture.as_ref(), textures);
            });
        }
    });
}

fn image(
    ui: &mut egui::Ui,
    ctx: &egui::Context,
    capture: Option<&Capture>,
    textures: &mut HashMap<PathBuf, Option<egui::TextureHandle>>,
) {
    let size = egui::vec2(96.0, 96.0);
    let Some(c) = capture else {
        ui.add_sized(size, egui::Label::new("—"));
        return;
    };
    let texture = c.file.as_ref().and_then(|path| {
        textures
            .entry(path.clone())
            .or_insert_with(|| {
                let picture = image::open(path).ok()?.to_rgb8();
                let (w, h) = picture.dimensions();
                let colour = egui::ColorImage::from_rgb([w as usize, h as usize], picture.as_raw());
                Some(ctx.load_texture(path.display().to_string(), colour, egui::TextureOptions::NEAREST))
            })
            .clone()
    });
    match texture {
        Some(tex) => {
            ui.add(egui::Image::new((tex.id(), size))).on_hover_text(format!(
                "#{} at {} ({})",
                c.id,
                t_text(c.t),
                c.result
            ));
        }
        None => {
            ui.add_sized(size, egui::Label::new(format!("#{} {}", c.id, c.result)));
        }
    }
}
