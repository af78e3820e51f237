//! The simulated carousel key automat and the headless scenario runner.
//!
//! - [`plant`]: the physical automat as plain structs (carousel drive with analytic motion,
//!   door and latch, hooks, tag reader, occupancy sensor, cameras and the slot renderer, power).
//! - [`wire`]: in-memory serial lines with baud-rate delay and seeded faults.
//! - [`electronics`]: the real [`controller`] and the real reference board firmware of
//!   [`firmware_proto`], joined by the real links over those wires; [`board_box`] is where a
//!   board lives (in process, or across a serial port for the HIL bridge).
//! - [`scenario`]: the RON scenario format and its loader.
//! - [`run`]: one run of a scenario in virtual time, with [`run::users`] who act like people
//!   (and queue like people).
//! - [`app`]: the same run as a Bevy app, one plugin per feature (headless here; the 3D viewer
//!   builds on it).
//! - [`expect`] judges a run; [`trace`] writes it; [`suite`] runs many in parallel and reports.
//! - [`replay`]: a trace read back, the state of every automat at any moment (the viewer's
//!   model; `viewer` draws it in 3D behind the `viewer` feature).
//! - [`swarm`]: random scenarios from seeds, checked against the invariants every run is
//!   checked against, failures shrunk to reproducers.

// Functions stay small enough to read at once (the threshold is in clippy.toml).
#![warn(clippy::too_many_lines)]
pub mod app;
pub mod board_box;
pub mod camera;
pub mod diff;
pub mod electronics;
pub mod expect;
pub mod plant;
pub mod replay;
pub mod report;
pub mod run;
pub mod scenario;
pub mod scene;
pub mod suite;
pub mod swarm;
pub mod trace;
#[cfg(feature = "viewer")]
pub mod viewer;
pub mod wire;
