//! Go's duration syntax (`1h2m3.5s`, `300ms`), as Dockerfile `HEALTHCHECK` flags and Docker's
//! `--health-*` flags write durations; image configs store them as nanoseconds.

use std::time::Duration;

/// `1h2m3.5s`, `300ms`, `1.5s`; `None` for anything else (a bare number has no unit).
pub fn parse(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..n_end].parse().ok()?;
        let unit_end = rest[n_end..]
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .map_or(rest.len(), |i| n_end + i);
        let scale = match &rest[n_end..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse("200ms"), Some(Duration::from_millis(200)));
        assert_eq!(parse("0.5s"), Some(Duration::from_millis(500)));
        assert_eq!(parse("5"), None);
        assert_eq!(parse("5x"), None);
        assert_eq!(parse(""), None);
    }
}
