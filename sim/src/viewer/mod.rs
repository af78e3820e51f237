//! `sim view`: the 3D viewer (cargo feature `viewer`). It draws a [`Replay`] frame by frame:
//! a trace as recorded, or a scenario simulated live inside the viewer's app (the run stepped
//! by [`crate::app::SimPlugin`], the same run and round loop as `sim run`). [`scene`] builds and moves the automats; [`panels`] is the egui side: controls,
//! the timeline, the event log, expectations, link traffic and camera images.
//!
//! `--screenshot` renders one moment and exits: pipelines compile synchronously there, and
//! the picture is taken only once the render world has no pipeline left waiting and several
//! frames have been drawn since, so the PNG shows the scene, not the black first frames. Beside
//! the PNG, `<name>.regions.json` says where each automat's window, window slot and drum are in it.

// Bevy systems name their parameters without lifetimes, and take many of them.
#![allow(elided_lifetimes_in_paths, clippy::too_many_arguments)]

mod panels;
mod scene;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bevy::app::AppExit;
use bevy::prelude::*;
use bevy::render::render_resource::PipelineCache;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::render::{Render, RenderApp, RenderPlugin, RenderSystems};
use bevy::window::{PresentMode, WindowResolution};
use bevy::winit::WinitSettings;
use bevy_egui::EguiPlugin;

use crate::replay::{Frame, Live, Replay};
use crate::scenario::Scenario;

/// What to show.
#[derive(Debug)]
pub enum Source {
    /// A trace file, replayed as recorded.
    Trace(PathBuf),
    /// A scenario, simulated live (its camera images go to the directory).
    Scenario(Box<Scenario>, PathBuf),
}

/// How to run the viewer.
#[derive(Debug)]
pub struct ViewOptions {
    /// What to show.
    pub source: Source,
    /// Seed override for a scenario.
    pub seed: Option<u64>,
    /// Window size, physical pixels.
    pub size: (u32, u32),
    /// Start at this simulated time, µs.
    pub at: u64,
    /// Render the moment `at` into this PNG and exit.
    pub screenshot: Option<PathBuf>,
    /// Play at 10× for this many frames once drawn, print the frame rate, and exit.
    pub measure_frames: Option<u32>,
    /// A scenario's camera mode (`None`: the scenario's own, else drawn).
    pub cameras: Option<crate::camera::CameraMode>,
}

/// The run being shown.
#[derive(Resource)]
pub(crate) enum Model {
    Trace(Replay),
    Live(Live),
}

impl Model {
    pub(crate) fn replay(&self) -> &Replay {
        match self {
            Model::Trace(r) => r,
            Model::Live(l) => &l.replay,
        }
    }

    fn is_complete(&self) -> bool {
        match self {
            Model::Trace(_) => true,
            Model::Live(l) => l.is_done(),
        }
    }
}

/// Where the playhead is and how it moves.
#[derive(Resource, Debug)]
pub(crate) struct Playback {
    /// Simulated time shown, µs (fractional while playing).
    pub t: f64,
    pub playing: bool,
    /// Simulated seconds per real second.
    pub speed: f32,
    /// The follow camera (else free orbit).
    pub follow: bool,
    /// The automat the follow camera and the camera panel show.
    pub automat: usize,
}

impl Playback {
    pub(crate) fn micros(&self) -> u64 {
        self.t.max(0.0) as u64
    }

    /// To the next notable event (`forward`) or the previous one, if there is one.
    pub(crate) fn jump(&mut self, replay: &Replay, forward: bool) {
        let t = self.micros();
        let to = if forward { replay.next_event(t) } else { replay.previous_event(t) };
        if let Some(to) = to {
            self.t = to as f64;
        }
    }
}

/// The frame at the playhead, computed once per update.
#[derive(Resource, Debug)]
pub(crate) struct Current(pub Frame);

/// Pipelines the render world still compiles (written there, read here).
#[derive(Resource, Clone, Default)]
struct Waiting(Arc<AtomicUsize>);

/// How a screenshot or a measurement run is going.
#[derive(Resource, Debug, Default)]
struct Shot {
    path: Option<PathBuf>,
    measure: Option<u32>,
    frames: u32,
    settled: u32,
    requested: bool,
    measuring: Option<(std::time::Instant, u32)>,
    done: Arc<std::sync::Mutex<Option<Result<(), String>>>>,
}

/// The replay to show: a recorded trace, or a scenario set up live, with its run (already
/// run to its end when nobody watches).
fn open_model(options: &ViewOptions) -> Result<(Model, Option<crate::run::Run>), String> {
    Ok(match &options.source {
        Source::Trace(path) => (Model::Trace(Replay::load(path).map_err(|e| e.to_string())?), None),
        Source::Scenario(s, images) => {
            let (mut live, run) = Live::start((**s).clone(), options.seed, options.cameras, images)
                .map_err(|e| format!("cannot start the run: {e}"))?;
            if options.screenshot.is_some() || options.measure_frames.is_some() {
                live.finish(run);
                (Model::Live(live), None)
            } else {
                live.poll();
                (Model::Live(live), Some(run))
            }
        }
    })
}

/// Opens the viewer; returns when its window is closed, or once the screenshot is written.
pub fn view(options: ViewOptions) -> Result<(), String> {
    let (model, run) = open_model(&options)?;
    if let Some(e) = match &model {
        Model::Live(l) => l.error.clone(),
        Model::Trace(_) => None,
    } {
        return Err(e);
    }
    let end = model.replay().end();
    if options.screenshot.is_some() && options.at > end && model.is_complete() {
        return Err(format!(
            "--at {} is after the run's end ({})",
            crate::run::fmt_time(firmware_proto::Instant::from_micros(options.at)),
            crate::run::fmt_time(firmware_proto::Instant::from_micros(end))
        ));
    }
    let unattended = options.screenshot.is_some() || options.measure_frames.is_some();
    let title = format!("sim view: {}", model.replay().info.scenario);
    let frame = model.replay().frame(options.at);
    let automats = model.replay().automats.len().max(1);
    let waiting = Waiting::default();
    let done = Arc::new(std::sync::Mutex::new(None));
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title,
                    resolution: WindowResolution::new(options.size.0, options.size.1)
                        .with_scale_factor_override(1.0),
                    present_mode: if unattended { PresentMode::AutoNoVsync } else { PresentMode::AutoVsync },
                    ..default()
                }),
                ..default()
            })
            .set(RenderPlugin { synchronous_pipeline_compilation: unattended, ..default() }),
    )
    .add_plugins(EguiPlugin::default())
    .insert_resource(WinitSettings::continuous())
    .insert_resource(ClearColor(Color::srgb(0.12, 0.13, 0.15)))
    .insert_resource(model)
    .insert_resource(Playback {
        t: options.at as f64,
        playing: !unattended || options.measure_frames.is_some(),
        speed: if options.measure_frames.is_some() { 10.0 } else { 1.0 },
        follow: true,
        automat: 0,
    })
    .insert_resource(Current(frame))
    .insert_resource(waiting.clone())
    .insert_resource(Shot {
        path: options.screenshot.clone(),
        measure: options.measure_frames,
        done: done.clone(),
        ..default()
    })
    .insert_resource(scene::Layout::new(automats))
    .add_systems(PreUpdate, advance)
    .add_systems(Update, unattended_frames)
    .add_plugins((scene::ViewerScenePlugin, panels::PanelsPlugin));
    // A live run steps inside this app: the same plugin and round loop as `sim run`, with a
    // frame's budget so the run keeps ahead of the playhead and the window stays responsive.
    if let Some(run) = run {
        app.insert_non_send(crate::app::Sim { run: Some(run), outcome: None }).add_plugins(
            crate::app::SimPlugin {
                exit_when_over: false,
                frame_budget: Some(std::time::Duration::from_millis(8)),
            },
        );
    }
    if let Some(render) = app.get_sub_app_mut(RenderApp) {
        render.insert_resource(waiting).add_systems(Render, count_waiting.in_set(RenderSystems::Cleanup));
    }
    let exit = app.run();
    if let Some(result) = done.lock().map_err(|_| "the screenshot writer panicked".to_string())?.take() {
        return result;
    }
    match exit {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => Err(format!("the viewer exited with code {code}")),
    }
}

fn count_waiting(cache: Res<PipelineCache>, waiting: Res<Waiting>) {
    waiting.0.store(cache.waiting_pipelines().count(), Ordering::Relaxed);
}

/// Moves the playhead and computes the frame there; takes in a live run's new lines.
fn advance(
    time: Res<Time<Real>>,
    mut model: ResMut<Model>,
    mut playback: ResMut<Playback>,
    mut current: ResMut<Current>,
) {
    if let Model::Live(live) = &mut *model {
        live.poll();
    }
    let end = model.replay().end() as f64;
    if playback.playing {
        playback.t += time.delta_secs_f64() * f64::from(playback.speed) * 1e6;
        if playback.t >= end && model.is_complete() {
            playback.t = end;
            playback.playing = false;
        }
    }
    playback.t = playback.t.clamp(0.0, end.max(0.0));
    current.0 = model.replay().frame(playback.micros());
    if playback.follow
        && let Some(busy) = current.0.automats.iter().position(|a| a.user.is_some() || a.moving)
    {
        playback.automat = busy;
    }
}

/// Screenshot and measurement runs: wait until drawn, then shoot (or count frames) and exit.
fn unattended_frames(
    mut commands: Commands,
    mut shot: ResMut<Shot>,
    waiting: Res<Waiting>,
    layout: Res<scene::Layout>,
    current: Res<Current>,
    cameras: Query<(&Camera, &GlobalTransform), With<Camera3d>>,
    mut exit: MessageWriter<AppExit>,
) {
    if shot.path.is_none() && shot.measure.is_none() {
        return;
    }
    shot.frames += 1;
    if let Ok(done) = shot.done.lock()
        && let Some(result) = done.as_ref()
    {
        exit.write(if result.is_ok() { AppExit::Success } else { AppExit::error() });
        return;
    }
    // Drawn: nothing left compiling for several frames in a row, and not the very first frames.
    if waiting.0.load(Ordering::Relaxed) == 0 && shot.frames > 3 {
        shot.settled += 1;
    } else {
        shot.settled = 0;
    }
    if shot.settled < 8 {
        return;
    }
    if let Some(n) = shot.measure {
        match shot.measuring {
            None => shot.measuring = Some((std::time::Instant::now(), shot.frames)),
            Some((start, first)) if shot.frames - first >= n => {
                let secs = start.elapsed().as_secs_f64();
                let fps = f64::from(n) / secs;
                #[allow(clippy::print_stdout)]
                {
                    println!("frames: {n} in {secs:.3} s = {fps:.1} fps");
                }
                if let Ok(mut done) = shot.done.lock() {
                    *done = Some(Ok(()));
                }
            }
            Some(_) => {}
        }
        return;
    }
    if shot.requested {
        return;
    }
    shot.requested = true;
    let Some(path) = shot.path.clone() else { return };
    let done = shot.done.clone();
    let legend = regions(&layout, &current, cameras.single().ok());
    commands.spawn(Screenshot::primary_window()).observe(move |captured: On<ScreenshotCaptured>| {
        let result = save_png(&captured.image, &path).and_then(|()| {
            let file = path.with_extension("regions.json");
            std::fs::write(&file, &legend).map_err(|e| format!("cannot write {}: {e}", file.display()))
        });
        if let Ok(mut done) = done.lock() {
            *done = Some(result);
        }
    });
}

/// Where a world point lands in the camera's view drawn at `min` with `size` (pixels, y down),
/// and whether it is in view (in front of the camera, inside the rectangle).
pub(crate) fn project(
    camera: &Camera,
    tf: &GlobalTransform,
    point: Vec3,
    min: Vec2,
    size: Vec2,
) -> Option<(Vec2, bool)> {
    let ndc = camera.world_to_ndc(tf, point)?;
    let at = min + Vec2::new((ndc.x + 1.0) / 2.0 * size.x, (1.0 - ndc.y) / 2.0 * size.y);
    Some((at, ndc.z >= 0.0 && ndc.x.abs() <= 1.0 && ndc.y.abs() <= 1.0))
}

/// Where each automat's presentation window, the fob at its window slot and the top of its
/// carousel drum are in the picture, in pixels
/// (`[left, top, right, bottom]`), as JSON: written beside a screenshot, for tests and figure
/// captions.
fn regions(layout: &scene::Layout, current: &Current, camera: Option<(&Camera, &GlobalTransform)>) -> String {
    let Some((camera, tf)) = camera else { return "[]".into() };
    let Some(view) = camera.physical_viewport_rect() else { return "[]".into() };
    let rect_of = |corners: &[Vec3]| -> Option<[u32; 4]> {
        let (min, size) = (view.min.as_vec2(), view.size().as_vec2());
        let points: Vec<Vec2> = corners
            .iter()
            .map(|p| project(camera, tf, *p, min, size).map(|(at, _)| at))
            .collect::<Option<_>>()?;
        let lo = points.iter().fold(Vec2::MAX, |a, p| a.min(*p)).max(view.min.as_vec2());
        let hi = points.iter().fold(Vec2::MIN, |a, p| a.max(*p)).min(view.max.as_vec2());
        Some([lo.x as u32, lo.y as u32, hi.x as u32, hi.y as u32])
    };
    let automats: Vec<String> = (0..current.0.automats.len())
        .map(|i| {
            let o = layout.origin(i);
            let (w, h, z) = (scene::WINDOW_W / 2.0, scene::WINDOW_H / 2.0, scene::DEPTH / 2.0);
            let window: Vec<Vec3> = [(-w, -h), (w, -h), (-w, h), (w, h)]
                .iter()
                .map(|(x, y)| o + Vec3::new(*x, scene::WINDOW_Y + y, z))
                .collect();
            // The drum's top, seen through the glass top.
            let r = crate::scene::DRUM_RADIUS;
            let drum: Vec<Vec3> = [-r, r]
                .iter()
                .flat_map(|x| [-r, r].map(move |z| o + Vec3::new(*x, scene::DRUM_TOP, z)))
                .collect();
            // Where the fob on the window slot's hook hangs.
            let hang = crate::scene::HANG_RADIUS;
            let slot: Vec<Vec3> = [
                (-0.035, scene::HOOK_Y - 0.13),
                (0.035, scene::HOOK_Y - 0.13),
                (-0.035, scene::HOOK_Y),
                (0.035, scene::HOOK_Y),
            ]
            .iter()
            .map(|(x, y)| o + Vec3::new(*x, *y, hang))
            .collect();
            let json = |r: Option<[u32; 4]>| r.map_or("null".to_string(), |r| format!("{r:?}"));
            format!(
                "{{\"automat\": {i}, \"window\": {}, \"slot\": {}, \"drum\": {}}}",
                json(rect_of(&window)),
                json(rect_of(&slot)),
                json(rect_of(&drum))
            )
        })
        .collect();
    format!("[{}]\n", automats.join(", "))
}

fn save_png(image: &Image, path: &Path) -> Result<(), String> {
    let picture = image.clone().try_into_dynamic().map_err(|e| format!("cannot read the screenshot: {e}"))?;
    picture.to_rgb8().save(path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
