//! The run as a Bevy app: the plain models live in a resource, and one plugin per feature
//! advances its part each frame — the clock, the timeline, the plants, the electronics, the
//! users. A frame handles one round at the current instant; the clock moves on only once a
//! round changed nothing. Headless runs use the single-threaded executor: parallelism comes
//! from running scenarios side by side.

use bevy::app::{App, AppExit, Plugin, Update};
use bevy::ecs::message::MessageWriter;
use bevy::ecs::resource::Resource;
use bevy::ecs::schedule::{IntoScheduleConfigs, Schedules, SingleThreadedExecutor, SystemSet};
use bevy::ecs::system::ResMut;

use crate::run::{Outcome, Run};

/// The run being simulated.
#[derive(Resource, Debug)]
pub struct Sim {
    /// The models.
    pub run: Option<Run>,
    /// Whether the current round changed anything.
    pub progress: bool,
    /// Rounds at the current instant.
    pub rounds: u32,
    /// What the run found, once over.
    pub outcome: Option<Outcome>,
}

/// The phases of a frame, in order.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Moves the clock when the last round was quiet.
    Clock,
    /// Timeline steps due.
    Timeline,
    /// Plant reports due.
    Plant,
    /// The controller, boards and links.
    Electronics,
    /// The users.
    Users,
}

fn clock(mut sim: ResMut<'_, Sim>, mut exit: MessageWriter<'_, AppExit>) {
    if sim.progress && sim.rounds < 10_000 {
        // The last round changed something: another round at the same instant.
        sim.progress = false;
        sim.rounds += 1;
        return;
    }
    sim.progress = false;
    sim.rounds = 0;
    let Some(run) = sim.run.as_mut() else { return };
    // The instant has settled: the trace says what changed on the plants.
    run.show_plants();
    if run.is_finished() {
        if let Some(run) = sim.run.take() {
            sim.outcome = Some(run.finish());
        }
        exit.write(AppExit::Success);
        return;
    }
    run.advance_clock();
}

/// Moves the clock.
#[derive(Debug)]
pub struct ClockPlugin;
impl Plugin for ClockPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, clock.in_set(Phase::Clock));
    }
}

macro_rules! phase_plugin {
    ($plugin:ident, $system:ident, $phase:ident, $method:ident, $doc:literal) => {
        fn $system(mut sim: ResMut<'_, Sim>) {
            let sim = &mut *sim;
            if let Some(run) = sim.run.as_mut() {
                if run.$method() {
                    sim.progress = true;
                }
            }
        }

        #[doc = $doc]
        #[derive(Debug)]
        pub struct $plugin;
        impl Plugin for $plugin {
            fn build(&self, app: &mut App) {
                app.add_systems(Update, $system.in_set(Phase::$phase));
            }
        }
    };
}

phase_plugin!(TimelinePlugin, timeline, Timeline, phase_timeline, "Runs the scenario's timeline steps.");
phase_plugin!(
    PlantPlugin,
    plant,
    Plant,
    phase_plants,
    "The carousel, door, window sensors and power of each automat."
);
phase_plugin!(
    ElectronicsPlugin,
    electronics,
    Electronics,
    phase_electronics,
    "The controller, boards and links."
);
phase_plugin!(UsersPlugin, users, Users, phase_users, "The people at the automats.");

/// Every feature plugin, ordered.
#[derive(Debug)]
pub struct SimPlugin;
impl Plugin for SimPlugin {
    fn build(&self, app: &mut App) {
        app.configure_sets(
            Update,
            (Phase::Clock, Phase::Timeline, Phase::Plant, Phase::Electronics, Phase::Users).chain(),
        )
        .add_plugins((ClockPlugin, TimelinePlugin, PlantPlugin, ElectronicsPlugin, UsersPlugin));
    }
}

/// A headless app around `run`, with single-threaded schedules.
pub fn headless_app(run: Run) -> App {
    let mut app = App::new();
    app.add_plugins(bevy::MinimalPlugins);
    app.insert_resource(Sim { run: Some(run), progress: false, rounds: 0, outcome: None });
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
    let sim = app.world_mut().remove_resource::<Sim>();
    match sim.and_then(|s| s.outcome) {
        Some(o) => o,
        None => Outcome::failed("the app ended without an outcome".into()),
    }
}
