//! The link layer: reliable, in-order, exactly-once delivery of messages over a lossy byte
//! stream, sans-IO in the manner of `quinn-proto`.
//!
//! A [`Link`] is one end of one channel. It never reads a clock or touches a port: the caller
//! feeds it bytes ([`Link::handle_bytes`]) or already-demultiplexed frames
//! ([`Link::handle_frame`]) and the time ([`Link::handle_timeout`]), and drains what it wants
//! to say: [`Link::poll_transmit`] (bytes for the wire), [`Link::poll_event`] (delivered
//! messages, link up/down), [`Link::poll_timeout`] (when to call `handle_timeout` next).
//!
//! # Protocol
//! - Each end sends one *stream* of data frames, numbered `seq` = 0, 1, 2 … (wrapping `u16`)
//!   under a stream id. At most `window` frames are unacknowledged at once; up to `queue`
//!   messages wait in a bounded queue behind them.
//! - Every frame (data or control) carries a cumulative ack (`ack_stream`, `ack` = next
//!   expected seq) once the sender has adopted the peer's stream. A receiver delivers frames in
//!   order, buffers up to [`RX_WINDOW`] frames that arrive early, and re-acks duplicates.
//! - The oldest unacked frame has a retransmission timer; on expiry every unacked frame is sent
//!   again and the timeout doubles (up to `rto_max`); progress resets it.
//! - Every data frame also carries `base`, the sender's oldest unacked seq. A receiver that
//!   meets a stream id it has not adopted (it has just booted, or the peer has) adopts it and
//!   expects `base` next ([`Event::PeerRestarted`] when it had adopted another before). A base
//!   ahead of what the receiver expects (acks from its previous incarnation) moves it forward.
//!   Delivery is exactly-once within a pair of incarnations; messages in flight when the
//!   receiver rebooted are delivered to its new incarnation.
//! - An ack for frames this stream never sent means the peer still knows an earlier stream of
//!   ours under the same id: the sender moves to the next id and renumbers what is unacked.
//! - A control frame is sent when nothing was sent for `keepalive`; the link is down
//!   ([`Event::LinkDown`]) when nothing valid arrived for `dead_after`, and up again with the
//!   next valid frame.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use crate::decoder::{Decoder, DecoderStats};
use crate::frame::{self, Channel, Flags, Frame, Header, MAX_PAYLOAD, WireBuf};
use crate::message::{self, Message, MessageError};
use crate::time::Instant;

/// How far ahead of the next expected seq a receiver buffers early frames.
pub const RX_WINDOW: u16 = 64;

/// Link parameters. Both ends of a channel should use the same timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// The channel this link carries; frames of other channels are ignored.
    pub channel: Channel,
    /// The first transmit stream id; make it differ across boots (a boot counter or random).
    pub stream: u8,
    /// Most data frames unacknowledged at once (1..=32).
    pub window: u16,
    /// Most messages queued, in flight included; [`Link::send`] refuses more.
    pub queue: usize,
    /// First retransmission timeout.
    pub rto: Duration,
    /// Largest retransmission timeout after backoff.
    pub rto_max: Duration,
    /// Send a control frame when nothing was sent for this long.
    pub keepalive: Duration,
    /// Declare the link down when nothing valid arrived for this long.
    pub dead_after: Duration,
}

impl LinkConfig {
    /// The defaults of PROTOCOL.md: window 8, queue 64, RTO 50 ms doubling to 1 s, keepalive
    /// 250 ms, down after 1 s.
    pub const fn new(channel: Channel, stream: u8) -> Self {
        LinkConfig {
            channel,
            stream,
            window: 8,
            queue: 64,
            rto: Duration::from_millis(50),
            rto_max: Duration::from_secs(1),
            keepalive: Duration::from_millis(250),
            dead_after: Duration::from_secs(1),
        }
    }
}

/// What a link reports to its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A message payload, delivered in order, exactly once.
    Message(Vec<u8>),
    /// A valid frame arrived after the link was down (or for the first time).
    LinkUp,
    /// Nothing valid arrived for `dead_after`.
    LinkDown,
    /// The peer's stream id changed: the peer restarted (its unsent messages are gone).
    PeerRestarted,
}

/// Why [`Link::send`] refused a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The send queue holds `queue` messages already.
    #[error("send queue full")]
    QueueFull,
    /// The payload exceeds [`MAX_PAYLOAD`].
    #[error("payload of {0} bytes exceeds {MAX_PAYLOAD}")]
    TooLarge(usize),
    /// The message could not be encoded.
    #[error(transparent)]
    Message(#[from] MessageError),
}

/// Counters of one link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames handed to `poll_transmit` callers.
    pub frames_sent: u64,
    /// Data frames sent again after a timeout.
    pub retransmits: u64,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Valid frames of this channel received.
    pub frames_received: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Data frames received again after delivery or buffering.
    pub duplicates: u64,
    /// Data frames too far ahead to buffer.
    pub out_of_window: u64,
    /// Expected seqs skipped because the peer's base had moved past them.
    pub skipped: u64,
    /// Acks for frames never sent (the stream was renumbered under a new id).
    pub bogus_acks: u64,
    /// Valid frames of another channel ignored.
    pub foreign: u64,
}

#[derive(Clone, Debug)]
struct Pending {
    seq: u16,
    len: u8,
    payload: [u8; MAX_PAYLOAD],
}

/// One end of one channel. See the [module docs](self).
#[derive(Debug)]
pub struct Link {
    decoder: Decoder,
    core: LinkCore,
}

/// Everything of a link but its decoder, so a frame borrowed from the decoder can be handled.
#[derive(Debug)]
struct LinkCore {
    cfg: LinkConfig,
    /// `cfg.keepalive` and `cfg.dead_after` in µs: `poll_timeout` runs for every frame and
    /// every clock step, and converting a `Duration` each time was a sixth of a simulation.
    keepalive_us: u64,
    dead_after_us: u64,
    now: Instant,
    out: WireBuf,
    // transmit side
    tx_stream: u8,
    next_seq: u16,
    /// Front: oldest unacked. The first `in_flight` entries have been sent.
    queue: VecDeque<Pending>,
    in_flight: usize,
    /// Index of the next in-flight frame to send again, while retransmitting.
    resend: Option<usize>,
    rto: Duration,
    rto_deadline: Option<Instant>,
    last_tx: Instant,
    keepalive_due: bool,
    // receive side
    rx_stream: Option<u8>,
    rx_next: u16,
    early: Vec<(u16, Vec<u8>)>,
    ack_due: bool,
    last_rx: Option<Instant>,
    up: bool,
    events: VecDeque<Event>,
    stats: LinkStats,
}

#[inline]
fn seq_diff(a: u16, b: u16) -> i16 {
    a.wrapping_sub(b) as i16
}

impl Link {
    /// A link that starts at `now`, down until the peer is heard.
    pub fn new(cfg: LinkConfig, now: Instant) -> Self {
        Link { decoder: Decoder::new(), core: LinkCore::new(cfg, now) }
    }

    /// The configuration in force.
    pub fn config(&self) -> &LinkConfig {
        &self.core.cfg
    }

    /// Whether the peer was heard within `dead_after`.
    pub fn is_up(&self) -> bool {
        self.core.up
    }

    /// Messages queued or in flight.
    pub fn queued(&self) -> usize {
        self.core.queue.len()
    }

    /// The link's counters.
    pub fn stats(&self) -> LinkStats {
        self.core.stats
    }

    /// The counters of the decoder behind [`Link::handle_bytes`].
    pub fn decoder_stats(&self) -> DecoderStats {
        self.decoder.stats()
    }

    /// Queues a payload for reliable delivery at `now`: the time its retransmission timer and
    /// the keepalive count from when it goes out (a link told the time only by `handle_*` would
    /// start them from the last time it was told).
    pub fn send(&mut self, now: Instant, payload: &[u8]) -> Result<(), SendError> {
        self.core.now = self.core.now.max(now);
        self.core.send(payload)
    }

    /// Encodes and queues a message.
    pub fn send_message<M: Message>(&mut self, now: Instant, message: &M) -> Result<(), SendError> {
        let mut buf = [0u8; MAX_PAYLOAD];
        let n = message::encode(message, &mut buf)?;
        self.send(now, &buf[..n])
    }

    /// Feeds bytes from the wire (any chunking). Frames of other channels are ignored.
    pub fn handle_bytes(&mut self, now: Instant, mut bytes: &[u8]) {
        self.core.now = now;
        while let Some(result) = self.decoder.feed(&mut bytes) {
            if let Ok(frame) = result {
                self.core.on_frame(now, frame);
            }
        }
    }

    /// Feeds one frame that a demultiplexer already decoded and checked.
    pub fn handle_frame(&mut self, now: Instant, frame: Frame<'_>) {
        self.core.now = now;
        self.core.on_frame(now, frame);
    }

    /// Tells the link the time; fires the retransmission, keepalive and liveness timers due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
    }

    /// Sends every unacknowledged frame again at the next [`poll_transmit`](Self::poll_transmit),
    /// without waiting for the retransmission timer and without backing it off: for a lockstep
    /// harness, whose clock stands still while it waits for the board (so no timer can fire).
    /// Returns whether there was anything to resend.
    pub fn resend_unacked(&mut self) -> bool {
        if self.core.in_flight == 0 {
            return false;
        }
        self.core.resend = Some(0);
        true
    }

    /// The next frame to write to the wire, COBS-encoded with its delimiter; `None` when there
    /// is nothing to send now. Call until `None` after every `handle_*` and `send`.
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        self.core.poll_transmit()
    }

    /// The next delivered message or state change.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.core.events.pop_front()
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }
}

/// `t` plus `us` microseconds, saturating (what `t + Duration` gives).
#[inline]
fn after(t: Instant, us: u64) -> Instant {
    Instant::from_micros(t.as_micros().saturating_add(us))
}

impl LinkCore {
    fn new(cfg: LinkConfig, now: Instant) -> Self {
        let cfg = LinkConfig { window: cfg.window.clamp(1, 32), queue: cfg.queue.max(1), ..cfg };
        LinkCore {
            cfg,
            keepalive_us: (Instant::ZERO + cfg.keepalive).as_micros(),
            dead_after_us: (Instant::ZERO + cfg.dead_after).as_micros(),
            now,
            out: [0; frame::MAX_WIRE],
            tx_stream: cfg.stream,
            next_seq: 0,
            queue: VecDeque::with_capacity(cfg.queue),
            in_flight: 0,
            resend: None,
            rto: cfg.rto,
            rto_deadline: None,
            last_tx: now,
            keepalive_due: false,
            rx_stream: None,
            rx_next: 0,
            early: Vec::new(),
            ack_due: false,
            last_rx: None,
            up: false,
            events: VecDeque::new(),
            stats: LinkStats::default(),
        }
    }

    /// Queues a payload for reliable delivery.
    fn send(&mut self, payload: &[u8]) -> Result<(), SendError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(SendError::TooLarge(payload.len()));
        }
        if self.queue.len() >= self.cfg.queue {
            return Err(SendError::QueueFull);
        }
        let mut p = Pending { seq: self.next_seq, len: payload.len() as u8, payload: [0; MAX_PAYLOAD] };
        p.payload[..payload.len()].copy_from_slice(payload);
        self.next_seq = self.next_seq.wrapping_add(1);
        self.queue.push_back(p);
        Ok(())
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if let Some(deadline) = self.rto_deadline
            && deadline <= now
            && self.in_flight > 0
        {
            self.stats.timeouts += 1;
            self.resend = Some(0);
            self.rto = (self.rto * 2).min(self.cfg.rto_max);
            self.rto_deadline = Some(now + self.rto);
        }
        if after(self.last_tx, self.keepalive_us) <= now {
            self.keepalive_due = true;
        }
        if let Some(last) = self.last_rx
            && self.up
            && after(last, self.dead_after_us) <= now
        {
            self.up = false;
            self.events.push_back(Event::LinkDown);
        }
    }

    fn poll_transmit(&mut self) -> Option<&[u8]> {
        // 1. retransmissions, oldest first
        if let Some(i) = self.resend {
            if i < self.in_flight {
                self.resend = Some(i + 1);
                self.stats.retransmits += 1;
                return self.emit_data(i);
            }
            self.resend = None;
        }
        // 2. new data within the window
        if self.in_flight < self.queue.len() && self.in_flight < usize::from(self.cfg.window) {
            let i = self.in_flight;
            self.in_flight += 1;
            if self.rto_deadline.is_none() {
                self.rto_deadline = Some(self.now + self.rto);
            }
            return self.emit_data(i);
        }
        // 3. a control frame: ack or keepalive
        if self.ack_due || self.keepalive_due {
            let header = self.header(Flags::empty(), self.next_seq_to_send());
            return self.emit(header, None);
        }
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let mut t = after(self.last_tx, self.keepalive_us);
        if self.in_flight > 0
            && let Some(d) = self.rto_deadline
        {
            t = t.min(d);
        }
        if let (true, Some(last)) = (self.up, self.last_rx) {
            t = t.min(after(last, self.dead_after_us));
        }
        Some(t)
    }

    fn next_seq_to_send(&self) -> u16 {
        self.queue.get(self.in_flight).map_or(self.next_seq, |p| p.seq)
    }

    fn header(&self, mut flags: Flags, seq: u16) -> Header {
        let (ack_stream, ack) = match self.rx_stream {
            Some(s) => {
                flags.insert(Flags::ACK);
                (s, self.rx_next)
            }
            None => (0, 0),
        };
        let base = self.queue.front().map_or(self.next_seq, |p| p.seq);
        Header { channel: self.cfg.channel, flags, stream: self.tx_stream, seq, base, ack_stream, ack }
    }

    fn emit_data(&mut self, i: usize) -> Option<&[u8]> {
        let (seq, len) = (self.queue[i].seq, usize::from(self.queue[i].len));
        let header = self.header(Flags::DATA, seq);
        self.emit(header, Some((i, len)))
    }

    fn emit(&mut self, header: Header, data: Option<(usize, usize)>) -> Option<&[u8]> {
        let payload: &[u8] = match data {
            Some((i, len)) => &self.queue[i].payload[..len],
            None => &[],
        };
        // Payloads were checked against MAX_PAYLOAD in `send`, so encoding cannot fail.
        let n = frame::encode(&header, payload, &mut self.out).ok()?;
        self.ack_due = false;
        self.keepalive_due = false;
        self.last_tx = self.now;
        self.stats.frames_sent += 1;
        Some(&self.out[..n])
    }

    fn on_frame(&mut self, now: Instant, frame: Frame<'_>) {
        let h = frame.header;
        if h.channel != self.cfg.channel {
            self.stats.foreign += 1;
            return;
        }
        self.stats.frames_received += 1;
        self.last_rx = Some(now);
        if !self.up {
            self.up = true;
            self.events.push_back(Event::LinkUp);
        }
        if h.flags.contains(Flags::ACK) && h.ack_stream == self.tx_stream {
            self.on_ack(h.ack);
        }
        if h.flags.contains(Flags::DATA) {
            self.on_data(&h, frame.payload);
        }
    }

    fn on_ack(&mut self, ack: u16) {
        let base = self.queue.front().map_or(self.next_seq, |p| p.seq);
        let acked = seq_diff(ack, base);
        if acked <= 0 {
            return; // nothing new, or a stale ack
        }
        let acked = acked as usize;
        if acked > self.in_flight {
            // The peer acknowledges frames this stream never sent: it is talking about an
            // earlier stream with the same id.
            self.stats.bogus_acks += 1;
            self.renumber();
            return;
        }
        self.queue.drain(..acked);
        self.in_flight -= acked;
        self.resend = self.resend.map(|i| i.saturating_sub(acked));
        self.rto = self.cfg.rto;
        self.rto_deadline = (self.in_flight > 0).then(|| self.now + self.rto);
    }

    /// Moves to the next stream id and renumbers everything unacked from 0.
    fn renumber(&mut self) {
        self.tx_stream = self.tx_stream.wrapping_add(1);
        for (i, p) in self.queue.iter_mut().enumerate() {
            p.seq = i as u16;
        }
        self.next_seq = self.queue.len() as u16;
        self.resend = (self.in_flight > 0).then_some(0);
    }

    fn on_data(&mut self, h: &Header, payload: &[u8]) {
        if self.rx_stream != Some(h.stream) {
            if self.rx_stream.is_some() {
                self.events.push_back(Event::PeerRestarted);
            }
            self.rx_stream = Some(h.stream);
            self.rx_next = h.base;
            self.early.clear();
            // A new peer incarnation has seen nothing of ours that this frame did not
            // acknowledge (its ack was processed first): send what is in flight again now
            // rather than when the timer says. A board on a stopped lockstep clock has no
            // timer that would (PROTOCOL.md §4.3).
            if self.in_flight > 0 {
                self.resend = Some(0);
            }
        } else if seq_diff(h.base, self.rx_next) > 0 {
            self.stats.skipped += u64::from(h.base.wrapping_sub(self.rx_next));
            self.rx_next = h.base;
            let base = h.base;
            self.early.retain(|(s, _)| seq_diff(*s, base) >= 0);
        }
        self.ack_due = true;
        let seq = h.seq;
        let ahead = seq_diff(seq, self.rx_next);
        if ahead < 0 {
            self.stats.duplicates += 1;
        } else if ahead as u16 >= RX_WINDOW {
            self.stats.out_of_window += 1;
        } else if ahead > 0 {
            if self.early.iter().any(|(s, _)| *s == seq) {
                self.stats.duplicates += 1;
            } else {
                self.early.push((seq, payload.to_vec()));
            }
        } else {
            self.deliver(payload.to_vec());
        }
        while let Some(i) = self.early.iter().position(|(s, _)| *s == self.rx_next) {
            let (_, p) = self.early.swap_remove(i);
            self.deliver(p);
        }
    }

    fn deliver(&mut self, payload: Vec<u8>) {
        self.rx_next = self.rx_next.wrapping_add(1);
        self.stats.delivered += 1;
        self.events.push_back(Event::Message(payload));
    }
}
