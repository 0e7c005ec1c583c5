//! The current time, and times and durations written for people.
//!
//! Only [`now`] reads the clock; everything else takes `now` as an argument so tests fix it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix seconds now (0 if the clock is before 1970).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A short duration for people: `45s`, `15m`, `2h 5m`, `3d 4h` (rounded to the nearest
/// minute from one minute up).
pub fn short_duration(secs: u64) -> String {
    if secs < 60 {
        return format!("{secs}s");
    }
    let minutes = secs.saturating_add(30) / 60;
    let (days, hours, mins) = (minutes / 1440, (minutes / 60) % 24, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// A running time to the second: `42s`, `1m05s`, `2h03m` (for live progress lines).
pub fn elapsed(secs: u64) -> String {
    match (secs / 3600, (secs / 60) % 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// An instant as RFC 3339 UTC with seconds, e.g. `2025-01-31T14:03:12Z`.
pub fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(unix)).to_string()
}

/// An instant close to `now` as a time of day (`14:03:12Z`), a farther one as RFC 3339.
pub fn clock_time(unix: u64, now: u64) -> String {
    let full = rfc3339(unix);
    if unix.abs_diff(now) < 20 * 3600 {
        if let Some((_, time)) = full.split_once('T') {
            return time.to_string();
        }
    }
    full
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(short_duration(0), "0s");
        assert_eq!(short_duration(59), "59s");
        assert_eq!(short_duration(899), "15m");
        assert_eq!(short_duration(900), "15m");
        assert_eq!(short_duration(3600), "1h");
        assert_eq!(short_duration(3900), "1h 5m");
        assert_eq!(short_duration(86_400 + 4 * 3600), "1d 4h");
        assert_eq!(short_duration(u64::MAX), short_duration(u64::MAX));
    }

    #[test]
    fn elapsed_times_keep_seconds() {
        assert_eq!(elapsed(0), "0s");
        assert_eq!(elapsed(65), "1m05s");
        assert_eq!(elapsed(3600 + 180 + 7), "1h03m");
    }

    #[test]
    fn near_times_are_times_of_day() {
        let t = 1_700_000_000; // 2023-11-14T22:13:20Z
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
        assert_eq!(clock_time(t, t - 900), "22:13:20Z");
        assert_eq!(clock_time(t, t - 3 * 86_400), "2023-11-14T22:13:20Z");
    }
}
