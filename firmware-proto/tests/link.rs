//! Two link ends over a simulated wire with seeded loss, corruption, duplication, reordering
//! and delay: in-order, exactly-once delivery, resync after a restart, liveness.

#![allow(clippy::panic, clippy::needless_range_loop)]

use std::collections::BTreeMap;
use std::time::Duration;

use firmware_proto::Instant;
use firmware_proto::frame::{Channel, Flags};
use firmware_proto::link::{Event, Link, LinkConfig, SendError};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Copy, Debug)]
struct Faults {
    loss: f64,
    corrupt: f64,
    duplicate: f64,
    /// Base one-way delay.
    delay: Duration,
    /// Extra random delay up to this, which reorders frames.
    jitter: Duration,
}

impl Faults {
    const CLEAN: Faults = Faults {
        loss: 0.0,
        corrupt: 0.0,
        duplicate: 0.0,
        delay: Duration::from_millis(1),
        jitter: Duration::ZERO,
    };
}

/// One direction of the wire: chunks in flight keyed by arrival time (and a tiebreak).
#[derive(Default)]
struct Direction {
    in_flight: BTreeMap<(Instant, u64), Vec<u8>>,
    counter: u64,
}

struct Net {
    rng: ChaCha8Rng,
    faults: Faults,
    now: Instant,
    ends: [Link; 2],
    wires: [Direction; 2], // wires[i]: from end i to end 1-i
    received: [Vec<u32>; 2],
    events: [Vec<Event>; 2],
    /// While true, the wire drops everything (a disconnect).
    cut: bool,
}

impl Net {
    fn new(seed: u64, faults: Faults) -> Self {
        let cfg = LinkConfig::new(Channel::Host, 0);
        Net {
            rng: ChaCha8Rng::seed_from_u64(seed),
            faults,
            now: Instant::ZERO,
            ends: [
                Link::new(cfg, Instant::ZERO),
                Link::new(LinkConfig { stream: 100, ..cfg }, Instant::ZERO),
            ],
            wires: [Direction::default(), Direction::default()],
            received: [Vec::new(), Vec::new()],
            events: [Vec::new(), Vec::new()],
            cut: false,
        }
    }

    fn transmit(&mut self, from: usize) {
        while let Some(bytes) = self.ends[from].poll_transmit() {
            let mut bytes = bytes.to_vec();
            let f = self.faults;
            if self.cut || self.rng.random_bool(f.loss) {
                continue;
            }
            if self.rng.random_bool(f.corrupt) {
                let i = self.rng.random_range(0..bytes.len());
                bytes[i] ^= 1 << self.rng.random_range(0..8);
            }
            let copies = if self.rng.random_bool(f.duplicate) { 2 } else { 1 };
            for _ in 0..copies {
                let jitter = if f.jitter.is_zero() {
                    Duration::ZERO
                } else {
                    self.rng.random_range(Duration::ZERO..f.jitter)
                };
                let at = self.now + f.delay + jitter;
                let w = &mut self.wires[from];
                w.counter += 1;
                // Split into random chunks that arrive together, to exercise the decoder.
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let n = self.rng.random_range(1..=rest.len());
                    w.counter += 1;
                    w.in_flight.insert((at, w.counter), rest[..n].to_vec());
                    rest = &rest[n..];
                }
            }
        }
    }

    fn drain_events(&mut self, end: usize) {
        while let Some(e) = self.ends[end].poll_event() {
            if let Event::Message(p) = &e {
                self.received[end].push(u32::from_le_bytes(p[..4].try_into().expect("4 bytes")));
            }
            self.events[end].push(e);
        }
    }

    /// Advances to the next wire arrival or timer, if any is before `limit`.
    fn step(&mut self, limit: Instant) -> bool {
        for e in 0..2 {
            self.transmit(e);
        }
        let arrival = (0..2).filter_map(|w| self.wires[w].in_flight.keys().next().map(|k| (k.0, w))).min();
        let timer = (0..2).filter_map(|e| self.ends[e].poll_timeout().map(|t| (t, e))).min();
        let next = match (arrival, timer) {
            (Some(a), Some(t)) => a.0.min(t.0),
            (Some(a), None) => a.0,
            (None, Some(t)) => t.0,
            (None, None) => return false,
        };
        if next > limit {
            return false;
        }
        self.now = self.now.max(next);
        for w in 0..2 {
            while let Some(entry) = self.wires[w].in_flight.first_entry() {
                if entry.key().0 > self.now {
                    break;
                }
                let bytes = entry.remove();
                self.ends[1 - w].handle_bytes(self.now, &bytes);
            }
        }
        for e in 0..2 {
            self.ends[e].handle_timeout(self.now);
            self.drain_events(e);
        }
        true
    }

    fn run_until(&mut self, limit: Instant) {
        while self.step(limit) {}
        self.now = self.now.max(limit);
    }

    /// Sends `count` numbered messages from each end, as fast as the queues allow, and runs
    /// until all are delivered (or `limit` of virtual time passes).
    fn exchange(&mut self, count: u32, limit: Duration) {
        let deadline = self.now + limit;
        let mut next = [0u32; 2];
        while self.now < deadline {
            for e in 0..2 {
                while next[e] < count {
                    let mut payload = next[e].to_le_bytes().to_vec();
                    payload.resize(4 + (next[e] as usize * 7) % 230, 0xA5); // varied lengths
                    match self.ends[e].send(self.now, &payload) {
                        Ok(()) => next[e] += 1,
                        Err(SendError::QueueFull) => break,
                        Err(other) => panic!("send failed: {other}"),
                    }
                }
            }
            if self.received.iter().all(|r| r.len() as u32 >= count)
                && self.ends.iter().all(|l| l.queued() == 0)
            {
                return;
            }
            if !self.step(deadline) {
                return;
            }
        }
    }
}

fn assert_exactly_once_in_order(net: &Net, count: u32, what: &str) {
    let want: Vec<u32> = (0..count).collect();
    for end in 0..2 {
        assert_eq!(net.received[end], want, "{what}: end {end} got a different sequence");
    }
}

#[test]
fn clean_wire_delivers_everything_in_order() {
    let mut net = Net::new(1, Faults::CLEAN);
    net.exchange(1_000, Duration::from_secs(60));
    assert_exactly_once_in_order(&net, 1_000, "clean");
    // No timer ever fires; the only frames sent twice are the first window's, once, when the
    // peer's first data frame (sent before ours arrived) showed its new stream (§4.3).
    let stats = net.ends[0].stats();
    assert_eq!(stats.timeouts, 0);
    assert!(stats.retransmits <= 8, "{stats:?}");
}

#[test]
fn grid_of_fault_rates_delivers_exactly_once_in_order() {
    let rates = [0.0, 0.01, 0.05, 0.2];
    for (i, &loss) in rates.iter().enumerate() {
        for &corrupt in &rates {
            for seed in 0..3u64 {
                let faults = Faults {
                    loss,
                    corrupt,
                    duplicate: 0.05,
                    delay: Duration::from_millis(2),
                    jitter: Duration::from_millis(8),
                };
                let mut net = Net::new(seed * 31 + i as u64, faults);
                net.exchange(300, Duration::from_secs(600));
                let what = format!("loss {loss} corrupt {corrupt} seed {seed}");
                assert_exactly_once_in_order(&net, 300, &what);
                if loss + corrupt > 0.0 {
                    assert!(net.ends[0].stats().retransmits > 0, "{what}: no retransmission");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn random_faults_never_break_order_or_duplicate(
        seed in any::<u64>(),
        loss in 0.0f64..0.3,
        corrupt in 0.0f64..0.3,
        duplicate in 0.0f64..0.3,
        jitter_ms in 0u64..30,
    ) {
        let faults = Faults { loss, corrupt, duplicate, delay: Duration::from_millis(1), jitter: Duration::from_millis(jitter_ms) };
        let mut net = Net::new(seed, faults);
        net.exchange(120, Duration::from_secs(3_600));
        for end in 0..2 {
            let got = &net.received[end];
            prop_assert_eq!(got, &(0..120).collect::<Vec<u32>>());
        }
    }
}

#[test]
fn send_queue_is_bounded() {
    let mut link = Link::new(LinkConfig::new(Channel::Plant, 0), Instant::ZERO);
    for i in 0..64u32 {
        link.send(Instant::ZERO, &i.to_le_bytes()).expect("room");
    }
    assert_eq!(link.send(Instant::ZERO, b"x"), Err(SendError::QueueFull));
    assert_eq!(link.send(Instant::ZERO, &[0; 239]), Err(SendError::TooLarge(239)));
}

#[test]
fn retransmission_backs_off_while_the_peer_is_away() {
    let mut net = Net::new(7, Faults::CLEAN);
    net.cut = true;
    net.ends[0].send(net.now, b"\x00\x00\x00\x00").expect("room");
    net.run_until(Instant::from_millis(10_000));
    let timeouts = net.ends[0].stats().timeouts;
    // 50, 100, 200, 400, 800 ms, then every 1 s: about 13 in 10 s, far fewer than 200 at 50 ms.
    assert!((10..=16).contains(&timeouts), "{timeouts} timeouts");
    net.cut = false;
    net.run_until(Instant::from_millis(12_000));
    assert_eq!(net.received[1], [0]);
}

#[test]
fn link_goes_down_after_silence_and_up_when_the_peer_returns() {
    let mut net = Net::new(3, Faults::CLEAN);
    net.run_until(Instant::from_millis(2_000));
    assert!(net.ends[0].is_up() && net.ends[1].is_up(), "keepalives bring both up");
    assert_eq!(net.events[0], [Event::LinkUp]);
    net.cut = true;
    net.run_until(Instant::from_millis(4_000));
    assert!(!net.ends[0].is_up());
    assert_eq!(net.events[0], [Event::LinkUp, Event::LinkDown]);
    net.cut = false;
    net.run_until(Instant::from_millis(6_000));
    assert_eq!(net.events[0], [Event::LinkUp, Event::LinkDown, Event::LinkUp]);
}

#[test]
fn peer_restart_resyncs_and_later_messages_flow() {
    let mut net = Net::new(11, Faults::CLEAN);
    net.exchange(50, Duration::from_secs(10));
    assert_exactly_once_in_order(&net, 50, "before restart");
    // End 1 reboots: new link state, a new stream id.
    let now = net.now;
    net.ends[1] = Link::new(LinkConfig::new(Channel::Host, 200), now);
    net.received = [Vec::new(), Vec::new()];
    net.events = [Vec::new(), Vec::new()];
    net.exchange(50, Duration::from_secs(10));
    assert_exactly_once_in_order(&net, 50, "after restart");
    assert!(net.events[0].contains(&Event::PeerRestarted), "{:?}", net.events[0]);
    assert!(!net.events[1].contains(&Event::PeerRestarted), "the fresh end had no peer stream");
}

#[test]
fn messages_in_flight_when_the_receiver_reboots_reach_its_new_incarnation() {
    let mut net = Net::new(12, Faults::CLEAN);
    net.exchange(5, Duration::from_secs(10));
    net.cut = true;
    for i in 0..3u32 {
        net.ends[0].send(net.now, &(100 + i).to_le_bytes()).expect("room");
    }
    net.run_until(net.now + Duration::from_millis(100));
    let now = net.now;
    net.ends[1] = Link::new(LinkConfig::new(Channel::Host, 200), now);
    net.received[1].clear();
    net.cut = false;
    net.ends[0].send(net.now, &200u32.to_le_bytes()).expect("room");
    net.run_until(net.now + Duration::from_secs(5));
    assert_eq!(net.received[1], [100, 101, 102, 200]);
    assert_eq!(net.ends[0].queued(), 0);
}

#[test]
fn frames_of_another_channel_are_ignored() {
    let mut host = Link::new(LinkConfig::new(Channel::Host, 0), Instant::ZERO);
    let mut plant = Link::new(LinkConfig::new(Channel::Plant, 0), Instant::ZERO);
    plant.send(Instant::ZERO, b"\x01").expect("room");
    let bytes = plant.poll_transmit().expect("a frame").to_vec();
    host.handle_bytes(Instant::ZERO, &bytes);
    assert_eq!(host.poll_event(), None);
    assert_eq!(host.stats().foreign, 1);
}

/// §4.3: a data frame of a stream not adopted yet brings what is in flight again at once, with
/// the clock standing still (a lockstep board whose harness missed its boot frames).
#[test]
fn a_new_peer_stream_gets_what_is_in_flight_at_once() {
    let t = Instant::ZERO;
    let mut board = Link::new(LinkConfig::new(Channel::Host, 7), t);
    board.send(t, b"\x05booted").expect("room");
    let lost = board.poll_transmit().expect("the first frame").to_vec();
    assert!(board.poll_transmit().is_none());
    // A peer that never saw `lost` starts talking, and acknowledges nothing.
    let mut peer = Link::new(LinkConfig::new(Channel::Host, 9), t);
    peer.send(t, b"\x01hello").expect("room");
    let hello = peer.poll_transmit().expect("hello").to_vec();
    board.handle_bytes(t, &hello);
    let again = board.poll_transmit().expect("in flight, sent again without a timer").to_vec();
    let (was, now) = (header_of(&lost), header_of(&again));
    assert!(now.flags.contains(Flags::DATA) && now.seq == was.seq && now.stream == was.stream, "{now:?}");
    assert!(now.flags.contains(Flags::ACK) && now.ack_stream == 9, "rebuilt with the new ack: {now:?}");
    assert_eq!(board.stats().retransmits, 1);
    assert_eq!(board.stats().timeouts, 0);
    peer.handle_bytes(t, &again);
    assert_eq!(peer.poll_event(), Some(Event::LinkUp));
    assert_eq!(peer.poll_event(), Some(Event::Message(b"\x05booted".to_vec())));

    // A peer that acknowledges it in the adopting frame gets nothing again.
    let mut board = Link::new(LinkConfig::new(Channel::Host, 7), t);
    board.send(t, b"\x05booted").expect("room");
    let first = board.poll_transmit().expect("the first frame").to_vec();
    let mut peer = Link::new(LinkConfig::new(Channel::Host, 9), t);
    peer.handle_bytes(t, &first);
    peer.send(t, b"\x01hello").expect("room");
    let hello = peer.poll_transmit().expect("hello with the ack").to_vec();
    board.handle_bytes(t, &hello);
    let next = board.poll_transmit().expect("an ack for hello").to_vec();
    assert!(!header_of(&next).flags.contains(Flags::DATA), "a control frame, no resend");
    assert_eq!(board.stats().retransmits, 0);
}

fn header_of(wire: &[u8]) -> firmware_proto::frame::Header {
    let mut decoder = firmware_proto::decoder::Decoder::new();
    decoder.feed(&mut &wire[..]).expect("a frame").expect("a valid frame").header
}

/// A message sent at `t` starts its retransmission timer at `t`, however long ago the link was
/// last told the time (a board whose heartbeat fires on a quiet link): before `send` took the
/// time, the timer started from the last frame received and fired at once, a spurious resend.
#[test]
fn timers_count_from_the_send_not_from_the_last_time_the_link_was_told() {
    let mut link = Link::new(LinkConfig::new(Channel::Host, 3), Instant::ZERO);
    let t = Instant::from_millis(10_000);
    link.send(t, b"\x0dbeat").expect("room");
    assert!(link.poll_transmit().is_some());
    assert_eq!(link.poll_timeout(), Some(Instant::from_millis(10_050)));
    link.handle_timeout(Instant::from_millis(10_049));
    assert!(link.poll_transmit().is_none(), "nothing is due before the 50 ms timeout");
    assert_eq!(link.stats().retransmits, 0);
}
