//! One automat's electronics as the harness holds them (a [`Station`]): the controller's end of
//! the host link, the plant's end of the plant link, the board box between them and the
//! harness's side of a lockstep board's clock; and an attacker on the host line.

use controller::ids::AutomatId;
use firmware_proto::Instant;
use firmware_proto::auth::PairingKey;
use firmware_proto::frame::Channel;
use firmware_proto::host::HostToBoard;
use firmware_proto::link::{Event as LinkEvent, Link};
use firmware_proto::plant::PlantToBoard;

use firmware_proto::plant::BoardToPlant;

use super::{Electronics, Outgoing, decode};
use crate::board_box::{BoardBox, BoardClock, link_cfg};
use crate::trace::{self, LinkMessage, LinkNote};

/// One automat: the controller's end of the host link, the plant's end of the plant link, and
/// the board box between them.
#[derive(Debug)]
pub(super) struct Station {
    pub(super) automat: AutomatId,
    pub(super) key: PairingKey,
    pub(super) boots: u8,
    pub(super) ctl_host: Link,
    pub(super) plant_end: Link,
    pub(super) board: Box<dyn BoardBox>,
    pub(super) lock: Lockstep,
    /// Captures armed on the host line: (message name, capture name), caught in this order.
    pub(super) armed: Vec<(&'static str, String)>,
    /// Something changed it since its last step (a message queued, a board powered, a line
    /// changed): the next [`Electronics::run`] steps it whatever its timers say.
    pub(super) touched: bool,
    /// When it next needs a step, if known (`None`: to be asked again). Kept for in-process
    /// boards only, whose every change is a touch or a step.
    next: Option<Option<Instant>>,
}

/// The harness's side of a lockstep board's clock (PROTOCOL.md §8.3).
#[derive(Debug, Default)]
pub(super) struct Lockstep {
    /// The board's next timer by its last `ClockAck`.
    pub(super) deadline: Option<Instant>,
    /// The time of the last tick or jump sent.
    pub(super) sent: Option<Instant>,
    /// Ticks and jumps not acknowledged yet.
    pub(super) pending: u32,
    /// Clock acknowledgements received, ever (kept across power cuts).
    pub(super) acks: u64,
    /// Messages went to the board since the last tick was sent: tick again and wait, so that
    /// what they cause comes back before time moves on.
    pub(super) dirty: bool,
    /// Supplied with power (a board whose supply is cut answers nothing).
    pub(super) powered: bool,
    /// Why the line to the board was given up, if it was.
    pub(super) lost: Option<String>,
}

impl Station {
    pub(super) fn new(automat: AutomatId, key: PairingKey, board: Box<dyn BoardBox>, now: Instant) -> Self {
        let salt = board.stream_salt();
        Station {
            automat,
            key,
            boots: 1,
            ctl_host: Link::new(link_cfg(Channel::Host, 0x10 ^ salt), now),
            plant_end: Link::new(link_cfg(Channel::Plant, (0x90 + 7) ^ salt), now),
            board,
            lock: Lockstep { powered: true, ..Lockstep::default() },
            armed: Vec::new(),
            touched: true,
            next: None,
        }
    }

    /// Something outside its step changed it: stepped at the next run, its next event asked
    /// again.
    pub(super) fn touch(&mut self) {
        self.touched = true;
        self.next = None;
    }

    /// A step is over: everything that reached it was handled, and what it set off is in its
    /// timers and lines (a timer or an arrival due at once makes it due again at once).
    pub(super) fn stepped(&mut self) {
        self.touched = false;
        self.next = None;
    }

    /// Whether its board shares the simulator's clock (in process): then nothing reaches it
    /// but through its station, and its next event can be kept.
    fn in_process(&self) -> bool {
        self.board.clock() == BoardClock::Shared
    }

    /// When it next needs a step: its link ends' timers and the board box's (a lockstep board's
    /// by its last `ClockAck`).
    pub(super) fn next_event(&mut self) -> Option<Instant> {
        if let Some(next) = self.next {
            return next;
        }
        let mut t: Option<Instant> = None;
        if self.lock.lost.is_none() {
            let mut consider = |x: Option<Instant>| {
                if let Some(x) = x {
                    t = Some(t.map_or(x, |t| t.min(x)));
                }
            };
            match self.board.clock() {
                // A deadline at or before the last tick sent is being handled already.
                BoardClock::Lockstep => consider(
                    self.lock.deadline.filter(|d| self.lock.powered && self.lock.sent.is_none_or(|t| *d > t)),
                ),
                _ => consider(self.board.next_event()),
            }
            consider(self.ctl_host.poll_timeout());
            consider(self.plant_end.poll_timeout());
        }
        if self.in_process() {
            self.next = Some(t);
        }
        t
    }

    /// Whether a run at `now` must step it: touched, due, or across a line (bytes may come at
    /// any moment).
    pub(super) fn needs_step(&mut self, now: Instant) -> bool {
        self.touched || !self.in_process() || self.next_event().is_some_and(|t| t <= now)
    }

    /// New harness-side link state after a power cut (new stream ids).
    pub(super) fn reboot_links(&mut self, now: Instant) {
        self.boots = self.boots.wrapping_add(1);
        let stream = 0x80u8.wrapping_add(self.boots.wrapping_mul(16)) ^ self.board.stream_salt();
        self.plant_end = Link::new(link_cfg(Channel::Plant, stream.wrapping_add(7)), now);
        self.ctl_host = Link::new(link_cfg(Channel::Host, stream.wrapping_add(3)), now);
        self.lock = Lockstep {
            powered: true,
            lost: self.lock.lost.take(),
            acks: self.lock.acks,
            ..Lockstep::default()
        };
        self.touch();
    }

    pub(super) fn lockstep(&self) -> bool {
        self.board.clock() == BoardClock::Lockstep && self.lock.powered && self.lock.lost.is_none()
    }

    /// A lockstep board must be at `now` before bytes sent at `now` reach it: queues a
    /// `ClockJump` ahead of them unless one for `now` went already.
    pub(super) fn ensure_jump(&mut self, now: Instant) {
        self.touch();
        if self.lockstep() && self.lock.sent.is_none_or(|t| t < now) {
            let _ = self.plant_end.send_message(now, &PlantToBoard::ClockJump { now_us: now.as_micros() });
            self.lock.sent = Some(now);
            self.lock.pending += 1;
        }
    }

    /// Queues a message for the board on the host link (after a jump to `now` if needed).
    pub(super) fn send_host(
        &mut self,
        now: Instant,
        message: &HostToBoard,
    ) -> Result<(), firmware_proto::link::SendError> {
        let mut buf: firmware_proto::message::PayloadBuf = [0; firmware_proto::frame::MAX_PAYLOAD];
        let n = firmware_proto::message::encode(message, &mut buf)?;
        self.send_host_payload(now, &buf[..n])
    }

    /// Queues an encoded message for the board on the host link (after a jump to `now` if
    /// needed): the controller's, or one an attacker sends again.
    pub(super) fn send_host_payload(
        &mut self,
        now: Instant,
        payload: &[u8],
    ) -> Result<(), firmware_proto::link::SendError> {
        self.ensure_jump(now);
        self.lock.dirty = true;
        self.ctl_host.send(now, payload)
    }

    /// Queues a message for the board on the plant link (after a jump to `now` if needed).
    pub(super) fn send_plant(&mut self, now: Instant, message: &PlantToBoard) {
        self.ensure_jump(now);
        self.lock.dirty = true;
        let _ = self.plant_end.send_message(now, message);
    }

    /// Hands what the two harness-side link ends have to send to the box: the plant link's
    /// first, where a clock jump waits.
    pub(super) fn transmit(&mut self, now: Instant) {
        self.touch();
        while let Some(bytes) = self.plant_end.poll_transmit() {
            self.board.plant_up(now, bytes);
        }
        let unordered = !self.board.ordered() && self.lockstep();
        if unordered && self.lock.pending > 0 {
            return; // the jump on the other line first
        }
        while let Some(bytes) = self.ctl_host.poll_transmit() {
            self.board.host_down(now, bytes);
            if unordered {
                self.lock.dirty = true; // a tick after them, on the other line
            }
        }
    }

    /// The plant's end of the plant link: commands for the plant go out; a lockstep board's
    /// clock answers stay here. Returns whether anything arrived.
    pub(super) fn plant_events(&mut self, i: usize, out: &mut Vec<Outgoing>) -> bool {
        let mut progress = false;
        while let Some(e) = self.plant_end.poll_event() {
            progress = true;
            if let LinkEvent::Message(p) = e
                && let Some(m) = decode::<BoardToPlant>(&p, i, Channel::Plant, out)
            {
                out.push(Outgoing::Message(i, LinkMessage::PlantDown(m.clone())));
                match m {
                    BoardToPlant::ClockAck { next_deadline_us, .. } => {
                        self.lock.pending = self.lock.pending.saturating_sub(1);
                        self.lock.acks += 1;
                        self.lock.deadline = next_deadline_us.map(Instant::from_micros);
                    }
                    m => out.push(Outgoing::Plant(i, m)),
                }
            }
        }
        progress
    }
}

impl Electronics {
    /// Puts a message on automat `i`'s host line towards the board as if the controller had
    /// sent it: an attacker who took over the line (frames carry no secret, so a
    /// man-in-the-middle can always make well-formed ones; the command MAC is the defence).
    pub fn inject_message(&mut self, i: usize, now: Instant, message: &HostToBoard, out: &mut Vec<Outgoing>) {
        if let Some(s) = self.stations.get_mut(i) {
            out.push(Outgoing::LinkNote(
                i,
                trace::Link::Host,
                LinkNote::Injected { message: message.clone() },
            ));
            let _ = s.send_host(now, message);
        }
    }

    /// An attacker on automat `i`'s host line: the next message named `kind` that the
    /// controller sends the board is captured as `name` ([`Outgoing::FrameCaptured`]).
    pub fn arm_capture(&mut self, i: usize, kind: &'static str, name: String) {
        if let Some(s) = self.stations.get_mut(i) {
            s.armed.push((kind, name));
        }
    }

    /// An attacker on automat `i`'s host line sends a captured message payload again, byte for
    /// byte, in a frame numbered like the controller's next (the link layer is not
    /// authenticated, so an attacker who watches the line can frame it; an exact copy of the old
    /// frame would be a duplicate the board's link drops).
    pub fn replay_payload(&mut self, i: usize, now: Instant, payload: &[u8], out: &mut Vec<Outgoing>) {
        if let Some(s) = self.stations.get_mut(i) {
            out.push(Outgoing::LinkNote(i, trace::Link::Host, LinkNote::Replayed { bytes: payload.len() }));
            if let Err(e) = s.send_host_payload(now, payload) {
                out.push(Outgoing::LinkNote(
                    i,
                    trace::Link::Host,
                    LinkNote::ReplayRefused { error: e.to_string() },
                ));
            }
        }
    }

    /// An attacker writes raw bytes onto automat `i`'s host line, towards the board.
    pub fn inject_bytes(&mut self, i: usize, now: Instant, bytes: &[u8], out: &mut Vec<Outgoing>) {
        if let Some(s) = self.stations.get_mut(i) {
            out.push(Outgoing::LinkNote(
                i,
                trace::Link::Host,
                LinkNote::InjectedBytes { bytes: bytes.len() },
            ));
            s.ensure_jump(now);
            s.lock.dirty = true;
            s.board.host_down(now, bytes);
        }
    }
}
