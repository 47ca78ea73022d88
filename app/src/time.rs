//! Times as people read them and as the JSON API writes them, from milliseconds since the Unix
//! epoch (how every time is stored). Pure functions, shared by the pages, the API and the CLI.

/// "just now", "5 minutes ago", "3 days ago"; times ahead of `now` (clock skew) read "just now".
pub fn relative(at: i64, now: i64) -> String {
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
pub fn utc(at: i64) -> String {
    let (date, hour, minute, _) = parts(at);
    format!("{date} {hour:02}:{minute:02} UTC")
}

/// `2026-11-23T19:34:05Z`, for the `datetime` attribute.
pub fn iso(at: i64) -> String {
    let (date, hour, minute, second) = parts(at);
    format!("{date}T{hour:02}:{minute:02}:{second:02}Z")
}

fn parts(at: i64) -> (String, i64, i64, i64) {
    let seconds = at.div_euclid(1000);
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

    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;

    #[test]
    fn relative_times_read_like_speech() {
        let now = 1_800_000_000_000;
        assert_eq!(relative(now, now), "just now");
        assert_eq!(relative(now + HOUR, now), "just now");
        assert_eq!(relative(now - 50_000, now), "1 minute ago");
        assert_eq!(relative(now - 5 * MINUTE, now), "5 minutes ago");
        assert_eq!(relative(now - 2 * HOUR, now), "2 hours ago");
        assert_eq!(relative(now - DAY, now), "1 day ago");
        assert_eq!(relative(now - 40 * DAY, now), "1 month ago");
        assert_eq!(relative(now - 800 * DAY, now), "2 years ago");
    }

    #[test]
    fn exact_times_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        // 2026-11-23 19:34:05 UTC
        assert_eq!(iso(1_795_462_445_000), "2026-11-23T19:34:05Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}
