//! What the Audit page shows and asks for: the filter (as in the URL), the keyset position, a
//! row, the page. Shared by the page, its query and the CSV export.
use serde::{Deserialize, Serialize};

use crate::{ids::Version, time::Millis};

/// Events per page.
pub const PAGE_SIZE: i64 = 50;

/// The filters, as they appear in the URL (empty or missing means "any").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    pub action: String,
    pub actor: String,
    pub project: String,
    pub environment: String,
    pub key: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    pub from: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    pub to: String,
}

/// Where a page starts: just after (older than) the event at `at` with id `id`. Written `AT.ID`
/// in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: Millis,
    pub id: i64,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Self> {
        let (at, id) = text.trim().split_once('.')?;
        Some(Self { at: Millis(at.parse().ok()?), id: id.parse().ok()? })
    }

    /// The position just after (older than) `row`.
    pub fn after(row: &AuditRow) -> Self {
        Self { at: row.at, id: row.id }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.at.0, self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub project: Option<String>,
    pub environment: Option<String>,
    pub key: Option<String>,
    pub version: Option<Version>,
    pub ip: Option<String>,
    pub details: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastVerification {
    pub at: Millis,
    pub intact: bool,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub rows: Vec<AuditRow>,
    /// Where the next (older) page starts ([`Cursor`]), if there is one.
    pub next_before: Option<String>,
    pub now: Millis,
    pub last_verification: Option<LastVerification>,
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date, if it is one.
pub fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) || !(1970..=9999).contains(&year) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::parse_date;

    #[test]
    fn dates_are_days_since_the_epoch() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-11-23"), Some(20_780));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        for bad in ["2025-02-29", "2026-13-01", "yesterday", "2026-11", ""] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
