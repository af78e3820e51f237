//! The electronics of the simulated site: the real controller, and per automat the real
//! reference board firmware, joined by the real host and plant links over in-memory wires.
//!
//! ```text
//! controller ⇄ Link ⇄ wire ⇄ Link ⇄ Board ⇄ Link ⇄ wire ⇄ Link ⇄ (plant, outside this module)
//! ```
//!
//! Every message crosses a link as bytes through the codec; nothing passes Rust enums around
//! a link. [`Electronics::run`] processes everything due at `now` until the electronics are
//! quiet, returning what it asks of the physical world (plant commands, camera captures,
//! display lines) and what happened (for the trace).

use controller::audit::Record;
use controller::ids::AutomatId;
use controller::journal::{FsyncPolicy, Journal, MemJournal};
use controller::{Camera, CapturePurpose, Controller, ControllerConfig, Input, Output};
use firmware_proto::Instant;
use firmware_proto::auth::PairingKey;
use firmware_proto::board::BoardConfig;
use firmware_proto::decoder::DecoderStats;
use firmware_proto::frame::Channel;
use firmware_proto::host::BoardToHost;
use firmware_proto::link::{Event as LinkEvent, LinkStats};
use firmware_proto::message::Message;
use firmware_proto::plant::{BoardToPlant, PlantToBoard};
use jiff::Timestamp;
use std::cell::Cell;

use crate::board_box::{self, BoardBox, BoardClock, BoxIo, LocalBoard};
use crate::trace::{Link, LinkMessage, LinkNote};
use crate::wire::{LineConfig, LineStats};

mod stall;
mod station;

use stall::{Seen, Stall};
use station::{Lockstep, Station};

/// `controller_next`: not known, ask the controller.
const UNKNOWN: u64 = u64::MAX;
/// `controller_next`: the controller wants no timeout.
const NEVER: u64 = u64::MAX - 1;

/// What the electronics ask of the world, or report, at a time.
#[derive(Clone, Debug)]
pub enum Outgoing {
    /// A command for an automat's plant, decoded at the plant's end of the plant link.
    Plant(usize, BoardToPlant),
    /// A camera capture the controller wants, and what for.
    Capture(usize, Camera, CapturePurpose, u64),
    /// A line the controller shows the user.
    Display(usize, String),
    /// An audit record the controller made (already appended to its journal).
    Record(Record),
    /// A message delivered over a link (formatted only if a trace is written).
    Message(usize, LinkMessage),
    /// Something on a link worth noting: link up or down, an unknown or malformed message.
    LinkNote(usize, Link, LinkNote),
    /// The controller's journal could not be replayed after a power cut.
    RecoveryFailed(String),
    /// Bytes on a real line to a board (`true`: towards the board), for the trace.
    Wire(usize, bool, Vec<u8>),
    /// The line to a board is gone for good; the run fails.
    BoardLost(usize, String),
    /// An armed capture caught a host message on its way to a board: its name and payload.
    FrameCaptured(usize, String, Vec<u8>),
}

/// Settings of the simulated electronics.
#[derive(Clone, Debug)]
pub struct ElectronicsConfig {
    /// Host link line.
    pub host_line: LineConfig,
    /// Plant link line.
    pub plant_line: LineConfig,
    /// When the controller syncs its journal.
    pub fsync: FsyncPolicy,
}

/// An automat, its board's configuration, and a box to put the board in instead of the
/// simulator's own.
pub type BoardSpec = (AutomatId, BoardConfig, Option<Box<dyn BoardBox>>);

/// An automat's board placed outside the simulator (the HIL bridge): its identity and the box.
#[derive(Debug)]
pub struct PlacedBoard {
    /// The board's id (part of every command MAC).
    pub board_id: u32,
    /// The pairing key the board holds.
    pub key: PairingKey,
    /// The box.
    pub board: Box<dyn BoardBox>,
}

/// The controller and every board. See the [module docs](self).
#[derive(Debug)]
pub struct Electronics {
    start: Timestamp,
    cfg: ControllerConfig,
    controller: Option<Controller>,
    journal: MemJournal,
    /// Records the controller handed out since its journal was last read back.
    recorded: usize,
    /// The controller's next timeout, once asked. Every `&mut` path to the controller forgets
    /// it; the event loop asks for it at every step. Encoded as microseconds, [`UNKNOWN`] or
    /// [`NEVER`] (a `Cell`: the run is single-threaded, a non-send resource in its Bevy app).
    controller_next: Cell<u64>,
    /// Records that came before something the world was told (a screen line, a board command,
    /// a capture, an API result): they are acknowledged, and a power cut must not lose them.
    told: usize,
    /// `told` when the power was last cut: recovery must return that many records.
    acknowledged: usize,
    stations: Vec<Station>,
}

/// How long a lockstep board may take to acknowledge a tick before its line counts as lost.
pub const LOCKSTEP_ACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a lockstep harness waits for the board before resending what it has not
/// acknowledged (its clock stands still, so no retransmission timer fires).
pub const LOCKSTEP_RESEND: std::time::Duration = std::time::Duration::from_millis(100);

impl Electronics {
    /// A site whose controller starts with an empty registry at `start` and whose boards power
    /// up at the same time.
    ///
    /// Each board is the reference firmware in process behind simulated lines, unless a box is
    /// given for it (the HIL bridge's).
    pub fn new(
        cfg: ControllerConfig,
        start: Timestamp,
        boards: Vec<BoardSpec>,
        ecfg: &ElectronicsConfig,
        seed: u64,
    ) -> Self {
        let controller = Controller::new(cfg.clone(), start);
        let stations = boards
            .into_iter()
            .enumerate()
            .map(|(i, (a, b, placed))| {
                let key = b.key.clone();
                let board = placed.unwrap_or_else(|| {
                    let seed = seed.wrapping_add(i as u64 * 16);
                    Box::new(LocalBoard::new(b, Instant::ZERO, ecfg.host_line, ecfg.plant_line, seed))
                });
                Station::new(a, key, board, Instant::ZERO)
            })
            .collect();
        Electronics {
            start,
            cfg,
            controller: Some(controller),
            journal: MemJournal::new(ecfg.fsync),
            recorded: 0,
            controller_next: Cell::new(UNKNOWN),
            told: 0,
            acknowledged: 0,
            stations,
        }
    }

    /// The controller's clock for a simulated instant.
    pub fn timestamp(&self, now: Instant) -> Timestamp {
        // Integer microseconds: this runs for every event, and jiff's span arithmetic is slower.
        let us = i64::try_from(now.as_micros()).unwrap_or(i64::MAX);
        Timestamp::from_microsecond(self.start.as_microsecond().saturating_add(us)).unwrap_or(Timestamp::MAX)
    }

    fn instant(&self, t: Timestamp) -> Instant {
        let us = t.duration_since(self.start).as_micros().max(0);
        Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    /// The controller, when powered.
    pub fn controller(&self) -> Option<&Controller> {
        self.controller.as_ref()
    }

    /// The controller, for API calls.
    pub fn controller_mut(&mut self) -> Option<&mut Controller> {
        self.controller_next.set(UNKNOWN);
        self.controller.as_mut()
    }

    /// The controller's configuration (kept across power cuts).
    pub fn controller_config(&self) -> &ControllerConfig {
        &self.cfg
    }

    /// The journal.
    pub fn journal(&self) -> &MemJournal {
        &self.journal
    }

    /// Replaces the journal's content (tests of what checks the journal).
    #[cfg(test)]
    pub(crate) fn replace_journal_for_test(&mut self, records: &[Record]) {
        self.journal = MemJournal::new(FsyncPolicy::Always);
        for r in records {
            let _ = self.journal.append(r);
        }
    }

    /// How automat `i`'s board keeps time.
    pub fn board_clock(&self, i: usize) -> Option<BoardClock> {
        self.stations.get(i).map(|s| s.board.clock())
    }

    /// Counters of automat `i`'s four lines (ctl→board, board→ctl, board→plant, plant→board).
    pub fn line_stats(&self, i: usize) -> [LineStats; 4] {
        self.stations.get(i).map_or([LineStats::default(); 4], |s| s.board.line_stats())
    }

    /// Counters of the harness's end of automat `i`'s host link and of its decoder (the
    /// controller's side: frames sent and resent, frames received, damaged frames dropped).
    pub fn host_link_stats(&self, i: usize) -> Option<(LinkStats, DecoderStats)> {
        self.stations.get(i).map(|s| (s.ctl_host.stats(), s.ctl_host.decoder_stats()))
    }

    /// Changes the host line's behaviour of automat `i` (both directions).
    pub fn set_host_line(&mut self, i: usize, cfg: LineConfig) {
        if let Some(s) = self.stations.get_mut(i) {
            s.touch();
            s.board.set_host_line(cfg);
        }
    }

    /// Drops everything on automat `i`'s host line from `now` until `until`.
    pub fn drop_host_line(&mut self, i: usize, now: Instant, until: Instant) {
        if let Some(s) = self.stations.get_mut(i) {
            s.touch();
            s.board.drop_host_line(now, until);
        }
    }

    /// Blocks (wall clock) until bytes arrive from a board across a line, or `deadline`.
    pub fn wait(&mut self, deadline: std::time::Instant) -> bool {
        let mut any = false;
        for s in &mut self.stations {
            if s.board.clock() != BoardClock::Shared {
                any |= s.board.wait(deadline);
            }
        }
        any
    }

    /// The pairing key of automat `i`'s board.
    pub fn pairing_key(&self, i: usize) -> Option<PairingKey> {
        self.stations.get(i).map(|s| s.key.clone())
    }

    /// Feeds a report from automat `i`'s plant into its plant link.
    pub fn plant_report(&mut self, i: usize, now: Instant, report: &PlantToBoard, out: &mut Vec<Outgoing>) {
        if let Some(s) = self.stations.get_mut(i) {
            out.push(Outgoing::Message(i, LinkMessage::PlantUp(report.clone())));
            s.send_plant(now, report);
        }
    }

    /// Hands the controller an input.
    pub fn controller_input(&mut self, now: Instant, input: Input) {
        self.controller_next.set(UNKNOWN);
        let ts = self.timestamp(now);
        if let Some(c) = self.controller.as_mut() {
            c.handle(ts, input);
        }
    }

    /// Whether some board's power is switched for real (see [`BoardBox::switches_power`]).
    pub fn switches_power(&self) -> bool {
        self.stations.iter().any(|s| s.board.switches_power())
    }

    /// Power goes: the boards and the controller stop; the journal keeps what was synced and
    /// `survive` bytes of what was not (a torn tail if they end inside a record).
    pub fn power_cut(&mut self, survive: usize) {
        self.controller_next.set(UNKNOWN);
        self.controller = None;
        self.acknowledged = self.told;
        self.journal.power_cut(survive);
        for s in &mut self.stations {
            s.board.power_cut();
            s.touch();
        }
    }

    /// A board across a line learns of a power cut as its plant would report it: the supply
    /// gone (mains off, battery flat). The harness's link ends start afresh at the restore.
    pub fn supply_report(&mut self, i: usize, on: bool, now: Instant, out: &mut Vec<Outgoing>) {
        if let Some(s) = self.stations.get_mut(i)
            && s.board.clock() != BoardClock::Shared
        {
            let report = PlantToBoard::Power { mains: on, battery_mv: if on { 13_200 } else { 0 } };
            out.push(Outgoing::Message(i, LinkMessage::PlantUp(report.clone())));
            if on {
                // A board switched on boots at the next tick (its clock starts there).
                let _ = s.plant_end.send_message(now, &report);
                s.lock = Lockstep {
                    powered: true,
                    dirty: true,
                    lost: s.lock.lost.take(),
                    acks: s.lock.acks,
                    ..Lockstep::default()
                };
            } else {
                s.send_plant(now, &report);
            }
            s.transmit(now);
            if !on {
                s.lock = Lockstep {
                    powered: false,
                    lost: s.lock.lost.take(),
                    acks: s.lock.acks,
                    ..Lockstep::default()
                };
            }
        }
    }

    /// Power is back at `now`: the boards boot and the controller recovers from its journal.
    pub fn power_restore(&mut self, now: Instant, out: &mut Vec<Outgoing>) {
        self.controller_next.set(UNKNOWN);
        let ts = self.timestamp(now);
        for s in &mut self.stations {
            s.board.power_restore(now);
            s.reboot_links(now);
        }
        match self.journal.recover() {
            Ok(recovery) => {
                let n = recovery.records.len();
                if n < self.acknowledged {
                    out.push(Outgoing::RecoveryFailed(format!(
                        "invariant audit: {} acknowledged records lost (recovered {n} of {})",
                        self.acknowledged - n,
                        self.acknowledged
                    )));
                }
                self.recorded = n;
                self.told = self.told.min(n);
                match Controller::recover(self.cfg.clone(), ts, &recovery.records) {
                    Ok(c) => self.controller = Some(c),
                    Err(e) => out.push(Outgoing::RecoveryFailed(e.to_string())),
                }
            }
            Err(e) => out.push(Outgoing::RecoveryFailed(e.to_string())),
        }
    }

    /// When something is next due.
    pub fn next_event(&mut self) -> Option<Instant> {
        let mut t = self.controller_timeout();
        for s in &mut self.stations {
            if let Some(x) = s.next_event() {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        }
        t
    }

    /// Processes everything due at `now` until quiet.
    pub fn run(&mut self, now: Instant, out: &mut Vec<Outgoing>) {
        if self.controller_timeout().is_some_and(|t| t <= now) {
            let ts = self.timestamp(now);
            if let Some(c) = self.controller.as_mut() {
                c.handle_timeout(ts);
            }
            self.controller_next.set(UNKNOWN);
        }
        let mut stall: Option<Stall> = None;
        // Lockstep boards whose timers are due learn that time moved.
        for s in &mut self.stations {
            if s.lockstep() && s.lock.deadline.is_some_and(|d| d <= now) {
                s.ensure_jump(now);
            }
        }
        loop {
            loop {
                let mut progress = false;
                progress |= self.drain_controller(now, out);
                // A station with nothing due and nothing new would do nothing: skipped.
                for i in 0..self.stations.len() {
                    if self.stations[i].needs_step(now) {
                        progress |= self.step_station(i, now, out);
                    }
                }
                // Quiet but for what waits on the journal: the group of records this instant
                // made is synced at once, and what waited on it goes out.
                if !progress && !self.group_commit() {
                    break;
                }
            }
            if !self.tick_lockstep(now) {
                break;
            }
            self.wait_lockstep(now, &mut stall, out);
        }
    }

    /// Lockstep: a tick after what was sent; whether any board has ticks to answer.
    fn tick_lockstep(&mut self, now: Instant) -> bool {
        let mut waiting = false;
        for s in &mut self.stations {
            if !s.lockstep() {
                continue;
            }
            if s.lock.dirty {
                s.lock.dirty = false;
                let _ = s.plant_end.send_message(now, &PlantToBoard::ClockTick { now_us: now.as_micros() });
                s.lock.sent = Some(now);
                s.lock.pending += 1;
                s.transmit(now);
            }
            waiting |= s.lock.pending > 0;
        }
        waiting
    }

    /// Waits a moment for the lockstep boards' answers. Silence means a frame was lost, and no
    /// retransmission timer can fire while the clock stands still: what is unacknowledged goes
    /// again by hand. A board that acknowledges no tick for [`LOCKSTEP_ACK_TIMEOUT`] of wall
    /// time, whatever else it sends, counts as lost, with what arrived meanwhile in the verdict.
    fn wait_lockstep(&mut self, now: Instant, stall: &mut Option<Stall>, out: &mut Vec<Outgoing>) {
        let acks = self.stations.iter().map(|s| s.lock.acks).sum::<u64>();
        if stall.as_ref().is_none_or(|st| st.acks != acks) {
            *stall = Some(Stall::new(&self.stations, acks));
        }
        let arrived = self.wait(std::time::Instant::now() + LOCKSTEP_RESEND);
        let Some(stall) = stall.as_ref() else { return };
        if stall.since.elapsed() >= LOCKSTEP_ACK_TIMEOUT {
            for (i, s) in self.stations.iter_mut().enumerate() {
                if s.lockstep() && s.lock.pending > 0 {
                    let why = format!(
                        "the board did not acknowledge the clock within {} s of wall time: {}",
                        LOCKSTEP_ACK_TIMEOUT.as_secs(),
                        Seen::of(s).since(&stall.seen[i])
                    );
                    out.push(Outgoing::BoardLost(i, why.clone()));
                    s.lock.lost = Some(why);
                }
            }
            return;
        }
        if !arrived {
            for s in &mut self.stations {
                if s.lockstep() && s.lock.pending > 0 {
                    s.ctl_host.resend_unacked();
                    s.plant_end.resend_unacked();
                    s.transmit(now);
                }
            }
        }
    }

    /// Syncs the journal if the controller has something waiting on it; returns whether it did.
    fn group_commit(&mut self) -> bool {
        let Some(c) = self.controller.as_mut() else { return false };
        if c.awaiting_sync().is_none() {
            return false;
        }
        // A journal in memory cannot fail to sync.
        let _ = self.journal.sync();
        c.journal_synced(self.journal.synced());
        self.controller_next.set(UNKNOWN);
        true
    }

    /// An API call's result is about to be reported: everything it committed is made durable
    /// first (with whatever else waits to be synced), and counts as acknowledged.
    pub fn acknowledge(&mut self, now: Instant, out: &mut Vec<Outgoing>) {
        self.drain_controller(now, out);
        if let Some(c) = self.controller.as_mut()
            && c.durable() < c.committed()
        {
            let _ = self.journal.sync();
            c.journal_synced(self.journal.synced());
            self.controller_next.set(UNKNOWN);
        }
        self.drain_controller(now, out);
        self.told = self.recorded;
    }

    /// When the controller next wants `handle_timeout` (remembered until it is touched).
    fn controller_timeout(&self) -> Option<Instant> {
        match self.controller_next.get() {
            UNKNOWN => {}
            NEVER => return None,
            us => return Some(Instant::from_micros(us)),
        }
        let next = self.controller.as_ref().and_then(|c| c.poll_timeout()).map(|ts| self.instant(ts));
        let code = next.map_or(NEVER, |t| t.as_micros().min(NEVER - 1));
        self.controller_next.set(code);
        next
    }

    fn drain_controller(&mut self, now: Instant, out: &mut Vec<Outgoing>) -> bool {
        let Some(c) = self.controller.as_mut() else { return false };
        let mut progress = false;
        while let Some(o) = c.poll_output() {
            progress = true;
            self.controller_next.set(UNKNOWN);
            if !matches!(o, Output::Record(_)) {
                // The world is told something: every record before it is acknowledged.
                self.told = self.recorded;
            }
            match o {
                Output::ToBoard { automat, message } => {
                    if let Some((i, s)) =
                        self.stations.iter_mut().enumerate().find(|(_, s)| s.automat == automat)
                    {
                        out.push(Outgoing::Message(i, LinkMessage::HostDown(message.clone())));
                        if let Some(k) = s.armed.iter().position(|(kind, _)| *kind == message.name()) {
                            let (_, name) = s.armed.remove(k);
                            if let Ok(payload) = firmware_proto::message::encode_vec(&message) {
                                out.push(Outgoing::FrameCaptured(i, name, payload));
                            }
                        }
                        if let Err(e) = s.send_host(now, &message) {
                            out.push(Outgoing::LinkNote(
                                i,
                                Link::Host,
                                LinkNote::SendRefused { end: "controller".into(), error: e.to_string() },
                            ));
                        }
                    }
                }
                Output::Capture { automat, camera, purpose, id } => {
                    if let Some(i) = self.stations.iter().position(|s| s.automat == automat) {
                        out.push(Outgoing::Capture(i, camera, purpose, id));
                    }
                }
                Output::Display { automat, text } => {
                    if let Some(i) = self.stations.iter().position(|s| s.automat == automat) {
                        out.push(Outgoing::Display(i, text));
                    }
                }
                Output::Record(r) => {
                    // A journal in memory cannot fail to append.
                    let _ = self.journal.append(&r);
                    c.journal_synced(self.journal.synced());
                    self.recorded += 1;
                    out.push(Outgoing::Record(r));
                }
            }
        }
        progress
    }

    fn step_station(&mut self, i: usize, now: Instant, out: &mut Vec<Outgoing>) -> bool {
        let ts = self.timestamp(now);
        let s = &mut self.stations[i];
        let mut progress = false;
        // Timers of the harness-side link ends (a retransmission must reach a lockstep board
        // at `now`, and what it causes must come back).
        for plant in [false, true] {
            let link = if plant { &mut s.plant_end } else { &mut s.ctl_host };
            if link.poll_timeout().is_some_and(|t| t <= now) {
                let before = link.stats().timeouts;
                link.handle_timeout(now);
                if link.stats().timeouts > before {
                    s.ensure_jump(now);
                    s.lock.dirty = true;
                }
            }
        }
        // The board box, and the bytes it hands back.
        let mut io = BoxIo::default();
        progress |= s.board.run(now, &mut io);
        for bytes in &io.to_controller {
            s.ctl_host.handle_bytes(now, bytes);
        }
        for bytes in &io.to_plant {
            s.plant_end.handle_bytes(now, bytes);
        }
        for (channel, note) in io.notes {
            out.push(Outgoing::LinkNote(i, link_of(channel), note));
        }
        for (down, bytes) in io.wire {
            out.push(Outgoing::Wire(i, down, bytes));
        }
        if let Some(why) = io.lost
            && s.lock.lost.is_none()
        {
            out.push(Outgoing::BoardLost(i, why.clone()));
            s.lock.lost = Some(why);
        }
        // Controller side of the host link.
        while let Some(e) = s.ctl_host.poll_event() {
            progress = true;
            let input = match e {
                LinkEvent::Message(p) => match decode::<BoardToHost>(&p, i, Channel::Host, out) {
                    Some(message) => {
                        out.push(Outgoing::Message(i, LinkMessage::HostUp(message.clone())));
                        Some(Input::Board { automat: s.automat, message })
                    }
                    None => None,
                },
                LinkEvent::LinkUp => Some(Input::LinkUp { automat: s.automat }),
                LinkEvent::LinkDown => Some(Input::LinkDown { automat: s.automat }),
                LinkEvent::PeerRestarted => {
                    out.push(Outgoing::LinkNote(i, Link::Host, LinkNote::PeerRestarted));
                    None
                }
            };
            if let (Some(input), Some(c)) = (input, self.controller.as_mut()) {
                match input {
                    Input::LinkUp { .. } => out.push(Outgoing::LinkNote(i, Link::Host, LinkNote::Up)),
                    Input::LinkDown { .. } => out.push(Outgoing::LinkNote(i, Link::Host, LinkNote::Down)),
                    _ => {}
                }
                c.handle(ts, input);
                self.controller_next.set(UNKNOWN);
            }
        }
        progress |= s.plant_events(i, out);
        s.transmit(now);
        s.stepped();
        progress
    }
}

/// [`board_box::decode`](crate::board_box::decode), its notes as automat `i`'s link notes.
pub(super) fn decode<M: Message>(
    payload: &[u8],
    i: usize,
    channel: Channel,
    out: &mut Vec<Outgoing>,
) -> Option<M> {
    let mut notes = Vec::new();
    let message = board_box::decode(payload, channel, &mut notes);
    out.extend(notes.into_iter().map(|(c, note)| Outgoing::LinkNote(i, link_of(c), note)));
    message
}

/// The trace's name for a link.
pub(crate) fn link_of(channel: Channel) -> Link {
    if channel == Channel::Host { Link::Host } else { Link::Plant }
}
