//! The host-side software of a carousel key automat: the logic the simulator exists to test.
//!
//! - [`registry::Registry`]: keys, contacts, [`model::KeyContract`]s, locker contracts, device
//!   groups, who holds which key and what hangs in which slot; changed only by
//!   [`event::Event`]s.
//! - [`controller::Controller`]: sans-IO. Keypad presses, board reports ([`firmware_proto`]'s
//!   `BoardToHost`), camera images and link state go in through `handle(now, input)`; board
//!   commands, captures, display lines and audit [`audit::Record`]s come out of
//!   `poll_output()`; `poll_timeout()` names the next deadline. The API (contracts,
//!   reservations, revocation) is a set of methods on it.
//! - [`session`]: PIN and return-code entry, authorisation, the take and return flow.
//! - [`allocation`]: the order to present slots in, and where a returned key goes.
//! - [`verify`]: the perceptual image measure behind visual verification.
//! - [`audit`] and [`journal`]: the hash-chained audit trail, made durable by a [`journal::Journal`];
//!   [`controller::Controller::recover`] rebuilds everything from it after a power cut.
//! - [`schedule`]: weekly access windows in local time; [`fleet`]: the nearest automat.
//!
//! No PIN or return code is ever stored, logged or journaled: PINs become keyed digests.

pub mod alerts;
pub mod allocation;
pub mod api;
pub mod audit;
pub mod config;
pub mod controller;
pub mod event;
pub mod fleet;
pub mod ids;
pub mod journal;
pub mod model;
pub mod pin;
pub mod prompts;
pub mod registry;
pub mod schedule;
mod serde_ts;
pub mod session;
pub mod verify;

pub use config::{BoardPairing, ControllerConfig};
pub use controller::{Camera, CapturePurpose, Controller, Input, KeypadKey, Output};
