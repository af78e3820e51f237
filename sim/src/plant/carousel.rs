//! The carousel drive: a stepper with a trapezoidal profile, an encoder on the rotor and a home
//! sensor, with stall, lost-step and encoder-noise faults. Motion is analytic: where the rotor
//! is at any instant, and when it crosses a sensor edge, are computed, never stepped to.

use std::time::Duration;

use firmware_proto::Instant;
use firmware_proto::motion::Trapezoid;

/// A stall of the mechanism: the rotor does not move from `from` until `until` (`None`: until
/// cleared), whatever the driver commands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stall {
    /// When it starts.
    pub from: Instant,
    /// When it ends.
    pub until: Option<Instant>,
}

#[derive(Clone, Debug)]
struct Move {
    start: Instant,
    /// Rotor position at the start, counts.
    from: f64,
    profile: Trapezoid,
    /// +1 forward, −1 backward.
    dir: f64,
    /// Steps this move loses (lost-step fault), counts.
    lost: f64,
}

/// Something the carousel reports, at a time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CarouselEvent {
    /// The home sensor changed; the encoder reading at the edge.
    Home {
        /// Now active.
        active: bool,
        /// Encoder counts.
        encoder: i32,
    },
    /// The commanded profile ended (or a stop took effect); the carousel is at rest.
    Rest {
        /// Encoder counts.
        encoder: i32,
    },
}

/// The carousel. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Carousel {
    /// Slots.
    pub slots: u8,
    /// Encoder counts from one slot to the next.
    pub counts_per_slot: u32,
    /// Width of the home sensor's active arc, counts, from slot 0's position forward.
    pub home_width: u32,
    /// Rotor position at rest, counts (absolute; slot 0 at the window at multiples of a rev).
    rest: f64,
    moving: Option<Move>,
    stall: Option<Stall>,
    /// Counts the next move will lose.
    pending_lost: f64,
    /// Encoder noise amplitude, counts (each reading is off by up to this much).
    pub noise: u32,
    /// Bumped whenever the motion changes (a move starts or stops, a jam comes or goes).
    revision: u64,
}

impl Carousel {
    /// A carousel at rest with `position` counts on the encoder.
    pub fn new(slots: u8, counts_per_slot: u32, position: f64) -> Self {
        Carousel {
            slots,
            counts_per_slot,
            home_width: counts_per_slot / 10,
            rest: position,
            moving: None,
            stall: None,
            pending_lost: 0.0,
            noise: 0,
            revision: 0,
        }
    }

    fn rev(&self) -> f64 {
        f64::from(self.slots) * f64::from(self.counts_per_slot)
    }

    /// Whether a profile is running.
    pub fn is_moving(&self) -> bool {
        self.moving.is_some()
    }

    /// The stall in force, if any.
    pub fn stall(&self) -> Option<Stall> {
        self.stall
    }

    /// Counts the rotor missed up to `t` seconds into the move because of the stall.
    fn missed(&self, m: &Move, t: f64) -> f64 {
        let Some(stall) = self.stall else { return 0.0 };
        let s0 = secs(stall.from, m.start).max(0.0);
        let s1 = stall.until.map_or(f64::INFINITY, |u| secs(u, m.start));
        if t <= s0 || s1 <= s0 {
            return 0.0;
        }
        let end = t.min(s1);
        m.profile.travelled(end).abs() - m.profile.travelled(s0).abs()
    }

    /// Rotor travel (absolute counts) `t` seconds into the move.
    fn travel(&self, m: &Move, t: f64) -> f64 {
        let commanded = m.profile.travelled(t).abs();
        let total = m.profile.travelled(f64::INFINITY).abs();
        let lost = if total > 0.0 { m.lost * (commanded / total) } else { 0.0 };
        (commanded - self.missed(m, t) - lost).max(0.0)
    }

    /// Rotor position at `now`, counts.
    pub fn position(&self, now: Instant) -> f64 {
        match &self.moving {
            None => self.rest,
            Some(m) => m.from + m.dir * self.travel(m, secs(now, m.start)),
        }
    }

    /// The encoder's reading at `now` (noise applied by `jitter` in −noise..=noise).
    pub fn encoder(&self, now: Instant, jitter: i32) -> i32 {
        let j = jitter.clamp(-(self.noise as i32), self.noise as i32);
        self.position(now).round() as i32 + j
    }

    /// The slot whose hook is at the window, when the rotor is within a quarter slot of it.
    pub fn window_slot(&self, now: Instant) -> Option<u8> {
        let p = self.position(now);
        let cps = f64::from(self.counts_per_slot);
        let nearest = (p / cps).round();
        ((p - nearest * cps).abs() <= cps / 4.0)
            .then(|| (nearest as i64).rem_euclid(i64::from(self.slots)) as u8)
    }

    /// Whether the home sensor sees its flag at `now`.
    pub fn home_active(&self, now: Instant) -> bool {
        self.position(now).floor().rem_euclid(self.rev()) < f64::from(self.home_width)
    }

    /// Starts a move to encoder `target` at `now`. Ignored while moving (the driver only takes
    /// moves at rest). Returns whether it started.
    pub fn start_move(&mut self, now: Instant, target: i32, max_velocity: u32, acceleration: u32) -> bool {
        if self.moving.is_some() {
            return false;
        }
        let from = self.rest;
        let distance = i64::from(target) - from.round() as i64;
        let profile = Trapezoid::new(distance, max_velocity, acceleration);
        let lost = std::mem::take(&mut self.pending_lost).min(distance.unsigned_abs() as f64);
        let dir = if distance < 0 { -1.0 } else { 1.0 };
        self.moving = Some(Move { start: now, from, profile, dir, lost });
        self.revision += 1;
        true
    }

    /// When the running profile ends.
    pub fn move_end(&self) -> Option<Instant> {
        self.moving.as_ref().map(|m| m.start + m.profile.duration())
    }

    /// Stops stepping at `now`; the rotor rests where it is. Returns whether it was moving.
    pub fn stop(&mut self, now: Instant) -> bool {
        if self.moving.is_none() {
            return false;
        }
        self.rest = self.position(now).round();
        self.moving = None;
        self.revision += 1;
        true
    }

    /// Ends a finished profile: the rotor rests where it got to.
    pub fn finish(&mut self, now: Instant) {
        self.stop(now);
    }

    /// Jams the mechanism from `now` for `duration` (`None`: until [`Carousel::clear_stall`]).
    pub fn jam(&mut self, now: Instant, duration: Option<Duration>) {
        self.stall = Some(Stall { from: now, until: duration.map(|d| now + d) });
        self.revision += 1;
    }

    /// Frees a jam at `now`.
    pub fn clear_stall(&mut self, now: Instant) {
        if let Some(s) = &mut self.stall
            && s.until.is_none_or(|u| u > now)
        {
            s.until = Some(now);
            self.revision += 1;
        }
    }

    /// Changes whenever the motion does: a path from [`Carousel::path`] holds until then.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Where the rotor goes from `now` until the running move ends: positions in slots every
    /// `every`, and the end; one point at rest. Exact as long as the motion does not change.
    pub fn path(&self, now: Instant, every: Duration) -> Vec<(Instant, f64)> {
        let slots = |t| self.position(t) / f64::from(self.counts_per_slot);
        let mut path = vec![(now, slots(now))];
        if let Some(end) = self.move_end() {
            let mut t = now + every;
            while t < end {
                path.push((t, slots(t)));
                t += every;
            }
            path.push((end, slots(end)));
        }
        path
    }

    /// Makes the next move lose `counts` steps.
    pub fn lose_steps(&mut self, counts: u32) {
        self.pending_lost += f64::from(counts);
    }

    /// The next home-sensor edge strictly after `after` and no later than the move's end.
    pub fn next_home_edge(&self, after: Instant) -> Option<(Instant, bool)> {
        let m = self.moving.as_ref()?;
        let end_t = m.profile.seconds();
        let t0 = secs(after, m.start).max(0.0);
        let p_now = self.travel(m, t0);
        let p_end = self.travel(m, end_t);
        if p_end <= p_now {
            return None;
        }
        // Edges in rotor space: rising at k·rev (moving forward) or at k·rev + width (backward),
        // falling at the other boundary.
        let rev = self.rev();
        let w = f64::from(self.home_width);
        let mut best: Option<f64> = None;
        for boundary in [0.0, w] {
            // Positions p = m.from + dir · d where p ≡ boundary (mod rev), d in (p_now, p_end].
            let d_first = if m.dir > 0.0 {
                let k = ((m.from + p_now - boundary) / rev).floor() + 1.0;
                k * rev + boundary - m.from
            } else {
                let k = ((m.from - p_now - boundary) / rev).ceil() - 1.0;
                m.from - (k * rev + boundary)
            };
            let mut d = d_first;
            // An edge at (or within rounding of) the current position is behind us.
            if d <= p_now + 0.01 {
                d += rev;
            }
            if d <= p_end && best.is_none_or(|b| d < b) {
                best = Some(d);
            }
        }
        let d = best?;
        let t = self.time_of_travel(m, d)?;
        // Round up to the microsecond, so that at `at` the rotor has passed the edge.
        let at = m.start + Duration::from_micros((t.max(0.0) * 1e6).ceil() as u64);
        let after_edge = m.from + m.dir * (d + 0.5);
        let active = after_edge.floor().rem_euclid(rev) < w;
        Some((at.max(after), active))
    }

    /// Seconds into the move at which the rotor has travelled `d` counts.
    fn time_of_travel(&self, m: &Move, d: f64) -> Option<f64> {
        // Bisection over the monotonic rotor travel: exact enough (1 µs) and robust to stalls.
        let (mut lo, mut hi) = (0.0f64, m.profile.seconds());
        if self.travel(m, hi) < d {
            return None;
        }
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if self.travel(m, mid) >= d {
                hi = mid;
            } else {
                lo = mid;
            }
            if hi - lo < 1e-7 {
                break;
            }
        }
        Some(hi)
    }
}

fn secs(t: Instant, since: Instant) -> f64 {
    (t.as_micros() as f64 - since.as_micros() as f64) / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn a_move_ends_on_target_and_crosses_home_once_per_revolution() {
        let mut c = Carousel::new(30, 200, 5_000.0);
        assert!(c.start_move(at(0), 7_000, 2_000, 4_000));
        let end = c.move_end().expect("moving");
        let (t, active) = c.next_home_edge(at(0)).expect("crosses 6000");
        assert!(active);
        assert!((c.position(t) - 6_000.0).abs() < 0.5, "edge at {}", c.position(t));
        let (t2, active2) = c.next_home_edge(t).expect("leaves the flag");
        assert!(!active2);
        assert!((c.position(t2) - 6_020.0).abs() < 0.5);
        assert_eq!(c.next_home_edge(t2), None);
        c.finish(end);
        assert_eq!(c.position(end), 7_000.0);
        assert_eq!(c.window_slot(end), Some(5));
    }

    #[test]
    fn backwards_moves_cross_the_flag_from_above() {
        let mut c = Carousel::new(30, 200, 6_500.0);
        c.start_move(at(0), 5_500, 2_000, 4_000);
        let (t, active) = c.next_home_edge(at(0)).expect("enters the flag");
        assert!(active);
        assert!((c.position(t) - 6_020.0).abs() < 0.5, "{}", c.position(t));
    }

    #[test]
    fn a_timed_stall_freezes_the_rotor_then_it_follows_with_an_offset() {
        let mut c = Carousel::new(30, 200, 0.0);
        c.start_move(at(0), 2_000, 2_000, 4_000);
        c.jam(at(300), Some(Duration::from_millis(400)));
        let p_stall = c.position(at(300));
        assert_eq!(c.position(at(600)), p_stall);
        let end = c.move_end().expect("moving");
        c.finish(end);
        assert!(c.position(end) < 2_000.0 - 100.0, "missed steps: {}", c.position(end));
    }

    #[test]
    fn lost_steps_fall_short_by_that_many_counts() {
        let mut c = Carousel::new(30, 200, 0.0);
        c.lose_steps(30);
        c.start_move(at(0), 1_000, 2_000, 4_000);
        let end = c.move_end().expect("moving");
        c.finish(end);
        assert!((c.position(end) - 970.0).abs() < 0.5);
    }
}
