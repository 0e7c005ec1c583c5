//! Durations as operators write them (`"15m"`, `"1h 30m"`), and the limits policy puts on them.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::error::{Error, Result};

/// The longest `max_ttl` a role may have: 7 days. Certificates are meant to be short-lived.
pub const MAX_TTL_LIMIT: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The largest `backdate` (clock-skew allowance) a role may have: 5 minutes.
pub const MAX_BACKDATE: Duration = Duration::from_secs(5 * 60);

/// Read a duration written the humantime way: `"30s"`, `"15m"`, `"1h 30m"`, `"2days"`.
///
/// The result must be a whole number of seconds (certificates count in seconds). Zero is
/// accepted here; callers that need a positive duration check for it.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(jit_policy::parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
/// assert!(jit_policy::parse_duration("15").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration> {
    let invalid = |problem: String| Error::InvalidDuration {
        value: text.to_owned(),
        problem,
    };
    let parsed = humantime::parse_duration(text).map_err(|e| {
        invalid(format!(
            "{e}; write a number with a unit, for example \"30s\", \"15m\" or \"1h 30m\""
        ))
    })?;
    if parsed.subsec_nanos() != 0 {
        return Err(invalid(
            "it is not a whole number of seconds; certificates count in seconds".to_owned(),
        ));
    }
    Ok(parsed)
}

/// Write a duration the way [`parse_duration`] reads it, e.g. `"1h 30m"`.
pub fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// The raw text of a duration field, so a TOML integer gets a message that says what to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DurationText(pub(crate) String);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct TextVisitor;

        impl Visitor<'_> for TextVisitor {
            type Value = DurationText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration in quotes with a unit, such as \"15m\" or \"1h 30m\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<DurationText, E> {
                Ok(DurationText(v.to_owned()))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_operator_durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("7days").unwrap(), MAX_TTL_LIMIT);
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in ["", "15", "15 parsecs", "0.5s", "-5m", "500ms", "m", "1h30"] {
            let err = parse_duration(bad).unwrap_err().to_string();
            assert!(err.starts_with("duration"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for secs in [1, 59, 60, 900, 5400, 86_400, 7 * 86_400] {
            let d = Duration::from_secs(secs);
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
        assert_eq!(format_duration(Duration::from_secs(900)), "15m");
    }
}
