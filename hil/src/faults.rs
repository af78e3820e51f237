//! Line faults the harness puts between itself and the board, `--fault drop=1%,corrupt=0.5%,delay=5ms`:
//! to test a board's link robustness. They apply to host-channel frames only when the plant
//! channel carries a lockstep clock (a lost tick would stall the clock, not test the board).

use std::str::FromStr;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What goes wrong on the line.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Probability that a frame is lost whole.
    pub drop: f64,
    /// Probability that a byte arrives with a flipped bit.
    pub corrupt: f64,
    /// Extra delay before the harness writes (wall clock).
    pub delay: Duration,
}

/// A `--fault` value that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--fault {text:?}: {problem} (expected e.g. drop=1%,corrupt=0.5%,delay=5ms)")]
pub struct FaultsError {
    text: String,
    problem: String,
}

fn percent(value: &str) -> Option<f64> {
    let v: f64 = value.strip_suffix('%')?.parse().ok()?;
    (0.0..=100.0).contains(&v).then_some(v / 100.0)
}

impl FromStr for Faults {
    type Err = FaultsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |problem: String| FaultsError { text: text.to_string(), problem };
        let mut faults = Faults::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) =
                part.split_once('=').ok_or_else(|| err(format!("{part:?} is not name=value")))?;
            match name {
                "drop" => {
                    faults.drop =
                        percent(value).ok_or_else(|| err(format!("drop={value}: not a percentage 0–100%")))?
                }
                "corrupt" => {
                    faults.corrupt = percent(value)
                        .ok_or_else(|| err(format!("corrupt={value}: not a percentage 0–100%")))?
                }
                "delay" => {
                    let ms = value
                        .strip_suffix("ms")
                        .and_then(|v| v.parse::<u64>().ok())
                        .ok_or_else(|| err(format!("delay={value}: not milliseconds like 5ms")))?;
                    faults.delay = Duration::from_millis(ms);
                }
                other => return Err(err(format!("unknown fault {other:?} (drop, corrupt, delay)"))),
            }
        }
        Ok(faults)
    }
}

/// Faults applied to frames, seeded.
#[derive(Debug)]
pub struct FaultyLine {
    /// What goes wrong.
    pub faults: Faults,
    rng: ChaCha8Rng,
    /// Frames dropped and bytes corrupted so far.
    pub dropped: u64,
    /// Bytes corrupted so far.
    pub corrupted: u64,
}

impl FaultyLine {
    /// A line with `faults`, its randomness from `seed`.
    pub fn new(faults: Faults, seed: u64) -> Self {
        FaultyLine { faults, rng: ChaCha8Rng::seed_from_u64(seed), dropped: 0, corrupted: 0 }
    }

    /// One frame through the line: `None` when lost.
    pub fn pass(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        if self.faults.drop > 0.0 && self.rng.random_bool(self.faults.drop.min(1.0)) {
            self.dropped += 1;
            return None;
        }
        let mut out = frame.to_vec();
        if self.faults.corrupt > 0.0 {
            for b in &mut out {
                if self.rng.random_bool(self.faults.corrupt.min(1.0)) {
                    *b ^= 1 << self.rng.random_range(0..8);
                    self.corrupted += 1;
                }
            }
        }
        Some(out)
    }
}

/// Splits a byte stream into wire frames (each ending with its `0x00`), keeping a partial
/// frame for the next call. A run longer than any frame (`MAX_WIRE`) without a delimiter is
/// handed out as it is, so a line that never sends `0x00` cannot grow the buffer.
#[derive(Debug, Default)]
pub struct FrameSplitter {
    partial: Vec<u8>,
}

impl FrameSplitter {
    /// The complete frames `bytes` finishes.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        for &b in bytes {
            self.partial.push(b);
            if b == 0 || self.partial.len() >= firmware_proto::frame::MAX_WIRE {
                frames.push(std::mem::take(&mut self.partial));
            }
        }
        frames
    }
}

/// The channel byte of a wire frame (COBS-decoded header byte 1), if it decodes.
pub fn channel_of(frame: &[u8]) -> Option<u8> {
    let body = frame.strip_suffix(&[0])?;
    let raw = cobs::decode_vec(body).ok()?;
    raw.get(1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_bad_ones_are_pointed_at() {
        let f: Faults = "drop=1%,corrupt=0.5%,delay=5ms".parse().expect("parses");
        assert_eq!(f, Faults { drop: 0.01, corrupt: 0.005, delay: Duration::from_millis(5) });
        assert_eq!("".parse::<Faults>(), Ok(Faults::default()));
        let e = "drop=2,corrupt=1%".parse::<Faults>().expect_err("no percent sign").to_string();
        assert!(e.contains("drop=2: not a percentage"), "{e}");
        assert!("jitter=5ms".parse::<Faults>().expect_err("unknown").to_string().contains("unknown fault"));
        assert!("delay=fast".parse::<Faults>().is_err());
    }

    #[test]
    fn frames_split_at_zero_and_faults_are_seeded() {
        let mut s = FrameSplitter::default();
        assert_eq!(s.push(&[1, 2, 0, 3]), vec![vec![1, 2, 0]]);
        assert_eq!(s.push(&[4, 0]), vec![vec![3, 4, 0]]);
        let mut a = FaultyLine::new(Faults { drop: 0.5, corrupt: 0.1, delay: Duration::ZERO }, 7);
        let mut b = FaultyLine::new(Faults { drop: 0.5, corrupt: 0.1, delay: Duration::ZERO }, 7);
        for i in 0..50u8 {
            assert_eq!(a.pass(&[i; 20]), b.pass(&[i; 20]));
        }
        assert!(a.dropped > 10 && a.corrupted > 10, "{} {}", a.dropped, a.corrupted);
    }
}
