//! RFC 3339 times, UTC, to the nanosecond: an image's `created`, container log records and
//! `--timestamps` are formatted here, records and `--since` parsed. Done here with Howard Hinnant's civil-from-days algorithms
//! rather than with a date crate: UTC only, a few dozen lines, and no time zone database.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `t` as `2026-11-23T01:02:03.123456789Z`: UTC, always nine fraction digits, as
/// `docker logs -t` prints (fixed width, so the text after the times lines up).
pub fn format_rfc3339_nano(t: SystemTime) -> String {
    let (secs, nanos) = split(t);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds (negative before 1970) and nanoseconds since the epoch.
fn split(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => (-secs, 0),
                n => (-secs - 1, 1_000_000_000 - n),
            }
        }
    }
}

/// The time `secs` seconds (may be negative) and `nanos` after the epoch.
pub fn from_unix(secs: i64, nanos: u32) -> Option<SystemTime> {
    let base = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))?
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?
    };
    base.checked_add(Duration::from_nanos(u64::from(nanos)))
}

/// (year, month 1-12, day 1-31) of the day `z` days after 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d is in [1, 31] and m in [1, 12]: the conversions cannot fail.
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// Days from 1970-01-01 to the date (month 1-12, day 1-31), the inverse of `civil_from_days`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let (m, d) = (i64::from(m), i64::from(d));
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A cursor over the bytes of a time being parsed.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `n` decimal digits.
    fn digits(&mut self, n: usize, what: &'static str) -> Result<u32, &'static str> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    v = v * 10 + u32::from(c - b'0');
                    self.i += 1;
                }
                _ => return Err(what),
            }
        }
        Ok(v)
    }
}

/// Parses `YYYY-MM-DD[THH[:MM[:SS[.frac]]]][Z|±HH:MM|±HHMM]`: full RFC 3339 and the shorter
/// forms Docker's `--since` takes. A time without a zone is taken as UTC (Docker takes the
/// host's zone; arca reads no zone database, and container hosts mostly run on UTC).
pub fn parse_rfc3339(s: &str) -> Result<SystemTime, &'static str> {
    let mut c = Cursor {
        s: s.as_bytes(),
        i: 0,
    };
    let year = c.digits(4, "year must have 4 digits")?;
    if !c.eat(b'-') {
        return Err("expected '-' after the year");
    }
    let month = c.digits(2, "month must have 2 digits")?;
    if !c.eat(b'-') {
        return Err("expected '-' after the month");
    }
    let day = c.digits(2, "day must have 2 digits")?;
    let year = i64::from(year);
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err("day out of range");
    }
    let (mut hour, mut min, mut sec, mut nanos) = (0, 0, 0, 0);
    if c.eat(b'T') || c.eat(b't') {
        hour = c.digits(2, "hour must have 2 digits")?;
        if c.eat(b':') {
            min = c.digits(2, "minute must have 2 digits")?;
            if c.eat(b':') {
                sec = c.digits(2, "second must have 2 digits")?;
                if c.eat(b'.') {
                    let start = c.i;
                    while matches!(c.peek(), Some(b'0'..=b'9')) && c.i - start < 9 {
                        nanos = nanos * 10 + u32::from(c.s[c.i] - b'0');
                        c.i += 1;
                    }
                    let n = c.i - start;
                    if n == 0 {
                        return Err("expected digits after '.'");
                    }
                    if matches!(c.peek(), Some(b'0'..=b'9')) {
                        return Err("more than 9 fraction digits");
                    }
                    nanos *= 10u32.pow(u32::try_from(9 - n).unwrap_or(0));
                }
            }
        }
    }
    if hour > 23 || min > 59 || sec > 59 {
        return Err("hour, minute or second out of range");
    }
    let offset: i64 = match c.peek() {
        None => 0,
        Some(b'Z' | b'z') => {
            c.i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let h = c.digits(2, "zone hours must have 2 digits")?;
            c.eat(b':');
            let m = c.digits(2, "zone minutes must have 2 digits")?;
            if h > 23 || m > 59 {
                return Err("zone offset out of range");
            }
            let o = i64::from(h * 3600 + m * 60);
            if sign == b'-' {
                -o
            } else {
                o
            }
        }
        Some(_) => return Err("unexpected character"),
    };
    if c.i != c.s.len() {
        return Err("trailing characters");
    }
    let secs = days_from_civil(year, month, day) * 86_400 + i64::from(hour * 3600 + min * 60 + sec)
        - offset;
    from_unix(secs, nanos).ok_or("out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn formats_utc_with_nine_digits() {
        assert_eq!(
            format_rfc3339_nano(at(0, 0)),
            "1970-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            format_rfc3339_nano(at(1_700_000_000, 123_456_789)),
            "2023-11-14T22:13:20.123456789Z"
        );
        // A leap day and the day after.
        assert_eq!(
            format_rfc3339_nano(at(951_782_400, 5)),
            "2000-02-29T00:00:00.000000005Z"
        );
        assert_eq!(
            format_rfc3339_nano(UNIX_EPOCH - Duration::new(1, 500_000_000)),
            "1969-12-31T23:59:58.500000000Z"
        );
    }

    #[test]
    fn civil_round_trips_every_day_of_four_centuries() {
        for z in -146_097..146_097 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn parses_what_it_formats() {
        for t in [
            at(0, 0),
            at(1_700_000_000, 123_456_789),
            at(4_102_444_799, 1),
        ] {
            assert_eq!(parse_rfc3339(&format_rfc3339_nano(t)), Ok(t));
        }
    }

    #[test]
    fn parses_short_forms_and_zones() {
        let t = at(1_700_000_000, 0); // 2023-11-14T22:13:20Z
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20Z"), Ok(t));
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20"), Ok(t));
        assert_eq!(parse_rfc3339("2023-11-15T00:13:20+02:00"), Ok(t));
        assert_eq!(parse_rfc3339("2023-11-14T20:13:20-0200"), Ok(t));
        assert_eq!(
            parse_rfc3339("2023-11-14t22:13:20.5z"),
            Ok(at(1_700_000_000, 500_000_000))
        );
        assert_eq!(parse_rfc3339("2023-11-14T22:13"), Ok(at(1_699_999_980, 0)));
        assert_eq!(parse_rfc3339("2023-11-14T22"), Ok(at(1_699_999_200, 0)));
        assert_eq!(parse_rfc3339("2023-11-14"), Ok(at(1_699_920_000, 0)));
    }

    #[test]
    fn rejects_bad_dates() {
        for s in [
            "",
            "2023-11",
            "2023-13-01",
            "2023-02-29",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20.1234567890Z",
            "2023-11-14T22:13:20+25:00",
            "2023-11-14T22:13:20Zjunk",
            "23-11-14",
        ] {
            assert!(parse_rfc3339(s).is_err(), "{s:?} parsed");
        }
    }
}
