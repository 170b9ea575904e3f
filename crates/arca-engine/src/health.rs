//! Healthchecks, Docker's `--health-cmd` and friends, run by the container's monitor (so they
//! need no daemon and no systemd timer, which is how Podman's users go without them): every
//! `interval` the command runs in the container as an `exec`, `timeout` bounds it, and after
//! `retries` failures in a row the container is unhealthy; one success makes it healthy
//! again. Failures during `start_period` do not count. The status is in the container's live
//! state ([`crate::live`]), shown by `ps` and `inspect`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// The command, as the runtime runs it (`--health-cmd` is run by `/bin/sh -c`).
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

impl HealthConfig {
    /// From `--health-cmd` and the optional timings (Docker's defaults: 30 s, 30 s, 3, 0).
    pub fn from_flags(
        cmd: &str,
        interval: Option<&str>,
        timeout: Option<&str>,
        retries: Option<u32>,
        start_period: Option<&str>,
    ) -> Result<HealthConfig, String> {
        let d = |flag: &str, v: Option<&str>, default: u64| {
            v.map_or(Ok(Duration::from_secs(default)), |v| {
                parse_duration(v).ok_or_else(|| {
                    format!("--{flag} {v:?}: expected a duration like 30s, 1m30s, 500ms")
                })
            })
        };
        Ok(HealthConfig {
            test: vec!["/bin/sh".into(), "-c".into(), cmd.to_owned()],
            interval: d("health-interval", interval, 30)?,
            timeout: d("health-timeout", timeout, 30)?,
            retries: retries.unwrap_or(3).max(1),
            start_period: d("health-start-period", start_period, 0)?,
        })
    }
}

/// Go's duration syntax as Docker takes it: `1h2m3.5s`, `300ms`, `1.5s`.
pub fn parse_duration(s: &str) -> Option<Duration> {
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
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("200ms"), Some(Duration::from_millis(200)));
        assert_eq!(parse_duration("0.5s"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("5x"), None);
        let h = HealthConfig::from_flags("true", Some("1s"), None, Some(2), None).unwrap();
        assert_eq!(h.test, ["/bin/sh", "-c", "true"]);
        assert_eq!(
            (h.interval, h.timeout, h.retries),
            (Duration::from_secs(1), Duration::from_secs(30), 2)
        );
        assert!(HealthConfig::from_flags("true", Some("soon"), None, None, None).is_err());
    }
}
