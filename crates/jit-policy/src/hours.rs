//! `[business_hours]`: the days and local hours, in one IANA time zone, when issuance is routine.
//!
//! Issuance outside them is still allowed; the grant says `out_of_hours` so the caller can alert
//! (DESIGN §4). Local wall-clock time is used, so the hours follow daylight saving time.

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Day names as written in `days`, Monday first.
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

const FULL_DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The policy's `[business_hours]`: `days`, `hours = "09:00-18:00"` and `time_zone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    /// `days[0]` is Monday.
    days: [bool; 7],
    /// Minutes after local midnight: start included, end excluded; `start < end <= 24:00`.
    start: u16,
    end: u16,
    zone: TimeZone,
    zone_name: String,
}

impl BusinessHours {
    /// Build from checked parts: `days` Monday first, `start < end <= 1440` minutes.
    pub(crate) fn new(days: [bool; 7], start: u16, end: u16, zone: TimeZone) -> Self {
        let zone_name = zone.iana_name().unwrap_or("UTC").to_owned();
        BusinessHours {
            days,
            start,
            end,
            zone,
            zone_name,
        }
    }

    /// The IANA name of the time zone, e.g. `Europe/Berlin`.
    pub fn time_zone(&self) -> &str {
        &self.zone_name
    }

    /// True when `now` (Unix seconds) falls on a listed day, at or after the start and before
    /// the end, in local time. A time too far in the future to represent is outside.
    pub fn contains(&self, now: u64) -> bool {
        let Some((weekday, minute)) = self.local(now) else {
            return false;
        };
        self.days[weekday] && (self.start..self.end).contains(&minute)
    }

    /// `mon-fri 09:00-18:00 Europe/Berlin`: runs of three or more days as a range.
    pub fn describe(&self) -> String {
        format!(
            "{} {}-{} {}",
            describe_days(&self.days),
            hhmm(self.start),
            hhmm(self.end),
            self.zone_name
        )
    }

    /// The local day and time of `now` (Unix seconds), e.g. `Saturday 11:02`.
    pub fn local_time(&self, now: u64) -> String {
        match self.local(now) {
            Some((weekday, minute)) => format!("{} {}", FULL_DAY_NAMES[weekday], hhmm(minute)),
            None => format!("{now} is out of range"),
        }
    }

    /// `within business hours (mon-fri 09:00-18:00 Europe/Berlin): Monday 10:00`, or `outside ...`.
    pub(crate) fn sentence(&self, now: u64) -> String {
        format!(
            "{} business hours ({}): {}",
            if self.contains(now) {
                "within"
            } else {
                "outside"
            },
            self.describe(),
            self.local_time(now)
        )
    }

    /// Day index (Monday 0) and minute of the day, in local time.
    fn local(&self, now: u64) -> Option<(usize, u16)> {
        let seconds = i64::try_from(now).ok()?;
        let time = self.zone.to_datetime(Timestamp::from_second(seconds).ok()?);
        let weekday = usize::from(time.weekday().to_monday_zero_offset().unsigned_abs());
        let minute = u16::try_from(i32::from(time.hour()) * 60 + i32::from(time.minute())).ok()?;
        Some((weekday.min(6), minute))
    }
}

/// `HH:MM` for minutes after midnight (`24:00` for the end of the day).
fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `mon-fri`, `mon,wed,fri`, `mon-wed,sat`: listed days, Monday first.
fn describe_days(days: &[bool; 7]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < 7 {
        if !days[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < 7 && days[i + 1] {
            i += 1;
        }
        match i - start {
            0 => parts.push(DAY_NAMES[start].to_owned()),
            1 => {
                parts.push(DAY_NAMES[start].to_owned());
                parts.push(DAY_NAMES[i].to_owned());
            }
            _ => parts.push(format!("{}-{}", DAY_NAMES[start], DAY_NAMES[i])),
        }
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(days: [bool; 7], start: u16, end: u16, zone: &str) -> BusinessHours {
        let zone = jiff::tz::TimeZoneDatabase::bundled()
            .get(zone)
            .expect("bundled zone");
        BusinessHours::new(days, start, end, zone)
    }

    #[test]
    fn days_are_described_compactly() {
        let mut d = [false; 7];
        assert_eq!(describe_days(&d), "");
        d[..5].fill(true);
        assert_eq!(describe_days(&d), "mon-fri");
        let d = [true, false, true, false, true, false, false];
        assert_eq!(describe_days(&d), "mon,wed,fri");
        let d = [true, true, false, false, false, true, true];
        assert_eq!(describe_days(&d), "mon,tue,sat,sun");
        assert_eq!(describe_days(&[true; 7]), "mon-sun");
    }

    #[test]
    fn end_of_range_and_end_of_day() {
        // 1970-01-01 was a Thursday; UTC keeps the arithmetic obvious.
        let h = hours([true; 7], 9 * 60, 24 * 60, "UTC");
        assert_eq!(h.describe(), "mon-sun 09:00-24:00 UTC");
        assert!(!h.contains(9 * 3600 - 1));
        assert!(h.contains(9 * 3600));
        assert!(h.contains(24 * 3600 - 1));
        assert!(!h.contains(24 * 3600));
        assert_eq!(h.local_time(9 * 3600 + 120), "Thursday 09:02");
        assert!(!h.contains(u64::MAX));
        assert_eq!(
            h.local_time(u64::MAX),
            "18446744073709551615 is out of range"
        );
    }
}
