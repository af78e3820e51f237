//! An in-memory serial line: bytes take the time a UART needs at the configured baud rate,
//! plus latency, and suffer seeded corruption, loss and disconnects.

use std::collections::VecDeque;
use std::time::Duration;

use firmware_proto::Instant;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How a line behaves.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LineConfig {
    /// Bits per second; each byte takes 10 bit times (8N1). 0 is instantaneous.
    pub baud: u32,
    /// Fixed delay on top, microseconds.
    pub latency_us: u64,
    /// Probability that a byte arrives with a flipped bit.
    pub corrupt: f64,
    /// Probability that a written chunk is lost whole.
    pub loss: f64,
}

impl Default for LineConfig {
    fn default() -> Self {
        LineConfig { baud: 115_200, latency_us: 50, corrupt: 0.0, loss: 0.0 }
    }
}

/// Counters of a line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LineStats {
    /// Bytes written.
    pub bytes: u64,
    /// Chunks written: a link end writes each frame as one chunk, so these are its frames
    /// (and any raw bytes injected, a chunk each).
    pub frames: u64,
    /// Bytes corrupted.
    pub corrupted: u64,
    /// Chunks lost (faults or a disconnect).
    pub lost: u64,
}

/// One direction of a line.
#[derive(Clone, Debug)]
pub struct Wire {
    /// The line's behaviour (faults can be changed mid-run).
    pub cfg: LineConfig,
    /// Bytes are dropped until this time (a disconnect).
    pub down_until: Option<Instant>,
    busy_until: Instant,
    queue: VecDeque<(Instant, Vec<u8>)>,
    rng: ChaCha8Rng,
    stats: LineStats,
}

impl Wire {
    /// A line seeded with `seed`.
    pub fn new(cfg: LineConfig, seed: u64) -> Self {
        Wire {
            cfg,
            down_until: None,
            busy_until: Instant::ZERO,
            queue: VecDeque::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            stats: LineStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> LineStats {
        self.stats
    }

    /// Writes bytes at `now`.
    pub fn send(&mut self, now: Instant, bytes: &[u8]) {
        self.stats.bytes += bytes.len() as u64;
        self.stats.frames += 1;
        if self.down_until.is_some_and(|t| now < t)
            || (self.cfg.loss > 0.0 && self.rng.random_bool(self.cfg.loss.min(1.0)))
        {
            self.stats.lost += 1;
            return;
        }
        let mut bytes = bytes.to_vec();
        if self.cfg.corrupt > 0.0 {
            for b in &mut bytes {
                if self.rng.random_bool(self.cfg.corrupt.min(1.0)) {
                    *b ^= 1 << self.rng.random_range(0..8);
                    self.stats.corrupted += 1;
                }
            }
        }
        let tx = if self.cfg.baud == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(bytes.len() as u64 * 10 * 1_000_000_000 / u64::from(self.cfg.baud))
        };
        let start = self.busy_until.max(now);
        self.busy_until = start + tx;
        let at = self.busy_until + Duration::from_micros(self.cfg.latency_us);
        self.queue.push_back((at, bytes));
    }

    /// When the next bytes arrive.
    pub fn next_arrival(&self) -> Option<Instant> {
        self.queue.front().map(|(t, _)| *t)
    }

    /// The bytes arrived by `now`.
    pub fn take_due(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.queue.front().is_some_and(|(t, _)| *t <= now) {
            return self.queue.pop_front().map(|(_, b)| b);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_take_baud_time_and_queue_behind_each_other() {
        let mut w = Wire::new(LineConfig { baud: 10_000, latency_us: 0, corrupt: 0.0, loss: 0.0 }, 1);
        w.send(Instant::ZERO, &[1; 10]); // 10 ms
        w.send(Instant::ZERO, &[2; 10]);
        assert_eq!(w.next_arrival(), Some(Instant::from_millis(10)));
        assert_eq!(w.take_due(Instant::from_millis(10)), Some(vec![1; 10]));
        assert_eq!(w.take_due(Instant::from_millis(15)), None);
        assert_eq!(w.take_due(Instant::from_millis(20)), Some(vec![2; 10]));
    }

    #[test]
    fn a_disconnect_drops_everything_until_it_ends() {
        let mut w = Wire::new(LineConfig::default(), 1);
        w.down_until = Some(Instant::from_millis(100));
        w.send(Instant::from_millis(50), b"lost");
        w.send(Instant::from_millis(100), b"kept");
        assert_eq!(w.stats().lost, 1);
        assert_eq!(w.take_due(Instant::from_millis(200)), Some(b"kept".to_vec()));
    }
}
