//! The trapezoidal velocity profile a `MotorMove` commands, in closed form.
//!
//! Both ends use it: the board to know when a move must be over, the plant to compute where
//! the carousel is at any instant and when it will reach a sensor edge, without stepping.
//! From rest, accelerate at `a` up to `v` (or less, for a short move), cruise, decelerate at
//! `a` to rest exactly at the target.

use core::time::Duration;

/// A move of `distance` counts with cruise speed `max_velocity` (counts/s) and acceleration
/// `acceleration` (counts/s²), starting and ending at rest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trapezoid {
    distance: f64,
    v_peak: f64,
    accel: f64,
    t_ramp: f64,
    t_cruise: f64,
}

impl Trapezoid {
    /// The profile for a move of `distance` counts (negative: backwards). A zero speed or
    /// acceleration is taken as 1, so a profile always ends.
    pub fn new(distance: i64, max_velocity: u32, acceleration: u32) -> Self {
        let d = (distance as f64).abs();
        let v = f64::from(max_velocity.max(1));
        let a = f64::from(acceleration.max(1));
        let ramp_distance = v * v / a; // both ramps together at full speed
        let (v_peak, t_cruise) =
            if d >= ramp_distance { (v, (d - ramp_distance) / v) } else { (libm::sqrt(a * d), 0.0) };
        Trapezoid { distance: distance as f64, v_peak, accel: a, t_ramp: v_peak / a, t_cruise }
    }

    /// Total time of the move, in seconds.
    pub fn seconds(&self) -> f64 {
        2.0 * self.t_ramp + self.t_cruise
    }

    /// Total time of the move, rounded up to a microsecond.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(libm::ceil(self.seconds() * 1e6) as u64)
    }

    /// Counts travelled (signed) `t` seconds after the start; the full distance after the end.
    pub fn travelled(&self, t: f64) -> f64 {
        let sign = if self.distance < 0.0 { -1.0 } else { 1.0 };
        let (a, tr, tc) = (self.accel, self.t_ramp, self.t_cruise);
        let abs = if t <= 0.0 {
            0.0
        } else if t < tr {
            0.5 * a * t * t
        } else if t < tr + tc {
            0.5 * a * tr * tr + self.v_peak * (t - tr)
        } else if t < 2.0 * tr + tc {
            let left = 2.0 * tr + tc - t;
            self.distance.abs() - 0.5 * a * left * left
        } else {
            self.distance.abs()
        };
        sign * abs
    }

    /// Seconds after the start at which `|travelled|` first reaches `counts` (0 ≤ counts ≤
    /// |distance|); `None` beyond the distance.
    pub fn time_to(&self, counts: f64) -> Option<f64> {
        let d = self.distance.abs();
        if counts < 0.0 || counts > d {
            return None;
        }
        let (a, tr, tc) = (self.accel, self.t_ramp, self.t_cruise);
        let ramp = 0.5 * a * tr * tr;
        Some(if counts <= ramp {
            libm::sqrt(2.0 * counts / a)
        } else if counts <= d - ramp {
            tr + (counts - ramp) / self.v_peak
        } else {
            2.0 * tr + tc - libm::sqrt(2.0 * (d - counts) / a)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_move_cruises() {
        // 1000 counts at 500 c/s, 1000 c/s²: ramps 0.5 s and 250 counts in all, cruise 1.5 s.
        let p = Trapezoid::new(1000, 500, 1000);
        assert!((p.seconds() - 2.5).abs() < 1e-9);
        assert!((p.travelled(0.5) - 125.0).abs() < 1e-9);
        assert!((p.travelled(2.5) - 1000.0).abs() < 1e-9);
        assert!((p.time_to(125.0).expect("reachable") - 0.5).abs() < 1e-9);
    }

    #[test]
    fn short_move_is_a_triangle_and_backwards_is_negative() {
        let p = Trapezoid::new(-100, 10_000, 1000);
        assert!((p.seconds() - 2.0 * (0.1f64).sqrt() * 1.0).abs() < 1e-9);
        assert!((p.travelled(10.0) + 100.0).abs() < 1e-9);
        assert_eq!(p.time_to(101.0), None);
    }

    #[test]
    fn time_to_inverts_travelled() {
        let p = Trapezoid::new(6000, 2000, 4000);
        for c in [0.0, 1.0, 499.0, 500.0, 3000.0, 5500.0, 5999.0, 6000.0] {
            let t = p.time_to(c).expect("reachable");
            assert!((p.travelled(t) - c).abs() < 1e-6, "{c}");
        }
    }
}
