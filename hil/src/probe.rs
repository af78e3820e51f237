//! `hil probe` and `hil sniff`: a board's identity and round-trip latency, and the frames on a
//! line, decoded.

use std::time::{Duration, Instant as WallInstant};

use firmware_proto::Instant;
use firmware_proto::auth::{PairingKey, pairing_proof};
use firmware_proto::decoder::Decoder;
use firmware_proto::frame::{Channel, Flags};
use firmware_proto::host::{BoardToHost, HostToBoard};
use firmware_proto::link::{Event as LinkEvent, Link, LinkConfig};
use firmware_proto::message::{Decoded, Message, decode};
use firmware_proto::plant::{BoardToPlant, PlantToBoard};
use firmware_proto::types::{Capabilities, FirmwareVersion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::port::Port;

/// What `hil probe` learnt.
#[derive(Clone, Debug)]
pub struct ProbeReport {
    /// The board's protocol version.
    pub protocol: u16,
    /// Its id.
    pub board_id: u32,
    /// Its firmware.
    pub firmware: FirmwareVersion,
    /// Slots on its carousel.
    pub slot_count: u8,
    /// What it has.
    pub capabilities: Capabilities,
    /// Its last accepted secured-command counter.
    pub last_counter: u32,
    /// Whether its pairing proof matches the key given (`None`: no key given).
    pub paired: Option<bool>,
    /// Round trips of `Ping` → `Pong`, sorted.
    pub round_trips: Vec<Duration>,
}

impl ProbeReport {
    /// The `q`-quantile of the round trips (0.5: median).
    pub fn quantile(&self, q: f64) -> Duration {
        let n = self.round_trips.len();
        if n == 0 {
            return Duration::ZERO;
        }
        self.round_trips[((n as f64 * q) as usize).min(n - 1)]
    }
}

/// Randomness for challenges and stream ids: the wall clock and the process id (a probe's
/// challenge only has to differ between probes).
pub(crate) fn rng() -> ChaCha8Rng {
    let t =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    ChaCha8Rng::seed_from_u64(t ^ u64::from(std::process::id()).rotate_left(32))
}

/// A host-link end on the wall clock, for talking to a board outside a scenario.
struct HostEnd {
    link: Link,
    started: WallInstant,
}

impl HostEnd {
    fn new() -> Self {
        let stream = crate::remote::fresh_salt();
        HostEnd {
            link: Link::new(LinkConfig::new(Channel::Host, stream), Instant::ZERO),
            started: WallInstant::now(),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_micros(u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    fn send(&mut self, port: &mut Port, m: &HostToBoard) -> Result<(), String> {
        let now = self.now();
        self.link.send_message(now, m).map_err(|e| e.to_string())?;
        self.flush(port)
    }

    fn flush(&mut self, port: &mut Port) -> Result<(), String> {
        while let Some(bytes) = self.link.poll_transmit() {
            port.write(bytes).map_err(|e| format!("writing: {e}"))?;
        }
        Ok(())
    }

    /// The next message from the board that `want` accepts, within `timeout`.
    fn expect<T>(
        &mut self,
        port: &mut Port,
        timeout: Duration,
        mut want: impl FnMut(BoardToHost) -> Option<T>,
    ) -> Result<T, String> {
        let until = WallInstant::now() + timeout;
        loop {
            while let Some(e) = self.link.poll_event() {
                if let LinkEvent::Message(p) = e
                    && let Ok(Decoded::Known(m)) = decode::<BoardToHost>(&p)
                    && let Some(t) = want(m)
                {
                    return Ok(t);
                }
            }
            let now = self.now();
            if self.link.poll_timeout().is_some_and(|t| t <= now) {
                self.link.handle_timeout(now);
            }
            self.flush(port)?;
            if WallInstant::now() >= until {
                return Err(format!("no answer within {} ms", timeout.as_millis()));
            }
            let step = (WallInstant::now() + Duration::from_millis(20)).min(until);
            if let Some(bytes) = port.read(Some(step)).map_err(|e| format!("reading: {e}"))? {
                let now = self.now();
                self.link.handle_bytes(now, &bytes);
            }
        }
    }
}

/// Handshake, identity, pairing check, and `pings` round trips.
///
/// The proof is checked with `key` and the id the board was paired with (`board_id`; without
/// it, the id the board gives), so a board that claims another id fails the pairing check.
pub fn probe(
    port: &mut Port,
    key: Option<&PairingKey>,
    board_id: Option<u32>,
    pings: usize,
) -> Result<ProbeReport, String> {
    let mut end = HostEnd::new();
    let challenge: [u8; 16] = rng().random();
    end.send(
        port,
        &HostToBoard::Hello { protocol: firmware_proto::frame::PROTOCOL_VERSION.into(), challenge },
    )?;
    let (mut report, proof) = end.expect(port, Duration::from_secs(3), |m| match m {
        BoardToHost::Hello {
            protocol,
            board_id,
            firmware,
            slot_count,
            capabilities,
            last_counter,
            proof,
        } => {
            let report = ProbeReport {
                protocol,
                board_id,
                firmware,
                slot_count,
                capabilities,
                last_counter,
                paired: None,
                round_trips: Vec::with_capacity(pings),
            };
            Some((report, proof))
        }
        _ => None,
    })?;
    report.paired = key.map(|k| pairing_proof(k, board_id.unwrap_or(report.board_id), &challenge) == proof);
    for nonce in 0..pings as u32 {
        let sent = WallInstant::now();
        end.send(port, &HostToBoard::Ping { nonce })?;
        end.expect(port, Duration::from_secs(2), |m| {
            matches!(m, BoardToHost::Pong { nonce: n } if n == nonce).then_some(())
        })?;
        report.round_trips.push(sent.elapsed());
    }
    // Acknowledge the last answer, or the board keeps it in its window for good.
    end.flush(port)?;
    report.round_trips.sort();
    Ok(report)
}

/// Who sends what a sniffer reads: frames carry no direction, so a message kind is named by
/// the sender's message set (the board's `Booted` and the host's `Home` share a kind byte).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Sender {
    /// The board: host frames are `BoardToHost`, plant frames `BoardToPlant`.
    #[default]
    Board,
    /// The host and plant side (a sniffer on the harness's end of the line).
    Host,
}

/// The message a frame's payload carries, named as the trace names it (`Kind { fields }`).
pub fn describe(sender: Sender, channel: Channel, payload: &[u8]) -> String {
    fn named<M: Message + std::fmt::Debug>(payload: &[u8]) -> String {
        match decode::<M>(payload) {
            Ok(Decoded::Known(m)) => format!("{m:?}"),
            Ok(Decoded::Unknown { kind }) => format!("unknown kind {kind}"),
            Err(e) => format!("undecodable: {e}"),
        }
    }
    match (sender, channel) {
        (Sender::Board, Channel::Host) => named::<BoardToHost>(payload),
        (Sender::Board, Channel::Plant) => named::<BoardToPlant>(payload),
        (Sender::Host, Channel::Host) => named::<HostToBoard>(payload),
        (Sender::Host, Channel::Plant) => named::<PlantToBoard>(payload),
    }
}

/// One frame as `hil sniff` prints it.
pub fn frame_line(at: Duration, sender: Sender, raw: &firmware_proto::frame::Frame<'_>) -> String {
    let h = &raw.header;
    let kind = if h.flags.contains(Flags::DATA) { "DATA" } else { "ack " };
    let what = if raw.payload.is_empty() { String::new() } else { describe(sender, h.channel, raw.payload) };
    let channel = if h.channel == Channel::Host { "host " } else { "plant" };
    format!(
        "{:>12.6} {channel} {kind} stream {:02x} seq {:>5} ack {:02x}:{:<5} {what}",
        at.as_secs_f64(),
        h.stream,
        h.seq,
        h.ack_stream,
        h.ack
    )
}

/// Reads a line and prints every frame decoded (sent by `sender`), until `count` frames (if
/// given) or `until`; each frame, and each run of bytes that is no frame, also goes into
/// `capture` (pcap) when there is one.
pub fn sniff(
    port: &mut Port,
    sender: Sender,
    count: Option<usize>,
    until: Option<WallInstant>,
    mut capture: Option<&mut crate::pcap::Capture>,
    mut print: impl FnMut(String),
) -> Result<usize, String> {
    let started = WallInstant::now();
    let mut splitter = crate::faults::FrameSplitter::default();
    let mut decoder = Decoder::default();
    let mut seen = 0;
    loop {
        if count.is_some_and(|c| seen >= c) || until.is_some_and(|u| WallInstant::now() >= u) {
            return Ok(seen);
        }
        let step = WallInstant::now() + Duration::from_millis(100);
        let Some(bytes) = port.read(Some(until.map_or(step, |u| u.min(step)))).map_err(|e| e.to_string())?
        else {
            continue;
        };
        for chunk in splitter.push(&bytes) {
            if let Some(c) = capture.as_deref_mut() {
                c.wire(sender == Sender::Board, &chunk);
            }
            let mut input = chunk.as_slice();
            while let Some(result) = decoder.feed(&mut input) {
                match result {
                    Ok(frame) => {
                        seen += 1;
                        print(frame_line(started.elapsed(), sender, &frame));
                    }
                    Err(e) => print(format!("{:>12.6} dropped: {e}", started.elapsed().as_secs_f64())),
                }
            }
            if count.is_some_and(|c| seen >= c) {
                return Ok(seen);
            }
        }
    }
}
