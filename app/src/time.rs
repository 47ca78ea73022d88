//! Times as people read them and as the JSON API writes them, from milliseconds since the Unix
//! epoch (how every time is stored). Pure functions, shared by the pages, the API and the CLI.

use std::ops::{Add, Sub};

use serde::{Deserialize, Serialize};

/// A second, a minute, an hour and a day in milliseconds: the unit of spans added to a [`Millis`].
pub const SECOND_MS: i64 = 1000;
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// A moment: milliseconds since the Unix epoch, the unit every table stores. A span between two
/// moments, or added to one, is a plain `i64` of milliseconds (`DAY_MS`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(transparent))]
pub struct Millis(pub i64);

impl Millis {
    /// The current time (the server's clock; the browser is sent the server's `now`).
    #[cfg(feature = "ssr")]
    pub fn now() -> Millis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| Millis(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
            .unwrap_or(Millis(0))
    }
}

impl Add<i64> for Millis {
    type Output = Millis;

    fn add(self, span_ms: i64) -> Millis {
        Millis(self.0.saturating_add(span_ms))
    }
}

impl Sub<i64> for Millis {
    type Output = Millis;

    fn sub(self, span_ms: i64) -> Millis {
        Millis(self.0.saturating_sub(span_ms))
    }
}

/// The span from `earlier` to `self`, in milliseconds.
impl Sub for Millis {
    type Output = i64;

    fn sub(self, earlier: Millis) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl From<Millis> for i64 {
    fn from(at: Millis) -> i64 {
        at.0
    }
}

/// "just now", "5 minutes ago", "3 days ago"; times ahead of `now` (clock skew) read "just now".
pub fn relative(at: Millis, now: Millis) -> String {
    let seconds = (now - at).max(0) / 1000;
    let (count, unit) = match seconds {
        0..=44 => return "just now".to_string(),
        45..=3_599 => ((seconds + 30) / 60, "minute"),
        3_600..=86_399 => ((seconds + 1_800) / 3_600, "hour"),
        86_400..=2_591_999 => ((seconds + 43_200) / 86_400, "day"),
        2_592_000..=31_535_999 => (seconds / 2_592_000, "month"),
        _ => (seconds / 31_536_000, "year"),
    };
    let count = count.max(1);
    if count == 1 { format!("1 {unit} ago") } else { format!("{count} {unit}s ago") }
}

/// `2026-11-23 19:34 UTC`.
pub fn utc(at: Millis) -> String {
    let (date, hour, minute, _) = parts(at);
    format!("{date} {hour:02}:{minute:02} UTC")
}

/// `2026-11-23T19:34:05Z`, for the `datetime` attribute.
pub fn iso(at: Millis) -> String {
    let (date, hour, minute, second) = parts(at);
    format!("{date}T{hour:02}:{minute:02}:{second:02}Z")
}

fn parts(at: Millis) -> (String, i64, i64, i64) {
    let seconds = at.0.div_euclid(1000);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    (format!("{year:04}-{month:02}-{day:02}"), of_day / 3600, of_day % 3600 / 60, of_day % 60)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_like_speech() {
        let now = Millis(1_800_000_000_000);
        assert_eq!(relative(now, now), "just now");
        assert_eq!(relative(now + HOUR_MS, now), "just now");
        assert_eq!(relative(now - 50_000, now), "1 minute ago");
        assert_eq!(relative(now - 5 * MINUTE_MS, now), "5 minutes ago");
        assert_eq!(relative(now - 2 * HOUR_MS, now), "2 hours ago");
        assert_eq!(relative(now - DAY_MS, now), "1 day ago");
        assert_eq!(relative(now - 40 * DAY_MS, now), "1 month ago");
        assert_eq!(relative(now - 800 * DAY_MS, now), "2 years ago");
    }

    #[test]
    fn exact_times_are_utc() {
        assert_eq!(utc(Millis(0)), "1970-01-01 00:00 UTC");
        // 2026-11-23 19:34:05 UTC
        assert_eq!(iso(Millis(1_795_462_445_000)), "2026-11-23T19:34:05Z");
        assert_eq!(utc(Millis(951_782_400_000)), "2000-02-29 00:00 UTC");
    }
}
