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

/// Steps the core once per frame: the clock to the next event, and everything due then.
fn step(mut sim: NonSendMut<'_, Sim>, mut exit: MessageWriter<'_, AppExit>) {
    let Some(run) = sim.run.as_mut() else { return };
    if run.step() {
        return;
    }
    if let Some(run) = sim.run.take() {
        sim.outcome = Some(run.finish());
    }
    exit.write(AppExit::Success);
}

/// Owns a run and steps it, one event per frame, until it is over (then `AppExit`).
#[derive(Debug)]
pub struct SimPlugin;

impl Plugin for SimPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, step);
    }
}

/// A headless app around `run`, with single-threaded schedules.
pub fn headless_app(run: Run) -> App {
    let mut app = App::new();
    app.add_plugins(bevy::MinimalPlugins);
    app.insert_non_send(Sim { run: Some(run), outcome: None });
    app.add_plugins(SimPlugin);
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
