//! The deadline of a lockstep wait and the verdict when it passes: what the harness saw of the
//! board while it waited. The deadline is wall-clock time since the board last acknowledged a
//! tick; bytes on the line (garbage, a flood, frames that are not the answer) never postpone it.

use std::fmt::Write as _;

use firmware_proto::decoder::DecoderStats;

use super::station::Station;

/// What had arrived from one board by some moment: counters that only grow (but for a power
/// cut, which starts the links anew: differences saturate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Seen {
    /// Bytes read from the line (what the box handed up, valid or not).
    bytes: u64,
    /// Valid frames of the host and the plant link.
    host_frames: u64,
    plant_frames: u64,
    /// Frames dropped by the two decoders, by reason.
    dropped: DecoderStats,
    /// Messages delivered on the plant link (answers to ticks among them).
    plant_messages: u64,
    /// Duplicates and frames too far ahead, on the plant link: the board resends, or skips.
    plant_duplicates: u64,
    plant_out_of_window: u64,
    /// Clock acknowledgements.
    acks: u64,
}

fn add(a: DecoderStats, b: DecoderStats) -> DecoderStats {
    DecoderStats {
        frames: a.frames + b.frames,
        cobs: a.cobs + b.cobs,
        too_short: a.too_short + b.too_short,
        too_long: a.too_long + b.too_long,
        crc: a.crc + b.crc,
        version: a.version + b.version,
        channel: a.channel + b.channel,
        bytes_dropped: a.bytes_dropped + b.bytes_dropped,
    }
}

fn sub(a: DecoderStats, b: DecoderStats) -> DecoderStats {
    DecoderStats {
        frames: a.frames.saturating_sub(b.frames),
        cobs: a.cobs.saturating_sub(b.cobs),
        too_short: a.too_short.saturating_sub(b.too_short),
        too_long: a.too_long.saturating_sub(b.too_long),
        crc: a.crc.saturating_sub(b.crc),
        version: a.version.saturating_sub(b.version),
        channel: a.channel.saturating_sub(b.channel),
        bytes_dropped: a.bytes_dropped.saturating_sub(b.bytes_dropped),
    }
}

impl Seen {
    pub(super) fn of(s: &Station) -> Seen {
        let [_, host_up, plant_up, _] = s.board.line_stats();
        let (host, plant) = (s.ctl_host.stats(), s.plant_end.stats());
        Seen {
            bytes: host_up.bytes + plant_up.bytes,
            host_frames: host.frames_received,
            plant_frames: plant.frames_received,
            dropped: add(s.ctl_host.decoder_stats(), s.plant_end.decoder_stats()),
            plant_messages: plant.delivered,
            plant_duplicates: plant.duplicates,
            plant_out_of_window: plant.out_of_window,
            acks: s.lock.acks,
        }
    }

    /// What arrived between `before` and `self`, said for the verdict.
    pub(super) fn since(&self, before: &Seen) -> String {
        let bytes = self.bytes.saturating_sub(before.bytes);
        let host = self.host_frames.saturating_sub(before.host_frames);
        let plant = self.plant_frames.saturating_sub(before.plant_frames);
        let dropped = sub(self.dropped, before.dropped);
        if bytes == 0 {
            return "nothing arrived from the board meanwhile".into();
        }
        let mut said = format!("{bytes} bytes arrived meanwhile");
        if host + plant == 0 {
            said.push_str(", none of them a valid frame");
        } else {
            let _ = write!(said, ", {host} valid host and {plant} valid plant frames among them");
        }
        if dropped.dropped() > 0 {
            let reasons = [
                (dropped.crc, "bad CRC"),
                (dropped.cobs, "bad COBS"),
                (dropped.too_short, "too short"),
                (dropped.too_long, "too long"),
                (dropped.version, "another protocol version"),
                (dropped.channel, "an unknown channel"),
            ];
            let why: Vec<String> =
                reasons.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
            let _ = write!(said, " ({} frames dropped: {})", dropped.dropped(), why.join(", "));
        }
        let messages = self.plant_messages.saturating_sub(before.plant_messages);
        let repeats = self.plant_duplicates.saturating_sub(before.plant_duplicates)
            + self.plant_out_of_window.saturating_sub(before.plant_out_of_window);
        if plant > 0 && messages == 0 && repeats > 0 {
            let _ = write!(
                said,
                "; plant frames arrive but none is the next in order ({repeats} repeated or ahead of a gap): \
                 the board did not resend the missing ones"
            );
        } else if self.acks == before.acks && plant + host > 0 {
            said.push_str("; none of them answers the clock");
        }
        said
    }
}

/// One lockstep wait: since when (wall clock) no board acknowledged a tick, and what each
/// board had sent by then.
#[derive(Debug)]
pub(super) struct Stall {
    pub(super) since: std::time::Instant,
    /// The boards' acknowledgements in all, then.
    pub(super) acks: u64,
    pub(super) seen: Vec<Seen>,
}

impl Stall {
    pub(super) fn new(stations: &[Station], acks: u64) -> Self {
        Stall { since: std::time::Instant::now(), acks, seen: stations.iter().map(Seen::of).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_says_what_arrived() {
        let before = Seen::default();
        assert_eq!(before.since(&before), "nothing arrived from the board meanwhile");
        let garbage = Seen {
            bytes: 4096,
            dropped: DecoderStats { crc: 30, cobs: 2, ..DecoderStats::default() },
            ..Seen::default()
        };
        assert_eq!(
            garbage.since(&before),
            "4096 bytes arrived meanwhile, none of them a valid frame (32 frames dropped: 30 bad CRC, 2 bad COBS)"
        );
        let stuck = Seen { bytes: 300, plant_frames: 6, plant_duplicates: 6, ..Seen::default() };
        assert!(
            stuck.since(&before).ends_with("the board did not resend the missing ones"),
            "{}",
            stuck.since(&before)
        );
        let chatty = Seen { bytes: 80, host_frames: 3, ..Seen::default() };
        assert!(chatty.since(&before).ends_with("none of them answers the clock"));
    }
}
