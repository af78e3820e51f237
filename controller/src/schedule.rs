//! Access schedules: weekly windows in local time of a named time zone, on top of a contract's
//! UTC range. Daylight-saving changes are handled by converting each instant to the zone's
//! civil time (jiff, with its bundled tz database so every machine agrees).

use jiff::Timestamp;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// One weekly window: on the given days, from `start` (inclusive) to `end` (exclusive), local
/// time. A window whose end is not after its start runs past midnight into the next day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyWindow {
    /// Days the window opens on, bit 0 = Monday … bit 6 = Sunday.
    pub days: u8,
    /// Opening time, local.
    pub start: Time,
    /// Closing time, local.
    pub end: Time,
}

impl WeeklyWindow {
    /// A window open on `days` (Monday first) between two local times.
    pub fn new(days: &[Weekday], start: Time, end: Time) -> Self {
        let days = days.iter().fold(0u8, |m, d| m | 1 << (d.to_monday_zero_offset()));
        WeeklyWindow { days, start, end }
    }

    fn open_on(&self, day: Weekday) -> bool {
        self.days & (1 << day.to_monday_zero_offset()) != 0
    }
}

/// When a contract may be used within its range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessSchedule {
    /// The zone the windows are in, by IANA name.
    #[serde(with = "jiff::fmt::serde::tz::required")]
    pub tz: TimeZone,
    /// The windows; the schedule allows an instant inside any of them.
    pub windows: Vec<WeeklyWindow>,
}

/// Why a schedule could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The time zone name is not in the tz database.
    #[error("unknown time zone {0:?}")]
    UnknownZone(String),
}

impl AccessSchedule {
    /// A schedule in the zone named `tz` (e.g. `Europe/Helsinki`).
    pub fn new(tz: &str, windows: Vec<WeeklyWindow>) -> Result<Self, ScheduleError> {
        let tz = TimeZone::get(tz).map_err(|_| ScheduleError::UnknownZone(tz.to_owned()))?;
        Ok(AccessSchedule { tz, windows })
    }

    /// Whether `t` falls inside a window, judged on the local wall clock at `t`.
    pub fn allows(&self, t: Timestamp) -> bool {
        let local = self.tz.to_datetime(t);
        let (day, time) = (local.weekday(), local.time());
        let yesterday = day.previous();
        self.windows.iter().any(|w| {
            if w.start < w.end {
                w.open_on(day) && w.start <= time && time < w.end
            } else {
                // Past midnight: the evening part today, the morning part from yesterday.
                (w.open_on(day) && time >= w.start) || (w.open_on(yesterday) && time < w.end)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::time;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("valid timestamp")
    }

    fn mornings() -> AccessSchedule {
        let weekdays =
            [Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday, Weekday::Thursday, Weekday::Friday];
        AccessSchedule::new(
            "Europe/Helsinki",
            vec![WeeklyWindow::new(&weekdays, time(6, 0, 0, 0), time(9, 0, 0, 0))],
        )
        .expect("zone exists")
    }

    #[test]
    fn window_follows_local_time_across_the_spring_change() {
        let s = mornings();
        // Helsinki is UTC+2 until Sunday 2026-03-29 03:00, then UTC+3.
        // Friday 27 March: 06:00 local = 04:00Z.
        assert!(!s.allows(at("2026-03-27T03:59:59Z")));
        assert!(s.allows(at("2026-03-27T04:00:00Z")));
        assert!(!s.allows(at("2026-03-27T07:00:00Z")));
        // Monday 30 March: 06:00 local = 03:00Z now.
        assert!(!s.allows(at("2026-03-30T02:59:59Z")));
        assert!(s.allows(at("2026-03-30T03:00:00Z")));
        assert!(s.allows(at("2026-03-30T05:59:59Z")));
        assert!(!s.allows(at("2026-03-30T06:00:00Z")));
    }

    #[test]
    fn window_follows_local_time_across_the_autumn_change() {
        let s = mornings();
        // UTC+3 until Sunday 2026-10-25 04:00 local, then UTC+2.
        assert!(s.allows(at("2026-10-23T03:00:00Z"))); // Fri 06:00 +03
        assert!(!s.allows(at("2026-10-26T03:00:00Z"))); // Mon 05:00 +02
        assert!(s.allows(at("2026-10-26T04:00:00Z"))); // Mon 06:00 +02
    }

    #[test]
    fn weekends_are_closed_and_overnight_windows_wrap() {
        assert!(!mornings().allows(at("2026-03-28T05:00:00Z"))); // Saturday 07:00
        let night = AccessSchedule::new(
            "UTC",
            vec![WeeklyWindow::new(&[Weekday::Friday], time(22, 0, 0, 0), time(2, 0, 0, 0))],
        )
        .expect("zone exists");
        assert!(night.allows(at("2026-03-27T23:00:00Z"))); // Fri 23:00
        assert!(night.allows(at("2026-03-28T01:59:00Z"))); // Sat 01:59, from Friday
        assert!(!night.allows(at("2026-03-28T02:00:00Z")));
        assert!(!night.allows(at("2026-03-28T23:00:00Z"))); // Sat evening
    }

    #[test]
    fn unknown_zone_is_an_error() {
        assert_eq!(
            AccessSchedule::new("Mars/Olympus", vec![]).err(),
            Some(ScheduleError::UnknownZone("Mars/Olympus".into()))
        );
    }
}
