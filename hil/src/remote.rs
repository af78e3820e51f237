//! The harness's side of a board across a serial port: a [`BoardBox`] for the simulator's
//! electronics. One port carries both links (frames tell their channel); the harness keeps
//! playing controller and plant, and every byte on the line goes into the trace.

use std::time::Duration;

use firmware_proto::Instant;
use firmware_proto::auth::PairingKey;
use firmware_proto::frame::Channel;
use sim::board_box::{BoardBox, BoardClock, BoxIo};
use sim::electronics::PlacedBoard;
use sim::run::BoardPlacer;
use sim::scenario::AutomatSpec;
use sim::trace::LinkNote;
use sim::wire::{LineConfig, LineStats};

use crate::faults::{Faults, FaultyLine, FrameSplitter, channel_of};
use crate::hooks::Hooks;
use crate::pcap::SharedCapture;
use crate::port::Port;

/// How long a lost port may take to come back before the run fails.
pub const RECONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The harness's end of the line to a board.
#[derive(Debug)]
pub struct RemoteBoard {
    port: Port,
    clock: BoardClock,
    /// `--fault`: towards the board and back.
    down: FaultyLine,
    up: FaultyLine,
    /// The scenario's host-line behaviour and drops, applied to host frames.
    host_line: FaultyLine,
    host_down_until: Option<Instant>,
    splitter: FrameSplitter,
    /// Frames of the plant link's own port, when it has one.
    second_splitter: FrameSplitter,
    /// Bytes read while waiting, not handed out yet (`true`: from the plant link's port).
    inbox: Vec<(bool, Vec<u8>)>,
    /// Bytes written, for the trace.
    written: Vec<Vec<u8>>,
    stats: [LineStats; 4],
    lost: Option<String>,
    salt: u8,
    /// The plant link is on (off in rig mode: the board drives real mechanics).
    plant: bool,
    /// `--pcap`: every frame written and read, as the line carried it.
    capture: Option<SharedCapture>,
    /// The rig's power hooks.
    hooks: Hooks,
    /// Hooks that ran, for the trace at the next `run`.
    hook_notes: Vec<LinkNote>,
    /// A hook failed: the run fails with this.
    hook_failed: Option<String>,
}

/// A stream-id salt no earlier box of this process used, starting from the clock (so that a
/// board that outlives one `hil` process is unlikely to meet the next one's streams).
pub fn fresh_salt() -> u8 {
    use std::sync::atomic::{AtomicU8, Ordering};
    static NEXT: AtomicU8 = AtomicU8::new(0);
    let clock =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let _ = NEXT.compare_exchange(0, (clock % 251) as u8 + 1, Ordering::Relaxed, Ordering::Relaxed);
    match NEXT.fetch_add(1, Ordering::Relaxed) {
        0 => NEXT.fetch_add(1, Ordering::Relaxed),
        s => s,
    }
}

impl RemoteBoard {
    /// A board on `port`, on `clock`, with `faults` on the line.
    pub fn new(port: Port, clock: BoardClock, faults: Faults, seed: u64) -> Self {
        RemoteBoard {
            port,
            clock,
            down: FaultyLine::new(faults, seed ^ 0xD0),
            up: FaultyLine::new(faults, seed ^ 0x0B),
            host_line: FaultyLine::new(Faults::default(), seed ^ 0x40),
            host_down_until: None,
            splitter: FrameSplitter::default(),
            second_splitter: FrameSplitter::default(),
            inbox: Vec::new(),
            written: Vec::new(),
            stats: [LineStats::default(); 4],
            lost: None,
            salt: fresh_salt(),
            plant: true,
            capture: None,
            hooks: Hooks::default(),
            hook_notes: Vec::new(),
            hook_failed: None,
        }
    }

    /// Runs the rig's `hooks` for power steps (and notes the reset hook already run).
    pub fn with_hooks(mut self, hooks: Hooks, reset: Option<(LinkNote, Option<String>)>) -> Self {
        self.hooks = hooks;
        if let Some((note, failed)) = reset {
            self.hook_notes.push(note);
            self.hook_failed = failed;
        }
        self
    }

    fn hook(&mut self, hook: &str, command: Option<String>) {
        if let Some(command) = command {
            let (note, failed) = crate::hooks::run(hook, &command);
            self.hook_notes.push(note);
            if self.hook_failed.is_none() {
                self.hook_failed = failed;
            }
        }
    }

    /// Records every frame on the line into `capture` (pcap).
    pub fn capturing(mut self, capture: Option<SharedCapture>) -> Self {
        self.capture = capture;
        self
    }

    /// Turns the plant link off (rig mode): nothing is sent on it, and what the board sends on
    /// it is traced but not delivered.
    pub fn without_plant_link(mut self) -> Self {
        self.plant = false;
        self
    }

    /// Whether `--fault` applies to a frame: always on the host channel; on the plant channel
    /// only when it does not carry a lockstep clock.
    fn faulty(&self, host: bool) -> bool {
        host || self.clock != BoardClock::Lockstep
    }

    /// A frame through the line in one direction (`down`: towards the board): the scenario's
    /// host-line drops and faults, then `--fault`. `None` when it is lost.
    fn through(&mut self, now: Instant, host: bool, down: bool, frame: &[u8]) -> Option<Vec<u8>> {
        let mut bytes = frame.to_vec();
        if host {
            if self.host_down_until.is_some_and(|t| now < t) {
                return None;
            }
            bytes = self.host_line.pass(&bytes)?;
        }
        if self.faulty(host) {
            let line = if down { &mut self.down } else { &mut self.up };
            bytes = line.pass(&bytes)?;
        }
        Some(bytes)
    }

    /// Writes a frame of the host link (`host`) or the plant link towards the board.
    fn write(&mut self, now: Instant, host: bool, frame: &[u8]) {
        if self.lost.is_some() {
            return;
        }
        let stat = if host { 0 } else { 3 };
        if self.faulty(host) && !self.down.faults.delay.is_zero() {
            std::thread::sleep(self.down.faults.delay);
        }
        let Some(bytes) = self.through(now, host, true, frame) else {
            self.stats[stat].lost += 1;
            return;
        };
        self.stats[stat].bytes += bytes.len() as u64;
        self.stats[stat].frames += 1;
        let write = |port: &mut Port| if host { port.write(&bytes) } else { port.write_second(&bytes) };
        if let Err(e) = write(&mut self.port) {
            self.port_failed(&e);
            if self.lost.is_none() {
                let _ = write(&mut self.port); // reopened: once more
            }
        }
        crate::pcap::record(self.capture.as_ref(), false, &bytes);
        self.written.push(bytes);
    }

    /// The port failed: reopen it if it comes back within [`RECONNECT_TIMEOUT`], else give up.
    fn port_failed(&mut self, e: &std::io::Error) {
        let until = std::time::Instant::now() + RECONNECT_TIMEOUT;
        while std::time::Instant::now() < until {
            if self.port.reopen().is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let path = self.port.path().unwrap_or("the port").to_string();
        self.lost = Some(format!("{path}: {e}; not back within {} s", RECONNECT_TIMEOUT.as_secs()));
    }
}

impl BoardBox for RemoteBoard {
    fn clock(&self) -> BoardClock {
        self.clock
    }

    fn host_down(&mut self, now: Instant, bytes: &[u8]) {
        self.write(now, true, bytes);
    }

    fn plant_up(&mut self, now: Instant, bytes: &[u8]) {
        if self.plant {
            self.write(now, false, bytes);
        }
    }

    fn run(&mut self, now: Instant, io: &mut BoxIo) -> bool {
        for bytes in self.written.drain(..) {
            io.wire.push((true, bytes));
        }
        io.notes.extend(self.hook_notes.drain(..).map(|n| (Channel::Plant, n)));
        if let Some(why) = &self.hook_failed {
            io.lost = Some(why.clone());
        }
        if self.lost.is_none() {
            loop {
                match self.port.read_any(None) {
                    Ok(Some(got)) => self.inbox.push(got),
                    Ok(None) => break,
                    Err(e) => {
                        io.notes.push((Channel::Host, LinkNote::Port { error: e.to_string() }));
                        self.port_failed(&e);
                        if self.lost.is_some() {
                            break;
                        }
                        io.notes.push((Channel::Host, LinkNote::PortReopened));
                    }
                }
            }
        }
        if let Some(why) = &self.lost {
            io.lost = Some(why.clone());
        }
        let mut progress = false;
        for (second, bytes) in std::mem::take(&mut self.inbox) {
            let splitter = if second { &mut self.second_splitter } else { &mut self.splitter };
            for frame in splitter.push(&bytes) {
                progress = true;
                crate::pcap::record(self.capture.as_ref(), true, &frame);
                io.wire.push((false, frame.clone()));
                let host = channel_of(&frame) == Some(Channel::Host.to_byte());
                let stat = if host { 1 } else { 2 };
                match self.through(now, host, false, &frame) {
                    Some(f) => {
                        self.stats[stat].bytes += f.len() as u64;
                        self.stats[stat].frames += 1;
                        if host {
                            io.to_controller.push(f);
                        } else if self.plant {
                            io.to_plant.push(f);
                        }
                    }
                    None => self.stats[stat].lost += 1,
                }
            }
        }
        progress
    }

    fn next_event(&self) -> Option<Instant> {
        None
    }

    fn power_cut(&mut self) {
        self.hook("power_off", self.hooks.power_off.clone());
    }

    fn power_restore(&mut self, _now: Instant) {
        self.hook("power_on", self.hooks.power_on.clone());
    }

    fn switches_power(&self) -> bool {
        self.hooks.switch_power()
    }

    fn wait(&mut self, deadline: std::time::Instant) -> bool {
        if self.lost.is_some() {
            return false;
        }
        match self.port.read_any(Some(deadline)) {
            Ok(Some(got)) => {
                self.inbox.push(got);
                true
            }
            Ok(None) => false,
            Err(e) => {
                self.port_failed(&e);
                // Report at the next `run`; wake the loop now.
                self.lost.is_some()
            }
        }
    }

    fn set_host_line(&mut self, cfg: LineConfig) {
        self.host_line.faults = Faults { drop: cfg.loss, corrupt: cfg.corrupt, delay: Duration::ZERO };
    }

    fn drop_host_line(&mut self, _now: Instant, until: Instant) {
        self.host_down_until = Some(until);
    }

    fn line_stats(&self) -> [LineStats; 4] {
        self.stats
    }

    fn stream_salt(&self) -> u8 {
        self.salt
    }

    fn ordered(&self) -> bool {
        !self.port.has_second()
    }
}

/// How `hil run` reaches the board.
#[derive(Clone, Debug)]
pub struct BoardLink {
    /// The port's path.
    pub port: String,
    /// Its baud rate.
    pub baud: u32,
    /// Lockstep or real time.
    pub clock: BoardClock,
    /// Faults on the line.
    pub faults: Faults,
    /// The board's id.
    pub board_id: u32,
    /// The pairing key the board holds.
    pub key: PairingKey,
    /// Slots on the board's carousel.
    pub slots: u8,
    /// The plant link is on (off in rig mode).
    pub plant: bool,
    /// The plant link's own port; `None`: both links share `port`.
    pub plant_port: Option<String>,
    /// Where every frame on the line is recorded (`--pcap`), if anywhere.
    pub capture: Option<SharedCapture>,
    /// The rig's power and reset hooks.
    pub hooks: Hooks,
}

/// Puts the board on the first automat of a scenario whose carousel it fits; the rest of the
/// fleet stays simulated.
#[derive(Debug)]
pub struct Placer {
    link: BoardLink,
    placed: bool,
}

impl Placer {
    /// A placer for one run.
    pub fn new(link: BoardLink) -> Self {
        Placer { link, placed: false }
    }
}

/// The automat of a scenario the board takes, if any.
pub fn fitting_automat(automats: &[AutomatSpec], slots: u8) -> Option<usize> {
    automats.iter().position(|a| a.slots == slots)
}

impl BoardPlacer for Placer {
    fn place(&mut self, index: usize, automat: &AutomatSpec) -> Result<Option<PlacedBoard>, String> {
        if self.placed || automat.slots != self.link.slots {
            return Ok(None);
        }
        self.placed = true;
        // Reset (or flash) the board first: it boots into the scenario.
        let reset = self.link.hooks.reset.as_deref().map(|c| crate::hooks::run("reset", c));
        // What the board sent before (its boot) is part of the line's story: not drained.
        let mut port =
            Port::open(&self.link.port, self.link.baud).map_err(|e| format!("{}: {e}", self.link.port))?;
        if let Some(path) = &self.link.plant_port {
            port.open_second(path).map_err(|e| format!("{path}: {e}"))?;
        }
        let seed = u64::from(self.link.board_id) ^ index as u64;
        Ok(Some(PlacedBoard {
            board_id: self.link.board_id,
            key: self.link.key.clone(),
            board: {
                let board = RemoteBoard::new(port, self.link.clock, self.link.faults, seed)
                    .capturing(self.link.capture.clone())
                    .with_hooks(self.link.hooks.clone(), reset);
                Box::new(if self.link.plant { board } else { board.without_plant_link() })
            },
        }))
    }
}
