//! Offsets from a scenario's start, written like `"90s"`, `"1h 30m"`, `"2d"` (jiff's friendly
//! duration format).

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A non-negative offset from the scenario's start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Offset(pub Duration);

impl Offset {
    /// Parses `"90s"`, `"1h 30m"`, `"250ms"`, `"2d"`.
    pub fn parse(s: &str) -> Result<Offset, String> {
        let d: jiff::SignedDuration =
            s.parse().map_err(|e| format!("{s:?} is not a duration like \"90s\" or \"1h 30m\": {e}"))?;
        if d.is_negative() {
            return Err(format!("{s:?} is negative"));
        }
        Ok(Offset(d.unsigned_abs()))
    }
}

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Offset::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_durations_parse() {
        assert_eq!(Offset::parse("90s"), Ok(Offset(Duration::from_secs(90))));
        assert_eq!(Offset::parse("1h 30m"), Ok(Offset(Duration::from_secs(5400))));
        assert_eq!(Offset::parse("250ms"), Ok(Offset(Duration::from_millis(250))));
        assert!(Offset::parse("soon").is_err());
        assert!(Offset::parse("-5s").is_err());
    }
}
