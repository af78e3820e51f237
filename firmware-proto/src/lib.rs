//! The wire protocol of the carousel key automat, its link layer, and the reference board
//! firmware.
//!
//! Data flows through these layers, bottom up:
//!
//! - [`frame`]: one frame: an 11-byte [`frame::Header`], a payload and a CRC-32C, COBS-encoded
//!   and ended by `0x00`. [`decoder::Decoder`] turns a byte stream with any chunking into
//!   checked frames and counts what it drops.
//! - [`link::Link`]: reliable, in-order, exactly-once delivery over one channel (sequence
//!   numbers, cumulative acks, retransmission with backoff, keepalive, recovery from a peer
//!   restart). Sans-IO: `handle_bytes`/`handle_timeout` in, `poll_transmit`/`poll_event`/
//!   `poll_timeout` out.
//! - [`message`]: a payload is a kind byte and a postcard body. The message sets are
//!   [`host::HostToBoard`] / [`host::BoardToHost`] (controller ⇄ board) and
//!   [`plant::BoardToPlant`] / [`plant::PlantToBoard`] (board ⇄ plant, including the
//!   lockstep clock). [`auth`] signs and checks the commands that expose a key.
//! - [`board::Board`]: the reference board firmware, sans-IO, written only in terms of
//!   plant-link messages and `now`. [`motion::Trapezoid`] is the velocity profile both the
//!   board and a plant compute moves with.
//!
//! `PROTOCOL.md` beside this crate is the specification a board vendor implements from.
//!
//! The crate is `no_std` + `alloc`; the default `std` feature only adds `std::error::Error`.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod auth;
pub mod board;
pub mod decoder;
pub mod frame;
pub mod host;
pub mod link;
pub mod message;
pub mod motion;
pub mod plant;
pub mod time;
pub mod types;

pub use time::Instant;

#[cfg(test)]
mod proptests;
