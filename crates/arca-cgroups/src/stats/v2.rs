//! Stats from a cgroup2 directory, converted to runc's v1-shaped numbers as runc's
//! `libcontainer/cgroups/fs2` does (microseconds to nanoseconds, swap as memory+swap).

use std::collections::BTreeMap;
use std::path::Path;

use super::parse::{
    cpu_list, key_values, page_sizes, parse_error, read, read_key, read_uint, uint,
};
use super::types::{BlkioEntry, Hugetlb, MemoryEntry, Psi, PsiData, Stats};
use super::Result;

/// `cpu.stat` holds both usage (v1 cpuacct) and throttling (v1 cpu); on a hybrid host only the
/// halves v1 does not provide are taken from here.
pub(super) fn cpu(dir: &Path, s: &mut Stats, usage: bool, throttling: bool) -> Result<()> {
    let Some((path, text)) = read(dir, "cpu.stat")? else {
        return Ok(());
    };
    for (key, v) in key_values(&path, &text)? {
        let nanos = v.saturating_mul(1000);
        match key {
            "usage_usec" if usage => s.cpu.usage.total = nanos,
            "user_usec" if usage => s.cpu.usage.user = nanos,
            "system_usec" if usage => s.cpu.usage.kernel = nanos,
            "nr_periods" if throttling => s.cpu.throttling.periods = v,
            "nr_throttled" if throttling => s.cpu.throttling.throttled_periods = v,
            "throttled_usec" if throttling => s.cpu.throttling.throttled_time = nanos,
            _ => {}
        }
    }
    Ok(())
}

/// runc has no v2 cpuset stats; the effective sets are what v1's `cpuset.cpus`/`mems` show.
pub(super) fn cpuset(dir: &Path, s: &mut Stats) -> Result<()> {
    if let Some((path, text)) = read(dir, "cpuset.cpus.effective")? {
        s.cpuset.cpus = cpu_list(&path, &text)?;
    }
    if let Some((path, text)) = read(dir, "cpuset.mems.effective")? {
        s.cpuset.mems = cpu_list(&path, &text)?;
    }
    Ok(())
}

pub(super) fn memory(dir: &Path, s: &mut Stats) -> Result<()> {
    let m = &mut s.memory;
    if let Some((path, text)) = read(dir, "memory.stat")? {
        m.raw = key_values(&path, &text)?
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
    }
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    let Some(usage) = entry(dir, "memory")? else {
        return Ok(());
    };
    // v1 reported memory+swap; runc keeps that meaning on v2, peak excepted (it cannot be
    // summed). Without swap accounting this is the memory entry alone, as in runc.
    let swap = entry(dir, "memory.swap")?.unwrap_or_default();
    m.swap = MemoryEntry {
        usage: swap.usage.saturating_add(usage.usage),
        limit: if swap.limit == u64::MAX {
            u64::MAX
        } else {
            swap.limit.saturating_add(usage.limit)
        },
        max: 0,
        failcnt: 0,
    };
    m.usage = usage;
    Ok(())
}

/// `<prefix>.{current,max,peak}`; `None` without `<prefix>.current`. `peak` appeared in 5.19
/// (6.5 for swap).
fn entry(dir: &Path, prefix: &str) -> Result<Option<MemoryEntry>> {
    let Some(usage) = read_uint(dir, &format!("{prefix}.current"))? else {
        return Ok(None);
    };
    let get =
        |name: &str| read_uint(dir, &format!("{prefix}.{name}")).map(Option::unwrap_or_default);
    Ok(Some(MemoryEntry {
        usage,
        limit: get("max")?,
        max: get("peak")?,
        failcnt: 0,
    }))
}

/// `io.stat` lines (`MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N`) mapped to v1's
/// service-bytes and serviced tables; keys without a v1 counterpart are dropped, as by runc.
pub(super) fn io(dir: &Path, s: &mut Stats) -> Result<()> {
    let Some((path, text)) = read(dir, "io.stat")? else {
        return Ok(());
    };
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(dev) = fields.next() else { continue };
        let (major, minor) = dev
            .split_once(':')
            .ok_or_else(|| parse_error(&path, format!("malformed line {line:?}")))?;
        let (major, minor) = (uint(&path, major)?, uint(&path, minor)?);
        for field in fields {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let (table, op) = match key {
                "rbytes" => (&mut s.blkio.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut s.blkio.io_service_bytes_recursive, "Write"),
                "rios" => (&mut s.blkio.io_serviced_recursive, "Read"),
                "wios" => (&mut s.blkio.io_serviced_recursive, "Write"),
                _ => continue,
            };
            table.push(BlkioEntry {
                major,
                minor,
                op: op.to_owned(),
                value: uint(&path, value)?,
            });
        }
    }
    Ok(())
}

pub(super) fn hugetlb(dir: &Path, s: &mut Stats) -> Result<()> {
    for size in page_sizes(dir, "current")? {
        let usage = read_uint(dir, &format!("hugetlb.{size}.current"))?.unwrap_or(0);
        // Allocations refused at the limit, v1's failcnt.
        let failcnt = read_key(dir, &format!("hugetlb.{size}.events"), "max")?.unwrap_or(0);
        s.hugetlb.insert(
            size,
            Hugetlb {
                usage,
                max: 0,
                failcnt,
            },
        );
    }
    Ok(())
}

/// A `*.pressure` file (`some avg10=0.00 avg60=0.00 avg300=0.00 total=0`, then `full ...`).
pub(super) fn psi(dir: &Path, file: &str) -> Result<Option<Psi>> {
    let Some((path, text)) = read(dir, file)? else {
        return Ok(None);
    };
    let mut psi = Psi::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let data = match fields.next() {
            Some("some") => &mut psi.some,
            Some("full") => &mut psi.full,
            _ => continue,
        };
        let values: BTreeMap<&str, &str> = fields.filter_map(|f| f.split_once('=')).collect();
        let avg = |k: &str| -> Result<f64> {
            let v = values.get(k).copied().unwrap_or("0");
            v.parse()
                .map_err(|_| parse_error(&path, format!("{k}={v:?} is not a number")))
        };
        *data = PsiData {
            avg10: avg("avg10")?,
            avg60: avg("avg60")?,
            avg300: avg("avg300")?,
            total: uint(&path, values.get("total").copied().unwrap_or("0"))?,
        };
    }
    Ok(Some(psi))
}
