//! The renderer of the rendered cameras: one Bevy app per process, on a thread of its own,
//! rendering the [scene](crate::scene) offscreen through the camera a capture asks for and
//! reading the pixels back. Runs side by side send it their captures and wait for the
//! pixels; it renders one at a time, so its pipelines compile once for all of them.
//!
//! The app: Bevy's default plugins without a window, winit, pipelined rendering, logging or a
//! Ctrl-C handler; the [`ScenePlugin`] with the room; a light for the room that only the
//! front camera sees (render layer 1), and the two cameras of [`SceneCamera`], each drawing
//! into an image of its own and idle until asked. A capture poses the one automat, wakes its
//! camera, renders a frame with a GPU readback of the image, and renders it again (and again)
//! while a pipeline was still compiling or the frame made new assets; the frame after the last
//! one delivers its pixels. A Vulkan device is looked for first: without one the renderer
//! fails to start with a clear error, never silently.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use bevy::app::{PluginsState, TerminalCtrlCHandlerPlugin};
use bevy::asset::RenderAssetUsages;
use bevy::camera::RenderTarget;
use bevy::camera::visibility::RenderLayers;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy::render::gpu_readback::{Readback, ReadbackComplete};
use bevy::render::pipelined_rendering::PipelinedRenderingPlugin;
use bevy::render::render_resource::{
    Extent3d, PipelineCache, PollType, TextureDimension, TextureFormat, TextureUsages,
};
use bevy::render::renderer::{RenderDevice, initialize_renderer};
use bevy::render::settings::{Backends, RenderCreation, WgpuSettings};
use bevy::render::{RenderApp, RenderPlugin};
use bevy::window::ExitCondition;
use image::RgbImage;

use super::RENDERED_SIZE;
use crate::scene::{Layout, Pose, SceneCamera, ScenePlugin, Stage};

/// A capture to render, and where its pixels go.
struct Job {
    camera: SceneCamera,
    pose: Pose,
    reply: mpsc::Sender<Result<RgbImage, String>>,
}

/// The process's renderer: send it poses, get pixels.
#[derive(Debug)]
pub struct Renderer {
    jobs: Mutex<mpsc::Sender<Job>>,
    /// The GPU it renders with (`llvmpipe (LLVM 15.0.6, 256 bits)` on lavapipe).
    pub adapter: String,
}

static SHARED: OnceLock<Result<Renderer, String>> = OnceLock::new();

impl Renderer {
    /// The process's renderer, started on first use (its pipelines compiled then).
    pub fn shared() -> Result<&'static Renderer, String> {
        SHARED.get_or_init(Renderer::start).as_ref().map_err(Clone::clone)
    }

    fn start() -> Result<Renderer, String> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready) = mpsc::channel();
        std::thread::Builder::new()
            .name("camera renderer".into())
            .spawn(move || match Offscreen::new() {
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
                Ok(mut offscreen) => {
                    let _ = ready_tx.send(offscreen.warm_up().map(|()| offscreen.adapter.clone()));
                    for job in rx {
                        let _ = job.reply.send(offscreen.render(job.camera, job.pose));
                    }
                }
            })
            .map_err(|e| format!("cannot start the camera renderer: {e}"))?;
        let adapter =
            ready.recv().map_err(|_| "the camera renderer stopped while starting".to_string())??;
        Ok(Renderer { jobs: Mutex::new(jobs), adapter })
    }

    /// Renders what `camera` sees of `pose` (its swing and light as given), `RENDERED_SIZE`.
    pub fn render(&self, camera: super::Camera, pose: Pose) -> Result<RgbImage, String> {
        let camera = match camera {
            super::Camera::Internal => SceneCamera::Internal,
            super::Camera::Front => SceneCamera::Front,
        };
        let (reply, pixels) = mpsc::channel();
        let sent = match self.jobs.lock() {
            Ok(jobs) => jobs.send(Job { camera, pose, reply }).is_ok(),
            Err(_) => false,
        };
        if !sent {
            return Err("the camera renderer has stopped".into());
        }
        pixels.recv().map_err(|_| "the camera renderer stopped during a capture".to_string())?
    }
}

/// Pixels a readback delivered, by the frame that asked for them.
#[derive(Resource, Clone, Default)]
struct Delivered(Arc<Mutex<Vec<Vec<u8>>>>);

/// The app that renders, and what it renders into.
struct Offscreen {
    app: App,
    cameras: [(SceneCamera, Entity, Handle<Image>); 2],
    adapter: String,
}

/// Looks for a Vulkan device: none is an error that says what to install.
fn vulkan() -> Result<bevy::render::settings::RenderResources, String> {
    let settings = WgpuSettings { backends: Some(Backends::VULKAN), ..default() };
    // Bevy panics when it finds no adapter: caught here, its message kept off the terminal.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let found = std::panic::catch_unwind(|| {
        bevy::tasks::block_on(initialize_renderer(Backends::VULKAN, None, &settings))
    });
    std::panic::set_hook(hook);
    found.map_err(|p| {
        format!(
            "rendered cameras need a Vulkan device and none was found ({}); on Debian, `apt-get install mesa-vulkan-drivers` gives a software one (lavapipe)",
            crate::run::panic_text(&*p).lines().next().unwrap_or("no adapter")
        )
    })
}

impl Offscreen {
    fn new() -> Result<Offscreen, String> {
        let resources = vulkan()?;
        let adapter = resources.2.name.clone();
        let mut plugins = DefaultPlugins
            .build()
            .set(bevy::window::WindowPlugin {
                primary_window: None,
                exit_condition: ExitCondition::DontExit,
                ..default()
            })
            .set(RenderPlugin {
                render_creation: RenderCreation::Manual(resources),
                synchronous_pipeline_compilation: true,
                ..default()
            })
            .disable::<TerminalCtrlCHandlerPlugin>();
        if plugins.contains::<PipelinedRenderingPlugin>() {
            plugins = plugins.disable::<PipelinedRenderingPlugin>();
        }
        #[cfg(feature = "viewer")]
        {
            plugins = plugins.disable::<bevy::winit::WinitPlugin>().disable::<bevy::log::LogPlugin>();
        }
        let mut app = App::new();
        app.add_plugins(plugins)
            .add_plugins(ScenePlugin { room: true })
            .insert_resource(Layout::new(1))
            .insert_resource(Stage { poses: vec![Pose::empty(30)] })
            .insert_resource(Delivered::default());
        while app.plugins_state() == PluginsState::Adding {
            bevy::tasks::tick_global_task_pools_on_main_thread();
        }
        app.finish();
        app.cleanup();
        let world = app.world_mut();
        // The room's light: from above and behind the person's back, seen by the front camera only.
        world.spawn((
            DirectionalLight { illuminance: 9_000.0, shadow_maps_enabled: false, ..default() },
            Transform::from_xyz(1.0, 4.0, 5.0).looking_at(Vec3::new(0.0, 1.2, 0.0), Vec3::Y),
            RenderLayers::layer(1),
        ));
        let origin = Layout::new(1).origin(0);
        let (w, h) = RENDERED_SIZE;
        let cameras = [SceneCamera::Internal, SceneCamera::Front].map(|which| {
            let size = Extent3d { width: w, height: h, depth_or_array_layers: 1 };
            let mut target = Image::new_uninit(
                size,
                TextureDimension::D2,
                TextureFormat::Rgba8UnormSrgb,
                RenderAssetUsages::RENDER_WORLD,
            );
            target.texture_descriptor.usage |= TextureUsages::RENDER_ATTACHMENT | TextureUsages::COPY_SRC;
            let image = world.resource_mut::<Assets<Image>>().add(target);
            let (layers, ambient) = match which {
                SceneCamera::Internal => (RenderLayers::layer(0), 40.0),
                SceneCamera::Front => (RenderLayers::from_layers(&[0, 1]), 350.0),
            };
            let camera = world
                .spawn((
                    Camera3d::default(),
                    Camera {
                        is_active: false,
                        clear_color: ClearColorConfig::Custom(Color::BLACK),
                        ..default()
                    },
                    RenderTarget::from(image.clone()),
                    Projection::Perspective(which.lens(w as f32 / h as f32)),
                    which.transform(origin),
                    // No multisampling: with 4× MSAA a capture took 1.5× as long on lavapipe (154
                    // against 101 ms over 423 captures), and the print strokes the controller reads
                    // are wide enough without it.
                    Msaa::Off,
                    Tonemapping::None,
                    AmbientLight { brightness: ambient, ..default() },
                    layers,
                ))
                .id();
            (which, camera, image)
        });
        Ok(Offscreen { app, cameras, adapter })
    }

    /// Pipelines the render world still compiles.
    fn compiling(&self) -> usize {
        self.app.sub_app(RenderApp).world().resource::<PipelineCache>().waiting_pipelines().count()
    }

    /// One frame, waited for on the GPU.
    fn frame(&mut self) -> Result<(), String> {
        self.app.update();
        if let Some(exit) = self.app.should_exit() {
            return Err(format!("the camera renderer failed: {exit:?}"));
        }
        self.app
            .world()
            .resource::<RenderDevice>()
            .poll(PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| format!("the camera renderer's GPU failed: {e}"))
    }

    /// Renders every kind of thing once (all fob shapes, prints, a person) through both
    /// cameras, so that a run's first captures do not wait for pipelines.
    fn warm_up(&mut self) -> Result<(), String> {
        use crate::plant::look::{Look, Person, Shape};
        let mut pose = Pose::empty(30);
        for (k, shape) in [Shape::Round, Shape::Square, Shape::Tag, Shape::Triangle].into_iter().enumerate() {
            pose.hooks[k] = Some(Look { colour: [200, 40, 40], shape, label: "K1".into() });
        }
        pose.person = Some(Person::default_for(0));
        for which in [SceneCamera::Internal, SceneCamera::Front] {
            for slot in 0..4 {
                pose.carousel = f64::from(slot);
                self.render(which, pose.clone())?;
            }
        }
        Ok(())
    }

    /// Renders `pose` through `which` and reads the pixels back.
    fn render(&mut self, which: SceneCamera, pose: Pose) -> Result<RgbImage, String> {
        let Some(&(_, camera, ref image)) = self.cameras.iter().find(|(w, _, _)| *w == which) else {
            return Err("no such camera".into());
        };
        let image = image.clone();
        let delivered = self.app.world().resource::<Delivered>().clone();
        if let Ok(mut d) = delivered.0.lock() {
            d.clear();
        }
        let world = self.app.world_mut();
        world.resource_mut::<Stage>().poses = vec![pose];
        if let Some(mut c) = world.get_mut::<Camera>(camera) {
            c.is_active = true;
        }
        let sink = delivered.clone();
        let reader = world
            .spawn(Readback::texture(image))
            .observe(move |done: On<'_, '_, ReadbackComplete>| {
                if let Ok(mut d) = sink.0.lock() {
                    d.push(done.data.clone());
                }
            })
            .id();
        // Frames until one was drawn whole: nothing left compiling, nothing new made for it.
        let mut frames = 0;
        loop {
            let made = self.app.world().resource::<crate::scene::model::AssetsMade>().0;
            self.frame()?;
            frames += 1;
            let fresh = self.app.world().resource::<crate::scene::model::AssetsMade>().0 != made;
            if (self.compiling() == 0 && !fresh) || frames >= 20 {
                break;
            }
        }
        let world = self.app.world_mut();
        world.entity_mut(reader).remove::<Readback>();
        if let Some(mut c) = world.get_mut::<Camera>(camera) {
            c.is_active = false;
        }
        // The next frame delivers the last frame's pixels.
        self.frame()?;
        self.app.world_mut().despawn(reader);
        let mut data = delivered.0.lock().map_err(|_| "the readback's store is poisoned".to_string())?;
        if data.len() < frames {
            return Err(format!("the GPU readback delivered {} of {frames} frames", data.len()));
        }
        let Some(rgba) = data.pop() else { return Err("no frame was read back".into()) };
        data.clear();
        to_rgb(&rgba, RENDERED_SIZE)
    }
}

/// RGBA rows (padded to 256 bytes) to an RGB image.
fn to_rgb(rgba: &[u8], (w, h): (u32, u32)) -> Result<RgbImage, String> {
    let row = w as usize * 4;
    let padded = RenderDevice::align_copy_bytes_per_row(row);
    if rgba.len() < padded * (h as usize - 1) + row {
        return Err(format!("the readback has {} bytes, not a {w}×{h} image", rgba.len()));
    }
    let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h as usize {
        for px in rgba[y * padded..y * padded + row].chunks_exact(4) {
            rgb.extend_from_slice(&px[..3]);
        }
    }
    RgbImage::from_raw(w, h, rgb).ok_or_else(|| "the readback's pixels do not fill the image".to_string())
}
