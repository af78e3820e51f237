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
use controller::{Camera, Controller, ControllerConfig, Input, Output};
use firmware_proto::Instant;
use firmware_proto::auth::PairingKey;
use firmware_proto::board::{Board, BoardConfig, BoardOutput, NvState};
use firmware_proto::frame::Channel;
use firmware_proto::host::{BoardToHost, HostToBoard};
use firmware_proto::link::{Event as LinkEvent, Link, LinkConfig};
use firmware_proto::message::{self, Decoded, Message};
use firmware_proto::plant::{BoardToPlant, PlantToBoard};
use jiff::Timestamp;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::wire::{LineConfig, LineStats, Wire};

/// `controller_next`: not known, ask the controller.
const UNKNOWN: u64 = u64::MAX;
/// `controller_next`: the controller wants no timeout.
const NEVER: u64 = u64::MAX - 1;

/// What the electronics ask of the world, or report, at a time.
#[derive(Clone, Debug)]
pub enum Outgoing {
    /// A command for an automat's plant, decoded at the plant's end of the plant link.
    Plant(usize, BoardToPlant),
    /// A camera capture the controller wants.
    Capture(usize, Camera, u64),
    /// A line the controller shows the user.
    Display(usize, String),
    /// An audit record the controller made (already appended to its journal).
    Record(Record),
    /// A message delivered over a link (for the trace).
    Message(usize, Channel, Direction, String),
    /// Something on a link worth noting: link up or down, an unknown or malformed message.
    LinkNote(usize, Channel, String),
    /// The controller's journal could not be replayed after a power cut.
    RecoveryFailed(String),
}

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Controller → board, or board → plant.
    Down,
    /// Board → controller, or plant → board.
    Up,
}

/// One automat's board and its four link ends.
#[derive(Debug)]
struct Station {
    automat: AutomatId,
    board_cfg: BoardConfig,
    board: Option<Board>,
    nv: NvState,
    boots: u8,
    ctl_host: Link,
    board_host: Link,
    board_plant: Link,
    plant_end: Link,
    /// ctl→board, board→ctl, board→plant, plant→board.
    wires: [Wire; 4],
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

/// The controller and every board. See the [module docs](self).
#[derive(Debug)]
pub struct Electronics {
    start: Timestamp,
    cfg: ControllerConfig,
    controller: Option<Controller>,
    journal: MemJournal,
    /// The journal's length after each record: which records a sync made durable.
    record_ends: Vec<usize>,
    /// The controller's next timeout, once asked (`None`: ask again). Every `&mut` path to the
    /// controller forgets it; the event loop asks for it at every step.
    /// Encoded as microseconds, [`UNKNOWN`] or [`NEVER`] (atomic only to keep the type `Sync`
    /// for Bevy resources; one thread uses it).
    controller_next: AtomicU64,
    /// Records that were durable when the power was last cut: recovery must return them all.
    acknowledged: usize,
    stations: Vec<Station>,
}

fn link_cfg(channel: Channel, stream: u8) -> LinkConfig {
    LinkConfig::new(channel, stream)
}

impl Station {
    fn new(
        automat: AutomatId,
        board_cfg: BoardConfig,
        now: Instant,
        host: LineConfig,
        plant: LineConfig,
        seed: u64,
    ) -> Self {
        let nv = NvState::default();
        let mut s = Station {
            automat,
            board: Some(Board::new(board_cfg.clone(), nv, now)),
            board_cfg,
            nv,
            boots: 1,
            ctl_host: Link::new(link_cfg(Channel::Host, 0x10), now),
            board_host: Link::new(link_cfg(Channel::Host, 0x80), now),
            board_plant: Link::new(link_cfg(Channel::Plant, 0x80), now),
            plant_end: Link::new(link_cfg(Channel::Plant, 0x10), now),
            wires: [
                Wire::new(host, seed ^ 1),
                Wire::new(host, seed ^ 2),
                Wire::new(plant, seed ^ 3),
                Wire::new(plant, seed ^ 4),
            ],
        };
        s.reboot_links(now, false);
        s
    }

    /// New board-side link state after the board restarts (new stream ids).
    fn reboot_links(&mut self, now: Instant, controller_too: bool) {
        let stream = 0x80u8.wrapping_add(self.boots.wrapping_mul(16));
        self.board_host = Link::new(link_cfg(Channel::Host, stream), now);
        self.board_plant = Link::new(link_cfg(Channel::Plant, stream), now);
        self.plant_end = Link::new(link_cfg(Channel::Plant, stream.wrapping_add(7)), now);
        if controller_too {
            self.ctl_host = Link::new(link_cfg(Channel::Host, stream.wrapping_add(3)), now);
        }
    }
}

impl Electronics {
    /// A site whose controller starts with an empty registry at `start` and whose boards power
    /// up at the same time.
    pub fn new(
        cfg: ControllerConfig,
        start: Timestamp,
        boards: Vec<(AutomatId, BoardConfig)>,
        ecfg: &ElectronicsConfig,
        seed: u64,
    ) -> Self {
        let controller = Controller::new(cfg.clone(), start);
        let stations = boards
            .into_iter()
            .enumerate()
            .map(|(i, (a, b))| {
                Station::new(
                    a,
                    b,
                    Instant::ZERO,
                    ecfg.host_line,
                    ecfg.plant_line,
                    seed.wrapping_add(i as u64 * 16),
                )
            })
            .collect();
        Electronics {
            start,
            cfg,
            controller: Some(controller),
            journal: MemJournal::new(ecfg.fsync),
            record_ends: Vec::new(),
            controller_next: AtomicU64::new(UNKNOWN),
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
        self.controller_next.store(UNKNOWN, Ordering::Relaxed);
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

    /// The board of automat `i`, when powered.
    pub fn board(&self, i: usize) -> Option<&Board> {
        self.stations.get(i).and_then(|s| s.board.as_ref())
    }

    /// Counters of automat `i`'s four lines (ctl→board, board→ctl, board→plant, plant→board).
    pub fn line_stats(&self, i: usize) -> [LineStats; 4] {
        self.stations[i].wires.each_ref().map(Wire::stats)
    }

    /// Changes the host line's behaviour of automat `i` (both directions).
    pub fn set_host_line(&mut self, i: usize, cfg: LineConfig) {
        if let Some(s) = self.stations.get_mut(i) {
            s.wires[0].cfg = cfg;
            s.wires[1].cfg = cfg;
        }
    }

    /// Drops everything on automat `i`'s host line until `until`.
    pub fn drop_host_line(&mut self, i: usize, until: Instant) {
        if let Some(s) = self.stations.get_mut(i) {
            s.wires[0].down_until = Some(until);
            s.wires[1].down_until = Some(until);
        }
    }

    /// Puts a message on automat `i`'s host line towards the board as if the controller had
    /// sent it: an attacker who took over the line (frames carry no secret, so a
    /// man-in-the-middle can always make well-formed ones; the command MAC is the defence).
    pub fn inject_message(&mut self, i: usize, message: &HostToBoard, out: &mut Vec<Outgoing>) {
        if let Some(s) = self.stations.get_mut(i) {
            out.push(Outgoing::LinkNote(i, Channel::Host, format!("injected {message:?}")));
            let _ = s.ctl_host.send_message(message);
        }
    }

    /// The pairing key of automat `i`'s board.
    pub fn pairing_key(&self, i: usize) -> Option<PairingKey> {
        self.stations.get(i).map(|s| s.board_cfg.key.clone())
    }

    /// Feeds a report from automat `i`'s plant into its plant link.
    pub fn plant_report(&mut self, i: usize, report: &PlantToBoard, out: &mut Vec<Outgoing>) {
        if let Some(s) = self.stations.get_mut(i) {
            out.push(Outgoing::Message(i, Channel::Plant, Direction::Up, format!("{report:?}")));
            let _ = s.plant_end.send_message(report);
        }
    }

    /// Hands the controller an input.
    pub fn controller_input(&mut self, now: Instant, input: Input) {
        self.controller_next.store(UNKNOWN, Ordering::Relaxed);
        let ts = self.timestamp(now);
        if let Some(c) = self.controller.as_mut() {
            c.handle(ts, input);
        }
    }

    /// Power goes: the boards and the controller stop; the journal keeps what was synced and
    /// `survive` bytes of what was not (a torn tail if they end inside a record).
    pub fn power_cut(&mut self, survive: usize) {
        self.controller_next.store(UNKNOWN, Ordering::Relaxed);
        self.controller = None;
        let synced = self.journal.synced_len();
        self.acknowledged = self.record_ends.iter().filter(|&&end| end <= synced).count();
        self.journal.power_cut(survive);
        for s in &mut self.stations {
            if let Some(b) = s.board.take() {
                s.nv = b.nv_state();
            }
        }
    }

    /// Power is back at `now`: the boards boot and the controller recovers from its journal.
    pub fn power_restore(&mut self, now: Instant, out: &mut Vec<Outgoing>) {
        self.controller_next.store(UNKNOWN, Ordering::Relaxed);
        let ts = self.timestamp(now);
        for s in &mut self.stations {
            s.boots = s.boots.wrapping_add(1);
            s.board = Some(Board::new(s.board_cfg.clone(), s.nv, now));
            s.reboot_links(now, true);
        }
        match self.journal.recover() {
            Ok(recovery) => {
                let n = recovery.records.len();
                if n < self.acknowledged {
                    out.push(Outgoing::RecoveryFailed(format!(
                        "{} synced records lost (recovered {n} of {})",
                        self.acknowledged - n,
                        self.acknowledged
                    )));
                }
                self.record_ends.truncate(n);
                match Controller::recover(self.cfg.clone(), ts, &recovery.records) {
                    Ok(c) => self.controller = Some(c),
                    Err(e) => out.push(Outgoing::RecoveryFailed(e.to_string())),
                }
            }
            Err(e) => out.push(Outgoing::RecoveryFailed(e.to_string())),
        }
    }

    /// When something is next due.
    pub fn next_event(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        consider(self.controller_timeout());
        for s in &self.stations {
            if let Some(b) = &s.board {
                consider(b.poll_timeout());
                consider(s.board_host.poll_timeout());
                consider(s.board_plant.poll_timeout());
            }
            consider(s.ctl_host.poll_timeout());
            consider(s.plant_end.poll_timeout());
            for w in &s.wires {
                consider(w.next_arrival());
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
        }
        self.controller_next.store(UNKNOWN, Ordering::Relaxed);
        loop {
            let mut progress = false;
            progress |= self.drain_controller(out);
            for i in 0..self.stations.len() {
                progress |= self.step_station(i, now, out);
            }
            if !progress {
                break;
            }
        }
        self.controller_next.store(UNKNOWN, Ordering::Relaxed);
    }

    /// When the controller next wants `handle_timeout` (remembered until it is touched).
    fn controller_timeout(&self) -> Option<Instant> {
        match self.controller_next.load(Ordering::Relaxed) {
            UNKNOWN => {}
            NEVER => return None,
            us => return Some(Instant::from_micros(us)),
        }
        let next = self.controller.as_ref().and_then(|c| c.poll_timeout()).map(|ts| self.instant(ts));
        let code = next.map_or(NEVER, |t| t.as_micros().min(NEVER - 1));
        self.controller_next.store(code, Ordering::Relaxed);
        next
    }

    fn drain_controller(&mut self, out: &mut Vec<Outgoing>) -> bool {
        let Some(c) = self.controller.as_mut() else { return false };
        let mut progress = false;
        while let Some(o) = c.poll_output() {
            progress = true;
            match o {
                Output::ToBoard { automat, message } => {
                    if let Some((i, s)) =
                        self.stations.iter_mut().enumerate().find(|(_, s)| s.automat == automat)
                    {
                        out.push(Outgoing::Message(
                            i,
                            Channel::Host,
                            Direction::Down,
                            format!("{message:?}"),
                        ));
                        if let Err(e) = s.ctl_host.send_message(&message) {
                            out.push(Outgoing::LinkNote(i, Channel::Host, format!("send refused: {e}")));
                        }
                    }
                }
                Output::Capture { automat, camera, id } => {
                    if let Some(i) = self.stations.iter().position(|s| s.automat == automat) {
                        out.push(Outgoing::Capture(i, camera, id));
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
                    self.record_ends.push(self.journal.bytes().len());
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
        // Timers.
        if s.ctl_host.poll_timeout().is_some_and(|t| t <= now) {
            s.ctl_host.handle_timeout(now);
        }
        if s.plant_end.poll_timeout().is_some_and(|t| t <= now) {
            s.plant_end.handle_timeout(now);
        }
        if let Some(b) = s.board.as_mut() {
            if b.poll_timeout().is_some_and(|t| t <= now) {
                b.handle_timeout(now);
            }
            for l in [&mut s.board_host, &mut s.board_plant] {
                if l.poll_timeout().is_some_and(|t| t <= now) {
                    l.handle_timeout(now);
                }
            }
        }
        // Wires deliver.
        while let Some(bytes) = s.wires[0].take_due(now) {
            progress = true;
            if s.board.is_some() {
                s.board_host.handle_bytes(now, &bytes);
            }
        }
        while let Some(bytes) = s.wires[1].take_due(now) {
            progress = true;
            s.ctl_host.handle_bytes(now, &bytes);
        }
        while let Some(bytes) = s.wires[2].take_due(now) {
            progress = true;
            s.plant_end.handle_bytes(now, &bytes);
        }
        while let Some(bytes) = s.wires[3].take_due(now) {
            progress = true;
            if s.board.is_some() {
                s.board_plant.handle_bytes(now, &bytes);
            }
        }
        // Controller side of the host link.
        while let Some(e) = s.ctl_host.poll_event() {
            progress = true;
            let input = match e {
                LinkEvent::Message(p) => match decode::<BoardToHost>(&p, i, Channel::Host, out) {
                    Some(message) => {
                        out.push(Outgoing::Message(i, Channel::Host, Direction::Up, format!("{message:?}")));
                        Some(Input::Board { automat: s.automat, message })
                    }
                    None => None,
                },
                LinkEvent::LinkUp => Some(Input::LinkUp { automat: s.automat }),
                LinkEvent::LinkDown => Some(Input::LinkDown { automat: s.automat }),
                LinkEvent::PeerRestarted => {
                    out.push(Outgoing::LinkNote(i, Channel::Host, "board restarted".into()));
                    None
                }
            };
            if let (Some(input), Some(c)) = (input, self.controller.as_mut()) {
                if matches!(input, Input::LinkUp { .. } | Input::LinkDown { .. }) {
                    out.push(Outgoing::LinkNote(i, Channel::Host, format!("{input:?}")));
                }
                c.handle(ts, input);
            }
        }
        // The board.
        if let Some(b) = s.board.as_mut() {
            while let Some(e) = s.board_host.poll_event() {
                progress = true;
                if let LinkEvent::Message(p) = e
                    && let Some(m) = decode::<HostToBoard>(&p, i, Channel::Host, out)
                {
                    b.handle_host(now, m);
                }
            }
            while let Some(e) = s.board_plant.poll_event() {
                progress = true;
                if let LinkEvent::Message(p) = e
                    && let Some(m) = decode::<PlantToBoard>(&p, i, Channel::Plant, out)
                {
                    b.handle_plant(now, m);
                }
            }
            while let Some(o) = b.poll_output() {
                progress = true;
                let sent = match &o {
                    BoardOutput::Host(m) => s.board_host.send_message(m),
                    BoardOutput::Plant(m) => s.board_plant.send_message(m),
                };
                if let Err(e) = sent {
                    out.push(Outgoing::LinkNote(i, Channel::Host, format!("board send refused: {e}")));
                }
            }
        }
        // The plant's end of the plant link.
        while let Some(e) = s.plant_end.poll_event() {
            progress = true;
            if let LinkEvent::Message(p) = e
                && let Some(m) = decode::<BoardToPlant>(&p, i, Channel::Plant, out)
            {
                out.push(Outgoing::Message(i, Channel::Plant, Direction::Down, format!("{m:?}")));
                out.push(Outgoing::Plant(i, m));
            }
        }
        // Everything onto the wires.
        let powered = s.board.is_some();
        let [w0, w1, w2, w3] = &mut s.wires;
        while let Some(bytes) = s.ctl_host.poll_transmit() {
            w0.send(now, bytes);
        }
        while let Some(bytes) = s.plant_end.poll_transmit() {
            w3.send(now, bytes);
        }
        if powered {
            while let Some(bytes) = s.board_host.poll_transmit() {
                w1.send(now, bytes);
            }
            while let Some(bytes) = s.board_plant.poll_transmit() {
                w2.send(now, bytes);
            }
        }
        progress
    }
}

fn decode<M: Message>(payload: &[u8], i: usize, channel: Channel, out: &mut Vec<Outgoing>) -> Option<M> {
    match message::decode::<M>(payload) {
        Ok(Decoded::Known(m)) => Some(m),
        Ok(Decoded::Unknown { kind }) => {
            out.push(Outgoing::LinkNote(i, channel, format!("unknown message kind {kind}")));
            None
        }
        Err(e) => {
            out.push(Outgoing::LinkNote(i, channel, format!("malformed message: {e}")));
            None
        }
    }
}
