//! Offsets from a scenario's start, written like `"90s"`, `"1h 30m"`, `"2d"` (jiff's friendly
//! duration format).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative offset from the scenario's start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Offset(pub Duration);

impl Offset {
    /// Parses `"90s"`, `"1h 30m"`, `"250ms"`, `"2d"` (a day is 24 hours: offsets are simulated
    /// time, not the calendar's; weeks work too, months and years do not).
    pub fn parse(s: &str) -> Result<Offset, String> {
        let d: jiff::SignedDuration = match s.parse() {
            Ok(d) => d,
            Err(_) => s
                .parse::<jiff::Span>()
                .and_then(|span| span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()))
                .map_err(|e| format!("{s:?} is not a duration like \"90s\", \"1h 30m\" or \"2d\": {e}"))?,
        };
        if d.is_negative() {
            return Err(format!("{s:?} is negative"));
        }
        Ok(Offset(d.unsigned_abs()))
    }
}

impl std::fmt::Display for Offset {
    /// The friendly form `parse` reads: `"1h 30m 2s 500ms"`, `"0s"`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.as_millis();
        let parts =
            [(ms / 3_600_000, "h"), (ms / 60_000 % 60, "m"), (ms / 1000 % 60, "s"), (ms % 1000, "ms")];
        let text: Vec<String> =
            parts.iter().filter(|(n, _)| *n > 0).map(|(n, unit)| format!("{n}{unit}")).collect();
        if text.is_empty() { f.write_str("0s") } else { f.write_str(&text.join(" ")) }
    }
}

impl Serialize for Offset {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
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
        assert_eq!(Offset::parse("2d"), Ok(Offset(Duration::from_secs(2 * 86_400))));
        assert_eq!(Offset::parse("1w 1d 2h"), Ok(Offset(Duration::from_secs(8 * 86_400 + 7200))));
        assert!(Offset::parse("1mo").is_err(), "a month has no fixed length");
        assert!(Offset::parse("soon").is_err());
        assert!(Offset::parse("-5s").is_err());
        for text in ["0s", "250ms", "1h 30m", "26h 2s 5ms"] {
            assert_eq!(Offset::parse(text).map(|o| o.to_string()).as_deref(), Ok(text));
        }
    }
}
