//! What a run counts and watches besides the story: the link counters of its outcome, and its
//! wall-clock limit.

use firmware_proto::Instant;

use super::{Run, fmt_time};

/// What one automat's four lines carried, and the controller's end of its host link.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkCounts {
    /// Bytes written on the four lines.
    pub bytes: u64,
    /// Frames written on them.
    pub frames: u64,
    /// Bytes the lines corrupted.
    pub corrupted_bytes: u64,
    /// Frames the lines lost.
    pub lost_frames: u64,
    /// Frames the controller sent to the board.
    pub host_sent: u64,
    /// Of those, data frames sent again after a timeout.
    pub host_retransmits: u64,
    /// Frames the controller received intact.
    pub host_received: u64,
    /// Frames the controller dropped as damaged (COBS, length or CRC).
    pub host_corrupt_dropped: u64,
}

impl Run {
    pub(super) fn link_counts(&self, i: usize) -> LinkCounts {
        let lines = self.electronics.line_stats(i);
        let (host, decoder) = self.electronics.host_link_stats(i).unwrap_or_default();
        LinkCounts {
            bytes: lines.iter().map(|s| s.bytes).sum(),
            frames: lines.iter().map(|s| s.frames).sum(),
            corrupted_bytes: lines.iter().map(|s| s.corrupted).sum(),
            lost_frames: lines.iter().map(|s| s.lost).sum(),
            host_sent: host.frames_sent,
            host_retransmits: host.retransmits,
            host_received: host.frames_received,
            host_corrupt_dropped: decoder.corrupt(),
        }
    }
}

/// The wall-clock limit of a run, and the test-only hang.
#[derive(Debug)]
pub(super) struct Watchdog {
    pub(super) started: std::time::Instant,
    pub(super) deadline: Option<std::time::Instant>,
    pub(super) hang: bool,
}

impl Watchdog {
    /// Whether the run is stuck on purpose (the test hook) at `now`.
    /// The failure of a run past its deadline at `now`, if it is.
    pub(super) fn expired(&self, now: Instant) -> Option<String> {
        let late = self.deadline.is_some_and(|d| std::time::Instant::now() >= d);
        late.then(|| {
            let waited = self.started.elapsed().as_secs_f64();
            format!(
                "{}: timed out: still running after {waited:.1} s of wall time (--timeout); the trace ends here",
                fmt_time(now)
            )
        })
    }

    pub(super) fn stuck(&self, now: Instant) -> bool {
        self.hang && now.as_micros() >= 60_000_000
    }
}
