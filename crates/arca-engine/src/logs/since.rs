//! The values of `arca logs --since/--until` and `--log-opt max-size`, parsed as Docker does so
//! that commands people already type keep working.

use std::time::{Duration, SystemTime};

use super::time::{from_unix, parse_rfc3339};
use super::LogError;

/// Parses a `--since`/`--until` value, as Docker's: an RFC 3339 time, full or shortened
/// (`2026-11-23T01:02:03.5Z`, `2026-11-23T01:02:03+01:00`, `2026-11-23T01:02`, `2026-11-23`;
/// without a zone it is UTC), a Unix timestamp (`1700000000`, `1700000000.123`), or a Go-style
/// duration before `now` (`10m`, `1h30m`, `45s`, `1.5h`, `300ms`). `"0"` is the epoch, as in
/// Docker, not a duration of nothing.
pub fn parse_since(s: &str, now: SystemTime) -> Result<SystemTime, LogError> {
    let invalid = |reason| LogError::InvalidTime {
        input: s.to_owned(),
        reason,
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(invalid("empty"));
    }
    // A date has its first '-' after a 4-digit year; a duration or timestamp has none there.
    if t.len() >= 5 && t.as_bytes()[4] == b'-' {
        return parse_rfc3339(t).map_err(invalid);
    }
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_unix(t).ok_or_else(|| invalid("not a Unix timestamp"));
    }
    let (ago, d) = parse_duration(t).map_err(invalid)?;
    let r = if ago {
        now.checked_sub(d)
    } else {
        now.checked_add(d)
    };
    r.ok_or_else(|| invalid("out of range"))
}

/// `SECONDS[.FRACTION]` (at most 9 fraction digits) since the epoch.
fn parse_unix(s: &str) -> Option<SystemTime> {
    let (secs, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    if secs.is_empty()
        || frac.len() > 9
        || frac.contains('.')
        || (s.contains('.') && frac.is_empty())
    {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        let width = u32::try_from(frac.len()).ok()?;
        frac.parse::<u32>().ok()? * 10u32.pow(9 - width)
    };
    from_unix(secs, nanos)
}

/// A Go duration (`[-+]` then `NUMBER[.FRACTION]UNIT` repeated, units ns us µs ms s m h).
/// Returns whether it counts back from now (every positive duration does: `--since 10m` is
/// ten minutes ago; `-10m` is ten minutes ahead, as in Docker).
fn parse_duration(s: &str) -> Result<(bool, Duration), &'static str> {
    let (ago, mut rest) = match s.as_bytes()[0] {
        b'-' => (false, &s[1..]),
        b'+' => (true, &s[1..]),
        _ => (true, s),
    };
    if rest.is_empty() {
        return Err("not a duration");
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or("duration needs a unit (ns, us, ms, s, m, h)")?;
        let (num, tail) = rest.split_at(num_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let per: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err("not a duration (units: ns, us, ms, s, m, h)"),
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err("bad number in duration");
        }
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| "duration out of range")?
        };
        let mut part = int.checked_mul(per).ok_or("duration out of range")?;
        // Fraction digits past the unit's nanosecond precision cannot change the sum.
        let mut scale = per;
        for d in frac.bytes().take(20) {
            scale /= 10;
            part += u128::from(d - b'0') * scale;
        }
        total = total.checked_add(part).ok_or("duration out of range")?;
        rest = tail;
    }
    let nanos = u64::try_from(total).map_err(|_| "duration out of range")?;
    Ok((ago, Duration::from_nanos(nanos)))
}

/// Parses a `--log-opt max-size` value as Docker does: a number (fraction allowed) with an
/// optional binary unit, `k`, `m`, `g`, `t`, `p`, any case, optionally followed by `b`/`ib`
/// (`10m`, `10MB`, `1.5g`, `512KiB`, `100`). A unit of 1024, as Docker counts.
pub fn parse_size(s: &str) -> Result<u64, LogError> {
    let invalid = || LogError::InvalidSize {
        input: s.to_owned(),
    };
    let t = s.trim();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(num_end);
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(invalid()),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() || frac.contains('.') || (num.contains('.') && frac.is_empty()) {
        return Err(invalid());
    }
    let int: u128 = int.parse().map_err(|_| invalid())?;
    let mut bytes = int << shift;
    // The fraction, in units of 2^shift bytes: digits / 10^len, truncated as Docker does.
    if !frac.is_empty() {
        let digits: u128 = frac
            .get(..frac.len().min(18))
            .unwrap_or(frac)
            .parse()
            .map_err(|_| invalid())?;
        let len = u32::try_from(frac.len().min(18)).map_err(|_| invalid())?;
        bytes += (digits << shift) / 10u128.pow(len);
    }
    u64::try_from(bytes).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn durations_count_back_from_now() {
        let p = |s| parse_since(s, now()).unwrap();
        assert_eq!(p("10m"), now() - Duration::from_secs(600));
        assert_eq!(p("1h30m"), now() - Duration::from_secs(5400));
        assert_eq!(p("45s"), now() - Duration::from_secs(45));
        assert_eq!(p("1.5h"), now() - Duration::from_secs(5400));
        assert_eq!(p("300ms"), now() - Duration::from_millis(300));
        assert_eq!(p("2h45m30.5s"), now() - Duration::from_millis(9_930_500));
        assert_eq!(p("-10m"), now() + Duration::from_secs(600));
    }

    #[test]
    fn unix_timestamps() {
        let p = |s| parse_since(s, now()).unwrap();
        assert_eq!(
            p("1700000000"),
            UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
        assert_eq!(
            p("1700000000.123"),
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_000_000)
        );
        assert_eq!(
            p("1700000000.000000001"),
            UNIX_EPOCH + Duration::new(1_700_000_000, 1)
        );
        assert_eq!(p("0"), UNIX_EPOCH);
    }

    #[test]
    fn rfc3339_variants() {
        let p = |s| parse_since(s, now()).unwrap();
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(p("2023-11-14T22:13:20Z"), t);
        assert_eq!(p("2023-11-14T22:13:20"), t);
        assert_eq!(p("2023-11-14T23:13:20+01:00"), t);
        assert_eq!(
            p("2023-11-14T22:13:20.000000042Z"),
            t + Duration::from_nanos(42)
        );
        assert_eq!(
            p("2023-11-14"),
            UNIX_EPOCH + Duration::from_secs(1_699_920_000)
        );
    }

    #[test]
    fn errors_name_the_input() {
        for s in [
            "",
            "yesterday",
            "10x",
            "1h30",
            "1..5s",
            ".",
            "1700000000.",
            "1.2.3",
            "1700000000.1234567890",
            "2023-13-01",
            "2023-11-14T22:13:20Q",
            "--1s",
            "h",
        ] {
            match parse_since(s, now()) {
                Err(LogError::InvalidTime { input, .. }) => assert_eq!(input, s),
                other => panic!("{s:?}: {other:?}"),
            }
        }
        let e = parse_since("yesterday", now()).unwrap_err().to_string();
        assert!(e.contains("\"yesterday\""), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("10m"), Ok(10 << 20));
        assert_eq!(parse_size("10MB"), Ok(10 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("2 k"), Ok(2048));
        for s in ["", "m", "10x", "1.m", "-1", "1.2.3k", "99999999999p"] {
            assert!(parse_size(s).is_err(), "{s:?}");
        }
    }
}
