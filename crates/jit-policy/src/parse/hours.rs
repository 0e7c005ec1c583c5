//! `[business_hours]`: day names, `HH:MM-HH:MM` and an IANA time zone, each checked at its line.

use std::ops::Range;

use jiff::tz::TimeZoneDatabase;
use serde::Deserialize;
use toml::de::DeValue;
use toml::Spanned;

use super::check::{did_you_mean, Checker};
use super::{deserialize, SpannedList};
use crate::error::shown;
use crate::hours::{BusinessHours, DAY_NAMES};

const TABLE: &str = "[business_hours]";
const KEYS: &[&str] = &["days", "hours", "time_zone"];
/// `days` when the table leaves it out.
const WEEKDAYS: [bool; 7] = [true, true, true, true, true, false, false];

/// `[business_hours]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBusinessHours {
    days: Option<SpannedList>,
    hours: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
}

/// Check `[business_hours]` (its key at `key_span`); `None` when anything is wrong (reported).
pub(super) fn business_hours(
    c: &mut Checker<'_>,
    key_span: Range<usize>,
    value: Spanned<DeValue<'_>>,
) -> Option<BusinessHours> {
    let raw: RawBusinessHours = deserialize(c, TABLE, KEYS, value)?;
    let before = c.count();

    let days = match raw.days {
        None => Some(WEEKDAYS),
        Some(list) if list.get_ref().is_empty() => {
            c.error(
                list.span(),
                format!("{TABLE}: days is empty; list days such as \"mon\", \"tue\", or remove the key for mon-fri"),
            );
            None
        }
        Some(list) => c.list(TABLE, "day", list, check_day).map(|names| {
            let mut days = [false; 7];
            for (i, day) in DAY_NAMES.iter().enumerate() {
                days[i] = names.iter().any(|n| n == day);
            }
            days
        }),
    };

    let hours = match raw.hours {
        None => {
            c.error(
                key_span.clone(),
                format!(
                    "{TABLE} has no `hours`; add hours = \"09:00-18:00\" (local time in time_zone)"
                ),
            );
            None
        }
        Some(text) => match parse_hours(text.get_ref()) {
            Ok(range) => Some(range),
            Err(problem) => {
                c.error(text.span(), format!("{TABLE}: {problem}"));
                None
            }
        },
    };

    let zone = match raw.time_zone {
        None => {
            c.error(
                key_span,
                format!("{TABLE} has no `time_zone`; add time_zone = \"Europe/Berlin\" or another IANA time zone name"),
            );
            None
        }
        Some(name) => {
            // The bundled database only: the answer must not depend on the machine's files.
            let db = TimeZoneDatabase::bundled();
            match db.get(name.get_ref()) {
                Ok(zone) => Some(zone),
                Err(_) => {
                    let known: Vec<String> = db.available().map(|n| n.to_string()).collect();
                    let known: Vec<&str> = known.iter().map(String::as_str).collect();
                    c.error(
                        name.span(),
                        format!(
                            "{TABLE}: time_zone {} is not a known IANA time zone{}; write a name such as \"Europe/Berlin\", \"America/New_York\" or \"UTC\"",
                            shown(name.get_ref()),
                            did_you_mean(name.get_ref(), &known)
                        ),
                    );
                    None
                }
            }
        }
    };

    if c.count() != before {
        return None;
    }
    let (start, end) = hours?;
    Some(BusinessHours::new(days?, start, end, zone?))
}

fn check_day(s: &str) -> std::result::Result<(), String> {
    if DAY_NAMES.contains(&s) {
        Ok(())
    } else {
        Err(format!(
            "unknown day {}{} (write days as {})",
            shown(s),
            did_you_mean(s, &DAY_NAMES),
            DAY_NAMES.join(", ")
        ))
    }
}

/// `"09:00-18:00"` as minutes after midnight, start before end (`24:00` ends the day).
fn parse_hours(text: &str) -> std::result::Result<(u16, u16), String> {
    let written = || {
        format!(
            "hours {} must be written HH:MM-HH:MM, for example \"09:00-18:00\"",
            shown(text)
        )
    };
    let (start, end) = text.split_once('-').ok_or_else(written)?;
    let start = time_of_day(start).ok_or_else(written)??;
    let end = time_of_day(end).ok_or_else(written)??;
    if start >= end {
        return Err(format!(
            "hours {}: the start must be before the end (business hours cannot cross midnight)",
            shown(text)
        ));
    }
    Ok((start, end))
}

/// `HH:MM`: `None` when not in that form, an error when it is but is no time of day.
fn time_of_day(text: &str) -> Option<std::result::Result<u16, String>> {
    let bytes = text.as_bytes();
    let digits = |r: Range<usize>| {
        bytes[r.clone()]
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| text[r].parse::<u16>().ok())
            .flatten()
    };
    if bytes.len() != 5 || bytes[2] != b':' {
        return None;
    }
    let (hour, minute) = (digits(0..2)?, digits(3..5)?);
    if hour > 24 || minute > 59 || (hour == 24 && minute > 0) {
        return Some(Err(format!(
            "hours: {text} is not a time of day; write 00:00 to 23:59, or 24:00 for the end of the day"
        )));
    }
    Some(Ok(hour * 60 + minute))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_read() {
        assert_eq!(parse_hours("09:00-18:00"), Ok((540, 1080)));
        assert_eq!(parse_hours("00:00-24:00"), Ok((0, 1440)));
        assert_eq!(parse_hours("08:30-08:31"), Ok((510, 511)));
        for bad in [
            "9:00-18:00",
            "09:00",
            "09:00-18:00-19:00",
            "09-18",
            " 09:00-18:00",
            "09:00 - 18:00",
            "0a:00-18:00",
            "+9:00-18:00",
            "",
        ] {
            let e = parse_hours(bad).expect_err(bad);
            assert!(e.contains("must be written HH:MM-HH:MM"), "{bad:?}: {e}");
        }
        for (bad, needle) in [
            ("18:00-09:00", "start must be before the end"),
            ("09:00-09:00", "start must be before the end"),
            ("09:00-24:01", "24:01 is not a time of day"),
            ("09:60-18:00", "09:60 is not a time of day"),
            ("25:00-26:00", "25:00 is not a time of day"),
        ] {
            let e = parse_hours(bad).expect_err(bad);
            assert!(e.contains(needle), "{bad:?}: {e}");
        }
    }
}
