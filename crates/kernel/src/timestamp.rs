//! UTC timestamps with a fixed-width text form that sorts chronologically.
//!
//! Stored as text in both databases (portable through `sqlx::Any`) and sent on the wire as
//! RFC 3339 with microseconds and `Z`, e.g. `2026-11-26T09:30:00.000000Z`.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// An instant in UTC, microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(OffsetDateTime);

const FIXED: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

impl Timestamp {
    pub fn now() -> Timestamp {
        Timestamp::from_datetime(OffsetDateTime::now_utc())
    }

    pub fn from_datetime(at: OffsetDateTime) -> Timestamp {
        let utc = at.to_offset(UtcOffset::UTC);
        // Truncate to microseconds so the text form round-trips exactly.
        let micros = utc.microsecond();
        Timestamp(utc.replace_microsecond(micros).unwrap_or(utc))
    }

    pub fn from_unix_ms(ms: i64) -> Timestamp {
        let at = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Timestamp(at)
    }

    /// Parses any RFC 3339 timestamp and normalises it to UTC.
    pub fn parse(text: &str) -> Result<Timestamp, String> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Timestamp::from_datetime)
            .map_err(|e| format!("`{text}` is not an RFC 3339 timestamp: {e}"))
    }

    pub fn datetime(&self) -> OffsetDateTime {
        self.0
    }

    pub fn unix_ms(&self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// The fixed-width text stored in the database and sent on the wire.
    pub fn to_text(&self) -> String {
        self.0.format(FIXED).unwrap_or_default()
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl TryFrom<String> for Timestamp {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Timestamp::parse(&value)
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> String {
        t.to_text()
    }
}

impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_sorts() {
        let a = Timestamp::parse("2026-11-26T10:00:00+01:00").unwrap();
        assert_eq!(a.to_text(), "2026-11-26T09:00:00.000000Z");
        assert_eq!(Timestamp::parse(&a.to_text()).unwrap(), a);
        let b = Timestamp::parse("2026-11-26T09:00:00.5Z").unwrap();
        assert!(a < b && a.to_text() < b.to_text());
        assert!(Timestamp::parse("yesterday").is_err());
    }

    #[test]
    fn unix_ms_round_trips() {
        let t = Timestamp::from_unix_ms(1_764_150_000_123);
        assert_eq!(t.unix_ms(), 1_764_150_000_123);
    }
}
