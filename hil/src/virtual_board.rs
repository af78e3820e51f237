//! `hil virtual-board`: the reference board firmware on a serial port (a new PTY, or a given
//! port), the stand-in for a real board in CI and on a laptop. One port carries both links,
//! told apart by the frame's channel byte.
//!
//! - **Lockstep**: the board's time is the harness's, from `ClockTick`/`ClockJump` on the plant
//!   link; every `ClockAck` names the earlier of the board's timers and its link ends' timers.
//! - **Real time**: the board keeps its own clock (the wall clock since it started).
//!
//! Supply: a real rig cuts a board's power with a relay. The virtual board takes it from the
//! plant's `Power` report instead: mains off with a flat battery (0 mV) switches it off (it
//! answers nothing, keeps only its non-volatile state), mains back boots it (in lockstep at
//! the next tick, whose time its clock starts from). A clock message from a new harness stream,
//! or a lockstep clock that jumps back by more than a second, means a new run: the board
//! restarts, as a fresh one keeping only its non-volatile memory (PROTOCOL.md §8.3).
//!
//! `with_flaw` breaks one rule on purpose, so `hil conformance`'s tests can show it is caught.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use firmware_proto::Instant;
use firmware_proto::auth::PairingKey;
use firmware_proto::board::{Board, BoardConfig, BoardOutput, NvState};
use firmware_proto::decoder::Decoder;
use firmware_proto::frame::Channel;
use firmware_proto::host::HostToBoard;
use firmware_proto::link::{Event as LinkEvent, Link, LinkConfig};
use firmware_proto::message::{Decoded, decode};
use firmware_proto::plant::{BoardToPlant, PlantToBoard};

use crate::faults::FrameSplitter;
use crate::port::Port;

/// Whose clock the board runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Clock {
    /// The harness's (plant-link clock messages); idle time is skipped.
    Lockstep,
    /// Its own (the wall clock).
    Realtime,
}

/// A rule the virtual board breaks on purpose, to prove that `hil conformance` catches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Flaw {
    /// A clock message from a new harness, or one turned back, does not restart it (§8.3).
    Restart,
    /// Its `ClockAck` names only the firmware's timers, not its link ends' (§8.3).
    Deadline,
}

/// A virtual board's identity and geometry.
#[derive(Clone, Debug)]
pub struct VirtualBoardConfig {
    /// The board id (part of every command MAC).
    pub board_id: u32,
    /// The pairing key.
    pub key: PairingKey,
    /// Slots on its carousel.
    pub slots: u8,
    /// Whose clock.
    pub clock: Clock,
}

impl VirtualBoardConfig {
    /// The firmware configuration: the reference board with the simulator's carousel geometry.
    pub fn board_config(&self) -> BoardConfig {
        let mut cfg = BoardConfig::reference(self.board_id, self.key.clone());
        cfg.slot_count = self.slots;
        cfg.counts_per_slot = sim::run::COUNTS_PER_SLOT;
        cfg
    }
}

/// The powered board with its two link ends.
struct Powered {
    board: Board,
    host: Link,
    plant: Link,
}

/// The board behind a port.
pub struct VirtualBoard {
    cfg: VirtualBoardConfig,
    now: Instant,
    started: std::time::Instant,
    nv: NvState,
    boots: u8,
    on: Option<Powered>,
    /// While switched off: frames as a relay would see them, waiting for the supply.
    off: Decoder,
    /// Supplied again; in lockstep it boots at the next tick, whose time its clock starts at.
    boot_pending: bool,
    /// Reads raw frames for clock messages ahead of the links.
    peek: Decoder,
    /// The stream of the harness's plant-link end that last sent a clock message.
    harness: Option<u8>,
    splitter: FrameSplitter,
    /// Frames of the plant link's own port, when it has one.
    second_splitter: FrameSplitter,
    /// The supply as a rig's relay gives it: a file that reads `on` or `off` (anything else
    /// or missing: on). With it, the plant's `Power` reports no longer switch the board.
    supply: Option<std::path::PathBuf>,
    /// A rule broken on purpose.
    flaw: Option<Flaw>,
}

impl std::fmt::Debug for VirtualBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VirtualBoard({:#x}, {:?} at {}, {})",
            self.cfg.board_id,
            self.cfg.clock,
            self.now,
            if self.on.is_some() { "on" } else { "off" }
        )
    }
}

impl VirtualBoard {
    /// A board that powers up now.
    pub fn new(cfg: VirtualBoardConfig) -> Self {
        let mut vb = VirtualBoard {
            cfg,
            now: Instant::ZERO,
            started: std::time::Instant::now(),
            nv: NvState::default(),
            boots: 0,
            on: None,
            off: Decoder::default(),
            boot_pending: false,
            peek: Decoder::default(),
            harness: None,
            splitter: FrameSplitter::default(),
            second_splitter: FrameSplitter::default(),
            supply: None,
            flaw: None,
        };
        vb.power_on();
        vb
    }

    /// Takes the supply from `path` (`on`/`off`), as a relay hook writes it, instead of from
    /// the plant's `Power` reports (`hil virtual-board --supply-file`).
    pub fn with_supply_file(mut self, path: std::path::PathBuf) -> Self {
        self.supply = Some(path);
        self
    }

    /// Breaks `flaw` on purpose (`hil virtual-board --flaw`, for the conformance suite's tests).
    pub fn with_flaw(mut self, flaw: Option<Flaw>) -> Self {
        self.flaw = flaw;
        self
    }

    /// With a supply file: switches off or (at once, or in lockstep at the next tick) on as it
    /// says, before the frame that follows is handled.
    fn follow_supply(&mut self) {
        let Some(path) = &self.supply else { return };
        let on = std::fs::read_to_string(path).map_or(true, |s| s.trim() != "off");
        match (on, self.on.is_some()) {
            (false, true) => {
                self.power_off();
                self.boot_pending = false;
            }
            (true, false) if self.cfg.clock == Clock::Lockstep => self.boot_pending = true,
            (true, false) => self.power_on(),
            _ => {}
        }
    }

    fn power_on(&mut self) {
        self.boots = self.boots.wrapping_add(1);
        let stream = 0x40u8.wrapping_add(self.boots.wrapping_mul(16));
        self.on = Some(Powered {
            board: Board::new(self.cfg.board_config(), self.nv, self.now),
            host: Link::new(LinkConfig::new(Channel::Host, stream), self.now),
            plant: Link::new(LinkConfig::new(Channel::Plant, stream), self.now),
        });
    }

    fn power_off(&mut self) {
        if let Some(p) = self.on.take() {
            self.nv = p.board.nv_state();
        }
        self.off = Decoder::default();
    }

    /// Serves the port until `stop` is set or the port fails.
    pub fn serve(&mut self, port: &mut Port, stop: &AtomicBool) -> io::Result<()> {
        while !stop.load(Ordering::Relaxed) {
            let poll = std::time::Instant::now() + Duration::from_millis(50);
            let deadline = match (self.cfg.clock, self.next_timer()) {
                (Clock::Realtime, Some(t)) => poll.min(self.started + Duration::from_micros(t.as_micros())),
                _ => poll,
            };
            let bytes = port.read_any(Some(deadline))?;
            if self.cfg.clock == Clock::Realtime {
                self.now = Instant::from_micros(
                    u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX),
                );
                self.timers();
            }
            if let Some((second, bytes)) = bytes {
                let splitter = if second { &mut self.second_splitter } else { &mut self.splitter };
                for frame in splitter.push(&bytes) {
                    self.frame(&frame);
                    self.transmit(port)?;
                }
            }
            self.transmit(port)?;
        }
        Ok(())
    }

    fn next_timer(&self) -> Option<Instant> {
        let p = self.on.as_ref()?;
        [p.board.poll_timeout(), p.host.poll_timeout(), p.plant.poll_timeout()].into_iter().flatten().min()
    }

    /// Fires the timers due now (board and link ends).
    fn timers(&mut self) {
        let now = self.now;
        if let Some(p) = self.on.as_mut() {
            // Every link end learns the time, due or not: what the board sends next starts its
            // retransmission timer from the link's idea of now, which must be this tick's.
            for link in [&mut p.host, &mut p.plant] {
                link.handle_timeout(now);
            }
            if p.board.poll_timeout().is_some_and(|t| t <= now) {
                p.board.handle_timeout(now);
            }
        }
    }

    /// One frame from the line: to both link ends (each ignores the other channel's), then
    /// whatever it delivered, in order.
    fn frame(&mut self, frame: &[u8]) {
        self.follow_supply();
        if self.cfg.clock == Clock::Lockstep
            && self.on.is_some()
            && let Some((t, stream)) = clock_of(&mut self.peek, frame)
        {
            let new_run = t + Duration::from_secs(1) < self.now || self.harness != Some(stream);
            if new_run && self.flaw != Some(Flaw::Restart) {
                // A new harness (a clock from a new stream, or one started again): a new run,
                // with a fresh board, whose links know nothing of what came before.
                self.power_off();
                self.now = t;
                self.power_on();
            }
            self.harness = Some(stream);
        }
        let now = self.now;
        let Some(p) = self.on.as_mut() else {
            // Switched off: only the supply coming back matters (a relay closing).
            // Raw frames: the link state of before the cut is gone, so none can be waited for.
            let mut input = frame;
            let mut messages = Vec::new();
            while let Some(result) = self.off.feed(&mut input) {
                if let Ok(f) = result
                    && f.header.channel == Channel::Plant
                    && let Ok(Decoded::Known(m)) = decode::<PlantToBoard>(f.payload)
                {
                    messages.push((f.header.stream, m));
                }
            }
            for (stream, m) in messages {
                match m {
                    PlantToBoard::Power { .. } if self.supply.is_some() => {}
                    PlantToBoard::Power { mains: true, .. } if self.cfg.clock == Clock::Lockstep => {
                        self.boot_pending = true;
                    }
                    PlantToBoard::Power { mains: true, .. } => {
                        self.power_on();
                        return;
                    }
                    PlantToBoard::ClockTick { now_us } | PlantToBoard::ClockJump { now_us }
                        if self.boot_pending =>
                    {
                        self.boot_pending = false;
                        self.harness = Some(stream);
                        self.now = Instant::from_micros(now_us);
                        self.power_on();
                        if let Some(p) = self.on.as_mut() {
                            p.board.handle_plant(self.now, PlantToBoard::ClockTick { now_us });
                        }
                        return;
                    }
                    _ => {}
                }
            }
            return;
        };
        p.host.handle_bytes(now, frame);
        p.plant.handle_bytes(now, frame);
        while let Some(e) = p.host.poll_event() {
            if let LinkEvent::Message(payload) = e
                && let Ok(Decoded::Known(m)) = decode::<HostToBoard>(&payload)
            {
                p.board.handle_host(now, m);
            }
        }
        let mut plant = Vec::new();
        while let Some(e) = p.plant.poll_event() {
            if let LinkEvent::Message(payload) = e
                && let Ok(Decoded::Known(m)) = decode::<PlantToBoard>(&payload)
            {
                plant.push(m);
            }
        }
        for m in plant {
            match m {
                PlantToBoard::Power { mains: false, battery_mv: 0 } if self.supply.is_none() => {
                    self.power_off();
                    return;
                }
                PlantToBoard::ClockTick { now_us } | PlantToBoard::ClockJump { now_us }
                    if self.cfg.clock == Clock::Lockstep =>
                {
                    let t = Instant::from_micros(now_us);
                    // A late duplicate of an earlier tick does not turn the clock back.
                    self.now = self.now.max(t);
                    self.timers();
                    if let Some(p) = self.on.as_mut() {
                        p.board.handle_plant(self.now, m);
                    }
                }
                m => {
                    if let Some(p) = self.on.as_mut() {
                        p.board.handle_plant(now, m);
                    }
                }
            }
        }
    }

    /// The board's outputs onto its links, then the links onto the port: host first, so that
    /// what a tick caused precedes its `ClockAck`, whose next deadline is lowered to the link
    /// ends' timers.
    fn transmit(&mut self, port: &mut Port) -> io::Result<()> {
        let Some(p) = self.on.as_mut() else { return Ok(()) };
        let now = self.now;
        // Every tick handled gets its answer (several may be delivered at once).
        let mut acks = Vec::new();
        while let Some(o) = p.board.poll_output() {
            let _ = match o {
                BoardOutput::Host(m) => p.host.send_message(now, &m),
                BoardOutput::Plant(BoardToPlant::ClockAck { now_us, next_deadline_us }) => {
                    acks.push((now_us, next_deadline_us));
                    Ok(())
                }
                BoardOutput::Plant(m) => p.plant.send_message(now, &m),
            };
        }
        // What the links have to send goes first: a keepalive due now is sent, not named as due.
        while let Some(bytes) = p.host.poll_transmit() {
            port.write(bytes)?;
        }
        while let Some(bytes) = p.plant.poll_transmit() {
            port.write_second(bytes)?;
        }
        for (now_us, next) in acks {
            let links = [p.host.poll_timeout(), p.plant.poll_timeout()].into_iter().flatten().min();
            let links = if self.flaw == Some(Flaw::Deadline) { None } else { links };
            let next_deadline_us = match (next, links.map(Instant::as_micros)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let _ = p.plant.send_message(now, &BoardToPlant::ClockAck { now_us, next_deadline_us });
        }
        while let Some(bytes) = p.host.poll_transmit() {
            port.write(bytes)?;
        }
        while let Some(bytes) = p.plant.poll_transmit() {
            port.write_second(bytes)?;
        }
        Ok(())
    }
}

/// The time a raw wire frame's clock message names, and the stream it came on, if it carries one.
fn clock_of(decoder: &mut Decoder, frame: &[u8]) -> Option<(Instant, u8)> {
    let mut input = frame;
    let mut found = None;
    while let Some(result) = decoder.feed(&mut input) {
        if let Ok(f) = result
            && f.header.channel == Channel::Plant
            && let Ok(Decoded::Known(PlantToBoard::ClockTick { now_us } | PlantToBoard::ClockJump { now_us })) =
                decode::<PlantToBoard>(f.payload)
        {
            found = Some((Instant::from_micros(now_us), f.header.stream));
        }
    }
    found
}

/// A virtual board on its own thread, on a new PTY: for tests and benches.
#[derive(Debug)]
pub struct Spawned {
    /// The path the harness opens.
    pub path: String,
    /// The plant link's own port, when it has one.
    pub plant_path: Option<String>,
    stop: std::sync::Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Spawned {
    /// Starts `cfg` on a new PTY.
    pub fn start(cfg: VirtualBoardConfig) -> io::Result<Spawned> {
        Spawned::start_with(cfg, false)
    }

    /// Starts `cfg` on a new PTY, or two (`two_ports`: the plant link on its own, whose path
    /// is then [`Spawned::plant_path`]).
    pub fn start_with(cfg: VirtualBoardConfig, two_ports: bool) -> io::Result<Spawned> {
        let (mut port, path) = Port::pty()?;
        let plant_path = if two_ports { Some(port.add_pty()?) } else { None };
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let result = VirtualBoard::new(cfg).serve(&mut port, &flag);
            port.close();
            result
        });
        Ok(Spawned { path, plant_path, stop, thread: Some(thread) })
    }

    /// Stops the board and closes its end of the PTY (as an unplugged adapter would).
    pub fn stop(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the virtual board thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
