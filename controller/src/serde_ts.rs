//! Timestamps in records as whole microseconds since the Unix epoch (compact and exact).

/// `Option<Timestamp>` as an optional `i64` of microseconds.
pub(crate) use jiff::fmt::serde::timestamp::microsecond::optional as us_opt;
/// `Timestamp` as an `i64` of microseconds.
pub(crate) use jiff::fmt::serde::timestamp::microsecond::required as us;
