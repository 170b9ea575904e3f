//! `events`: runc's `events [--interval D] [--stats] ID`, one JSON object per line on stdout.

use std::io::Write;
use std::time::Duration;

use anyhow::{anyhow, Result};
use arca_container::container::events::{self, Event};
use arca_container::store::Store;

pub fn events(store: &Store, id: &str, interval: &str, once: bool) -> Result<i32> {
    let interval = go_duration(interval)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            anyhow!("invalid value for --interval: {interval:?} (a positive duration such as 5s, 500ms, 1m30s)")
        })?;
    let stdout = std::io::stdout();
    let print = |e: &Event<'_>| -> std::io::Result<()> {
        let mut out = stdout.lock();
        serde_json::to_writer(&mut out, e)?;
        out.write_all(b"\n")?;
        out.flush()
    };
    if once {
        let data = events::stats(store, id)?;
        print(&Event {
            kind: "stats",
            id,
            data: Some(data),
        })?;
        return Ok(0);
    }
    events::watch(store, id, interval, print)?;
    Ok(0)
}

/// A duration in Go's `time.ParseDuration` syntax, which runc's flag takes: a sequence of
/// decimal numbers each with a unit (ns, us, µs, ms, s, m, h), e.g. `1m30s`, `1.5s`.
fn go_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (num, tail) = rest.split_at(num_end);
        let value: f64 = num.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(go_duration("2h"), Some(Duration::from_secs(7200)));
        for bad in ["", "5", "s", "5x", "-1s", "1..2s"] {
            assert_eq!(go_duration(bad), None, "{bad}");
        }
    }
}
