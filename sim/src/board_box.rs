//! The board box: where an automat's board lives. The simulator keeps it in process
//! ([`LocalBoard`]: the reference firmware and its two link ends, behind simulated serial
//! lines); the HIL bridge (`hil`) puts a real or virtual board across a serial port. Either
//! way the controller's end of the host link and the plant's end of the plant link stay in
//! [`crate::electronics::Electronics`], and only bytes cross the box's edge.

use firmware_proto::Instant;
use firmware_proto::board::{Board, BoardConfig, BoardOutput, NvState};
use firmware_proto::frame::Channel;
use firmware_proto::host::HostToBoard;
use firmware_proto::link::{Event as LinkEvent, Link, LinkConfig};
use firmware_proto::message::{self, Decoded, Message};
use firmware_proto::plant::PlantToBoard;

use crate::trace::LinkNote;
use crate::wire::{LineConfig, LineStats, Wire};

/// How a board keeps time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoardClock {
    /// In process: the board is handed the simulator's `now` with every call.
    Shared,
    /// Across a line, on the harness's clock: `ClockTick`/`ClockJump` on the plant link, each
    /// answered by a `ClockAck` carrying the board's next timer (PROTOCOL.md §8.3).
    Lockstep,
    /// Across a line, on its own clock: the harness paces simulated time to the wall clock.
    Realtime,
}

/// What one [`BoardBox::run`] hands back.
#[derive(Debug, Default)]
pub struct BoxIo {
    /// Bytes for the controller's end of the host link.
    pub to_controller: Vec<Vec<u8>>,
    /// Bytes for the plant's end of the plant link. A box with one multiplexed line may hand
    /// the same bytes to both: each link end ignores the other channel's frames.
    pub to_plant: Vec<Vec<u8>>,
    /// Things worth noting in the trace, by channel.
    pub notes: Vec<(Channel, LinkNote)>,
    /// Raw bytes crossing a real line, with their direction (`true`: towards the board), for
    /// the trace.
    pub wire: Vec<(bool, Vec<u8>)>,
    /// The line to the board is gone for good (a port that did not come back): the run fails.
    pub lost: Option<String>,
}

/// An automat's board as the rest of the site sees it: bytes in, bytes out, a clock.
pub trait BoardBox: Send + Sync + std::fmt::Debug {
    /// How the board keeps time.
    fn clock(&self) -> BoardClock;
    /// Bytes the controller's end of the host link wrote at `now`.
    fn host_down(&mut self, now: Instant, bytes: &[u8]);
    /// Bytes the plant's end of the plant link wrote at `now`.
    fn plant_up(&mut self, now: Instant, bytes: &[u8]);
    /// Runs the board side up to `now`; returns whether anything happened.
    fn run(&mut self, now: Instant, io: &mut BoxIo) -> bool;
    /// When the board side next needs [`run`](Self::run) (timers, bytes in flight), as far as
    /// the box knows. A lockstep board's timers are learnt from its `ClockAck`s instead.
    fn next_event(&self) -> Option<Instant>;
    /// Blocks (wall clock) until bytes from the board arrive or `deadline` passes; whether
    /// bytes arrived. An in-process box has nothing to wait for.
    fn wait(&mut self, _deadline: std::time::Instant) -> bool {
        false
    }
    /// The board loses power. (A box across a line learns it from the plant link's `Power`
    /// report instead, which the electronics send.)
    fn power_cut(&mut self) {}
    /// Power is back at `now`: the board boots.
    fn power_restore(&mut self, _now: Instant) {}
    /// Whether cutting and restoring the power reaches the board itself (a rig's relay hook),
    /// so that power steps mean what they say even where the plant is real (rig mode).
    fn switches_power(&self) -> bool {
        false
    }
    /// The host line changes behaviour (both directions).
    fn set_host_line(&mut self, cfg: LineConfig);
    /// The host line drops everything until `until`.
    fn drop_host_line(&mut self, now: Instant, until: Instant);
    /// Counters of the lines: ctl→board, board→ctl, board→plant, plant→board.
    fn line_stats(&self) -> [LineStats; 4];

    /// Mixed into the stream ids of the harness's link ends. A board that outlives a run (a
    /// real one, or a virtual board on its own clock) must see new streams in the next run, or
    /// it would take the new frames for duplicates of the old ones; in process, 0 keeps traces
    /// deterministic.
    fn stream_salt(&self) -> u8 {
        0
    }

    /// Whether host and plant bytes reach the board in the order they are handed over (one
    /// line). With a line each, a lockstep harness holds host bytes back until the board has
    /// answered the clock jump ahead of them.
    fn ordered(&self) -> bool {
        true
    }
}

/// The link configuration of a link end with stream id `stream`.
pub fn link_cfg(channel: Channel, stream: u8) -> LinkConfig {
    LinkConfig::new(channel, stream)
}

/// Decodes a link payload, noting what cannot be decoded.
pub fn decode<M: Message>(
    payload: &[u8],
    channel: Channel,
    notes: &mut Vec<(Channel, LinkNote)>,
) -> Option<M> {
    match message::decode::<M>(payload) {
        Ok(Decoded::Known(m)) => Some(m),
        Ok(Decoded::Unknown { kind }) => {
            notes.push((channel, LinkNote::UnknownKind { message_kind: kind }));
            None
        }
        Err(e) => {
            notes.push((channel, LinkNote::Malformed { error: e.to_string() }));
            None
        }
    }
}

/// The reference board firmware in process, with its two link ends, behind four simulated
/// serial lines (ctl→board, board→ctl, board→plant, plant→board).
#[derive(Debug)]
pub struct LocalBoard {
    cfg: BoardConfig,
    board: Option<Board>,
    nv: NvState,
    boots: u8,
    host: Link,
    plant: Link,
    wires: [Wire; 4],
}

impl LocalBoard {
    /// A board powering up at `now` behind lines configured `host` and `plant`.
    pub fn new(cfg: BoardConfig, now: Instant, host: LineConfig, plant: LineConfig, seed: u64) -> Self {
        let nv = NvState::default();
        let mut b = LocalBoard {
            board: Some(Board::new(cfg.clone(), nv, now)),
            cfg,
            nv,
            boots: 1,
            host: Link::new(link_cfg(Channel::Host, 0x80), now),
            plant: Link::new(link_cfg(Channel::Plant, 0x80), now),
            wires: [
                Wire::new(host, seed ^ 1),
                Wire::new(host, seed ^ 2),
                Wire::new(plant, seed ^ 3),
                Wire::new(plant, seed ^ 4),
            ],
        };
        b.reboot_links(now);
        b
    }

    /// The board, when powered.
    pub fn board(&self) -> Option<&Board> {
        self.board.as_ref()
    }

    /// New link state after the board restarts (new stream ids).
    fn reboot_links(&mut self, now: Instant) {
        let stream = 0x80u8.wrapping_add(self.boots.wrapping_mul(16));
        self.host = Link::new(link_cfg(Channel::Host, stream), now);
        self.plant = Link::new(link_cfg(Channel::Plant, stream), now);
    }
}

impl BoardBox for LocalBoard {
    fn clock(&self) -> BoardClock {
        BoardClock::Shared
    }

    fn host_down(&mut self, now: Instant, bytes: &[u8]) {
        self.wires[0].send(now, bytes);
    }

    fn plant_up(&mut self, now: Instant, bytes: &[u8]) {
        self.wires[3].send(now, bytes);
    }

    fn run(&mut self, now: Instant, io: &mut BoxIo) -> bool {
        let mut progress = false;
        let powered = self.board.is_some();
        if let Some(b) = self.board.as_mut() {
            if b.poll_timeout().is_some_and(|t| t <= now) {
                b.handle_timeout(now);
            }
            for l in [&mut self.host, &mut self.plant] {
                if l.poll_timeout().is_some_and(|t| t <= now) {
                    l.handle_timeout(now);
                }
            }
        }
        while let Some(bytes) = self.wires[0].take_due(now) {
            progress = true;
            if powered {
                self.host.handle_bytes(now, &bytes);
            }
        }
        while let Some(bytes) = self.wires[1].take_due(now) {
            progress = true;
            io.to_controller.push(bytes);
        }
        while let Some(bytes) = self.wires[2].take_due(now) {
            progress = true;
            io.to_plant.push(bytes);
        }
        while let Some(bytes) = self.wires[3].take_due(now) {
            progress = true;
            if powered {
                self.plant.handle_bytes(now, &bytes);
            }
        }
        if let Some(b) = self.board.as_mut() {
            while let Some(e) = self.host.poll_event() {
                progress = true;
                if let LinkEvent::Message(p) = e
                    && let Some(m) = decode::<HostToBoard>(&p, Channel::Host, &mut io.notes)
                {
                    b.handle_host(now, m);
                }
            }
            while let Some(e) = self.plant.poll_event() {
                progress = true;
                if let LinkEvent::Message(p) = e
                    && let Some(m) = decode::<PlantToBoard>(&p, Channel::Plant, &mut io.notes)
                {
                    b.handle_plant(now, m);
                }
            }
            while let Some(o) = b.poll_output() {
                progress = true;
                let sent = match &o {
                    BoardOutput::Host(m) => self.host.send_message(now, m),
                    BoardOutput::Plant(m) => self.plant.send_message(now, m),
                };
                if let Err(e) = sent {
                    io.notes.push((
                        Channel::Host,
                        LinkNote::SendRefused { end: "board".into(), error: e.to_string() },
                    ));
                }
            }
            let [_, w1, w2, _] = &mut self.wires;
            while let Some(bytes) = self.host.poll_transmit() {
                w1.send(now, bytes);
            }
            while let Some(bytes) = self.plant.poll_transmit() {
                w2.send(now, bytes);
            }
        }
        progress
    }

    fn next_event(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for w in &self.wires {
            consider(w.next_arrival());
        }
        if let Some(b) = &self.board {
            consider(b.poll_timeout());
            consider(self.host.poll_timeout());
            consider(self.plant.poll_timeout());
        }
        t
    }

    fn power_cut(&mut self) {
        if let Some(b) = self.board.take() {
            self.nv = b.nv_state();
        }
    }

    fn power_restore(&mut self, now: Instant) {
        self.boots = self.boots.wrapping_add(1);
        self.board = Some(Board::new(self.cfg.clone(), self.nv, now));
        self.reboot_links(now);
    }

    fn set_host_line(&mut self, cfg: LineConfig) {
        self.wires[0].cfg = cfg;
        self.wires[1].cfg = cfg;
    }

    fn drop_host_line(&mut self, _now: Instant, until: Instant) {
        self.wires[0].down_until = Some(until);
        self.wires[1].down_until = Some(until);
    }

    fn line_stats(&self) -> [LineStats; 4] {
        self.wires.each_ref().map(Wire::stats)
    }
}
