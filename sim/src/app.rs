//! The run as a Bevy app, the way a physics engine plugs into Bevy: the discrete-event core
//! ([`Run`]) stays plain Rust with its own round loop ([`Run::step`]: move the clock to the next
//! event, then rounds at that instant until nothing changes), and one plugin owns a run and
//! steps it from one system. There is one round loop, the core's; `run_plain` runs the same
//! loop without Bevy, so the two give the same trace byte for byte.
//!
//! The run is a non-send resource: the core is single-threaded by design (its caches are plain
//! `Cell`s), and a headless app runs every schedule on the single-threaded executor anyway;
//! parallelism comes from running scenarios side by side.

use bevy::app::{App, AppExit, Plugin, Update};
use bevy::ecs::message::MessageWriter;
use bevy::ecs::schedule::{Schedules, SingleThreadedExecutor};
use bevy::ecs::system::NonSendMut;

use crate::run::{Outcome, Run};

/// The run being simulated, and what it found once over.
#[derive(Debug)]
pub struct Sim {
    /// The core, until the run ends.
    pub run: Option<Run>,
    /// What the run found, once over.
    pub outcome: Option<Outcome>,
}

/// How the plugin steps its run.
#[derive(bevy::ecs::resource::Resource, Clone, Copy, Debug)]
struct Stepping {
    exit_when_over: bool,
    frame_budget: Option<std::time::Duration>,
}

/// Steps the core: once per frame, or as often as the frame's budget allows; at its end, keeps
/// the outcome and (headless) ends the app.
fn step(
    mut sim: NonSendMut<'_, Sim>,
    stepping: bevy::ecs::system::Res<'_, Stepping>,
    mut exit: MessageWriter<'_, AppExit>,
) {
    let Some(run) = sim.run.as_mut() else { return };
    let started = std::time::Instant::now();
    let mut running = run.step();
    if let Some(budget) = stepping.frame_budget {
        while running && started.elapsed() < budget {
            running = run.step();
        }
    }
    if running {
        return;
    }
    if let Some(run) = sim.run.take() {
        sim.outcome = Some(run.finish());
    }
    if stepping.exit_when_over {
        exit.write(AppExit::Success);
    }
}

/// Owns a run (the non-send resource [`Sim`]) and steps it from one system until it is over.
#[derive(Debug, Clone, Copy)]
pub struct SimPlugin {
    /// End the app when the run is over (headless); a viewer goes on showing it.
    pub exit_when_over: bool,
    /// Wall time per frame the run may take (a viewer's live run keeps ahead of the playhead
    /// without stalling the window); `None`: one step per frame.
    pub frame_budget: Option<std::time::Duration>,
}

impl SimPlugin {
    /// One step per frame, and the app ends with the run.
    pub const HEADLESS: SimPlugin = SimPlugin { exit_when_over: true, frame_budget: None };
}

impl Plugin for SimPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(Stepping {
            exit_when_over: self.exit_when_over,
            frame_budget: self.frame_budget,
        })
        .add_systems(Update, step);
    }
}

/// A headless app around `run`, with single-threaded schedules.
pub fn headless_app(run: Run) -> App {
    let mut app = App::new();
    app.add_plugins(bevy::MinimalPlugins);
    app.insert_non_send(Sim { run: Some(run), outcome: None });
    app.add_plugins(SimPlugin::HEADLESS);
    app.finish();
    app.cleanup();
    if let Some(mut schedules) = app.world_mut().get_resource_mut::<Schedules>() {
        for (_, schedule) in schedules.iter_mut() {
            schedule.set_executor(SingleThreadedExecutor::new());
        }
    }
    app
}

/// Runs a run to its end in a headless Bevy app.
pub fn run_headless(run: Run) -> Outcome {
    let mut app = headless_app(run);
    loop {
        app.update();
        if app.should_exit().is_some() {
            break;
        }
    }
    let sim = app.world_mut().remove_non_send::<Sim>();
    match sim.and_then(|s| s.outcome) {
        Some(o) => o,
        None => Outcome::failed("the app ended without an outcome".into()),
    }
}
