//! Build timestamps: RFC 3339 in UTC to the second, `YYYY-MM-DDTHH:MM:SSZ`.
//!
//! One spelling only (no offsets, no fractions, no lowercase `t`/`z`), so a
//! timestamp has one canonical encoding like everything else in a statement.

use std::{fmt, str::FromStr};

/// Why a timestamp was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed timestamp '{input}': expected UTC to the second, 'YYYY-MM-DDTHH:MM:SSZ' (e.g. '2026-01-31T12:00:00Z'), from 1970 to 9999")]
pub struct TimestampError {
    /// The rejected input.
    pub input: String,
}

/// A UTC instant to the second, between 1970-01-01 and 9999-12-31.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

/// Seconds from 1970-01-01T00:00:00Z to 10000-01-01T00:00:00Z.
const END_OF_9999: u64 = 253_402_300_800;

impl Timestamp {
    /// The instant `seconds` after the Unix epoch; `None` past year 9999.
    pub const fn from_unix_seconds(seconds: u64) -> Option<Self> {
        if seconds < END_OF_9999 {
            Some(Self(seconds))
        } else {
            None
        }
    }

    /// The current time, truncated to the second.
    pub fn now() -> Self {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        Self(seconds.min(END_OF_9999 - 1))
    }

    /// Seconds since the Unix epoch.
    pub const fn unix_seconds(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0 / 86_400;
        let secs = self.0 % 86_400;
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = || TimestampError {
            input: input.to_owned(),
        };
        let b = input.as_bytes();
        let shape_ok = b.len() == 20
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                19 => *c == b'Z',
                _ => c.is_ascii_digit(),
            });
        if !shape_ok {
            return Err(err());
        }
        let num = |range: std::ops::Range<usize>| -> u64 {
            b[range]
                .iter()
                .fold(0, |acc, c| acc * 10 + u64::from(c - b'0'))
        };
        let (year, month, day) = (num(0..4), num(5..7), num(8..10));
        let (hour, minute, second) = (num(11..13), num(14..16), num(17..19));
        let valid = year >= 1970
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60;
        if !valid {
            return Err(err());
        }
        let days = days_from_civil(year, month, day);
        Ok(Self(days * 86_400 + hour * 3600 + minute * 60 + second))
    }
}

// `is_multiple_of` would need Rust 1.87; the workspace MSRV may be older.
#[allow(clippy::manual_is_multiple_of)]
const fn is_leap(year: u64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

const fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year ≥ 1970).
///
/// Howard Hinnant's `days_from_civil`, specialised to non-negative years.
const fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    // Count years from March so that the leap day is the last day of a year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
const fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        // Values cross-checked with `date -u -d @<seconds> +%FT%TZ`.
        for (seconds, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_709_210_096, "2024-02-29T12:34:56Z"),
            (1_767_225_599, "2025-12-31T23:59:59Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (END_OF_9999 - 1, "9999-12-31T23:59:59Z"),
        ] {
            let ts = Timestamp::from_unix_seconds(seconds).unwrap();
            assert_eq!(ts.to_string(), text);
            assert_eq!(text.parse::<Timestamp>().unwrap(), ts);
        }
        assert!(Timestamp::from_unix_seconds(END_OF_9999).is_none());
    }

    #[test]
    fn every_day_round_trips() {
        for days in (0..END_OF_9999 / 86_400).step_by(97) {
            let ts = Timestamp(days * 86_400 + 86_399);
            assert_eq!(ts.to_string().parse::<Timestamp>().unwrap(), ts);
        }
    }

    #[test]
    fn rejects_other_spellings_and_impossible_dates() {
        for bad in [
            "2024-02-29T12:34:56+00:00",
            "2024-02-29T12:34:56.000Z",
            "2024-02-29t12:34:56z",
            "2024-02-29 12:34:56Z",
            "2023-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-00-01T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:60:00Z",
            "2024-01-01T00:00:60Z",
            "1969-12-31T23:59:59Z",
            "",
        ] {
            assert!(
                bad.parse::<Timestamp>().is_err(),
                "{bad} should be rejected"
            );
        }
    }
}
