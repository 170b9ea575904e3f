//! `update`: runc's flags (or `-r FILE`, a LinuxResources JSON) turned into a LinuxResources
//! holding only what was given.

use std::io::Read;

use anyhow::{anyhow, Context, Result};
use arca_container::container;
use arca_container::store::Store;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};

use crate::cli::UpdateArgs;

pub fn update(store: &Store, a: UpdateArgs) -> Result<i32> {
    let resources = match &a.resources {
        Some(file) => {
            if has_flags(&a) {
                tracing::warn!("--resources given: the other resource flags are ignored");
            }
            from_file(file)?
        }
        None => from_flags(&a)?,
    };
    container::update(store, &a.id, &resources)?;
    Ok(0)
}

fn has_flags(a: &UpdateArgs) -> bool {
    [
        &a.memory,
        &a.memory_reservation,
        &a.memory_swap,
        &a.kernel_memory,
        &a.kernel_memory_tcp,
        &a.blkio_weight,
        &a.cpu_burst,
        &a.cpu_rt_period,
        &a.cpu_rt_runtime,
        &a.cpu_share,
        &a.cpu_quota,
        &a.cpu_period,
        &a.cpuset_cpus,
        &a.cpuset_mems,
        &a.pids_limit,
    ]
    .iter()
    .any(|v| v.is_some())
}

fn from_file(file: &std::path::Path) -> Result<LinuxResources> {
    let text = if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("--resources: reading stdin")?;
        s
    } else {
        std::fs::read_to_string(file)
            .with_context(|| format!("--resources: reading {}", file.display()))?
    };
    let name = if file.as_os_str() == "-" {
        "stdin".to_owned()
    } else {
        file.display().to_string()
    };
    serde_json::from_str(&text)
        .with_context(|| format!("--resources: {name} is not a LinuxResources JSON"))
}

fn from_flags(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut r = LinuxResources::default();
    for (flag, v) in [
        ("kernel-memory", &a.kernel_memory),
        ("kernel-memory-tcp", &a.kernel_memory_tcp),
    ] {
        if let Some(v) = v {
            memory_value(flag, v)?;
            tracing::warn!("--{flag} is deprecated and ignored (the kernel no longer has it)");
        }
    }
    let limit = opt(&a.memory, |v| memory_value("memory", v))?;
    let reservation = opt(&a.memory_reservation, |v| {
        memory_value("memory-reservation", v)
    })?;
    let swap = opt(&a.memory_swap, |v| memory_value("memory-swap", v))?;
    if limit.is_some() || reservation.is_some() || swap.is_some() {
        let mut m = LinuxMemory::default();
        m.set_limit(limit);
        m.set_reservation(reservation);
        m.set_swap(swap);
        r.set_memory(Some(m));
    }
    let shares = opt(&a.cpu_share, |v| number::<u64>("cpu-share", v))?;
    let quota = opt(&a.cpu_quota, |v| number::<i64>("cpu-quota", v))?;
    let period = opt(&a.cpu_period, |v| number::<u64>("cpu-period", v))?;
    let burst = opt(&a.cpu_burst, |v| number::<u64>("cpu-burst", v))?;
    let rt_period = opt(&a.cpu_rt_period, |v| number::<u64>("cpu-rt-period", v))?;
    let rt_runtime = opt(&a.cpu_rt_runtime, |v| number::<i64>("cpu-rt-runtime", v))?;
    if shares.is_some()
        || quota.is_some()
        || period.is_some()
        || burst.is_some()
        || rt_period.is_some()
        || rt_runtime.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
    {
        let mut c = LinuxCpu::default();
        c.set_shares(shares);
        c.set_quota(quota);
        c.set_period(period);
        c.set_burst(burst);
        c.set_realtime_period(rt_period);
        c.set_realtime_runtime(rt_runtime);
        c.set_cpus(a.cpuset_cpus.clone());
        c.set_mems(a.cpuset_mems.clone());
        r.set_cpu(Some(c));
    }
    if let Some(weight) = opt(&a.blkio_weight, |v| number::<u16>("blkio-weight", v))? {
        let mut b = LinuxBlockIo::default();
        b.set_weight(Some(weight));
        r.set_block_io(Some(b));
    }
    if let Some(limit) = opt(&a.pids_limit, |v| number::<i64>("pids-limit", v))? {
        let mut p = LinuxPids::default();
        p.set_limit(limit);
        r.set_pids(Some(p));
    }
    Ok(r)
}

fn opt<T>(v: &Option<String>, f: impl FnOnce(&str) -> Result<T>) -> Result<Option<T>> {
    v.as_deref().map(f).transpose()
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    v.trim()
        .parse()
        .map_err(|e| anyhow!("invalid value for --{flag}: {v:?}: {e}"))
}

/// A memory size as runc (docker's `units.RAMInBytes`) reads it: a number, an optional space,
/// an optional binary suffix k/m/g/t/p (any case, optionally followed by `i` and/or `b`);
/// `-1` means unlimited.
fn memory_value(flag: &str, v: &str) -> Result<i64> {
    parse_ram(v).ok_or_else(|| {
        anyhow!("invalid value for --{flag}: {v:?} (bytes, or a number with k, m, g, t or p; -1 for unlimited)")
    })
}

fn parse_ram(v: &str) -> Option<i64> {
    if v == "-1" {
        return Some(-1);
    }
    let num_end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, rest) = v.split_at(num_end);
    if num.is_empty() || !num.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let num: f64 = num.parse().ok()?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest).to_ascii_lowercase();
    let mut chars = rest.chars();
    let shift = match chars.next() {
        None => 0,
        Some('k') => 10,
        Some('m') => 20,
        Some('g') => 30,
        Some('t') => 40,
        Some('p') => 50,
        Some('b') if rest == "b" => 0,
        _ => return None,
    };
    let tail: String = chars.collect();
    if shift > 0 && !matches!(tail.as_str(), "" | "i" | "b" | "ib") {
        return None;
    }
    let bytes = num * f64::from(1u32 << 10).powi(shift / 10);
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation)]
    Some(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_like_runc() {
        assert_eq!(parse_ram("1024"), Some(1024));
        assert_eq!(parse_ram("64m"), Some(64 << 20));
        assert_eq!(parse_ram("64M"), Some(64 << 20));
        assert_eq!(parse_ram("1k"), Some(1024));
        assert_eq!(parse_ram("2g"), Some(2 << 30));
        assert_eq!(parse_ram("2GiB"), Some(2 << 30));
        assert_eq!(parse_ram("1.5k"), Some(1536));
        assert_eq!(parse_ram("10 mb"), Some(10 << 20));
        assert_eq!(parse_ram("-1"), Some(-1));
        for bad in ["lots", "", "-2", "12x", "m", "1kk", "1.2.3"] {
            assert_eq!(parse_ram(bad), None, "{bad}");
        }
        let err = memory_value("memory", "lots").unwrap_err().to_string();
        assert!(err.contains("--memory"), "{err}");
    }

    #[test]
    fn only_given_flags_are_set() {
        use clap::Parser;
        let cli = crate::cli::Cli::parse_from([
            "arca-runtime",
            "update",
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            "c1",
        ]);
        let Some(crate::cli::Command::Update(a)) = cli.command else {
            panic!("not update");
        };
        let r = from_flags(&a).unwrap();
        assert_eq!(r.memory().unwrap().limit(), Some(64 << 20));
        assert_eq!(r.memory().unwrap().swap(), None);
        assert_eq!(r.pids().unwrap().limit(), 50);
        assert!(r.cpu().is_none() && r.devices().is_none());
    }
}
