//! Stats from cgroup v1 controller directories, converted as runc's `libcontainer/cgroups/fs`.

use std::path::Path;

use super::parse::{key_values, page_sizes, read, read_int, read_uint, uints};
use super::types::{BlkioEntry, MemoryEntry, Stats};
use super::Result;

/// `cpuacct.stat` counts USER_HZ ticks, which is 100 on every Linux architecture (runc hard-codes
/// it too, to avoid sysconf).
const NANOS_PER_TICK: u64 = 1_000_000_000 / 100;

pub(super) fn cpuacct(dir: &Path, s: &mut Stats) -> Result<()> {
    let usage = &mut s.cpu.usage;
    usage.total = read_uint(dir, "cpuacct.usage")?.unwrap_or(0);
    if let Some((path, text)) = read(dir, "cpuacct.usage_percpu")? {
        usage.percpu = uints(&path, &text)?;
    }
    if let Some((path, text)) = read(dir, "cpuacct.usage_all")? {
        // "cpu user system" header, then one line per cpu.
        for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let cols = uints(&path, line)?;
            let [_, user, system] = cols[..] else {
                return Err(super::parse::parse_error(
                    &path,
                    format!("malformed line {line:?}"),
                ));
            };
            usage.percpu_user.push(user);
            usage.percpu_kernel.push(system);
        }
    } else {
        // Kernels without usage_all still have the per-mode files.
        if let Some((path, text)) = read(dir, "cpuacct.usage_percpu_sys")? {
            usage.percpu_kernel = uints(&path, &text)?;
        }
        if let Some((path, text)) = read(dir, "cpuacct.usage_percpu_user")? {
            usage.percpu_user = uints(&path, &text)?;
        }
    }
    if let Some((path, text)) = read(dir, "cpuacct.stat")? {
        for (key, ticks) in key_values(&path, &text)? {
            match key {
                "user" => usage.user = ticks.saturating_mul(NANOS_PER_TICK),
                "system" => usage.kernel = ticks.saturating_mul(NANOS_PER_TICK),
                _ => {}
            }
        }
    }
    Ok(())
}

pub(super) fn cpu(dir: &Path, s: &mut Stats) -> Result<()> {
    let Some((path, text)) = read(dir, "cpu.stat")? else {
        return Ok(());
    };
    let t = &mut s.cpu.throttling;
    for (key, value) in key_values(&path, &text)? {
        match key {
            "nr_periods" => t.periods = value,
            "nr_throttled" => t.throttled_periods = value,
            "throttled_time" => t.throttled_time = value,
            _ => {}
        }
    }
    Ok(())
}

pub(super) fn cpuset(dir: &Path, s: &mut Stats) -> Result<()> {
    let c = &mut s.cpuset;
    if let Some((path, text)) = read(dir, "cpuset.cpus")? {
        c.cpus = super::parse::cpu_list(&path, &text)?;
    }
    if let Some((path, text)) = read(dir, "cpuset.mems")? {
        c.mems = super::parse::cpu_list(&path, &text)?;
    }
    for (file, field) in [
        ("cpuset.cpu_exclusive", &mut c.cpu_exclusive),
        ("cpuset.mem_hardwall", &mut c.mem_hardwall),
        ("cpuset.mem_exclusive", &mut c.mem_exclusive),
        ("cpuset.memory_migrate", &mut c.memory_migrate),
        ("cpuset.memory_spread_page", &mut c.memory_spread_page),
        ("cpuset.memory_spread_slab", &mut c.memory_spread_slab),
        ("cpuset.memory_pressure", &mut c.memory_pressure),
        ("cpuset.sched_load_balance", &mut c.sched_load_balance),
    ] {
        *field = read_uint(dir, file)?.unwrap_or(0);
    }
    c.sched_relax_domain_level = read_int(dir, "cpuset.sched_relax_domain_level")?.unwrap_or(0);
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
    m.cache = m.raw.get("cache").copied().unwrap_or(0);
    m.usage = entry(dir, "memory")?;
    m.swap = entry(dir, "memory.memsw")?;
    m.kernel = entry(dir, "memory.kmem")?;
    m.kernel_tcp = entry(dir, "memory.kmem.tcp")?;
    Ok(())
}

/// One `<prefix>.{usage_in_bytes,max_usage_in_bytes,failcnt,limit_in_bytes}` group; all zero
/// when usage is missing (no swap accounting, kernel without kmem accounting).
fn entry(dir: &Path, prefix: &str) -> Result<MemoryEntry> {
    let Some(usage) = read_uint(dir, &format!("{prefix}.usage_in_bytes"))? else {
        return Ok(MemoryEntry::default());
    };
    let get =
        |name: &str| read_uint(dir, &format!("{prefix}.{name}")).map(Option::unwrap_or_default);
    Ok(MemoryEntry {
        usage,
        max: get("max_usage_in_bytes")?,
        failcnt: get("failcnt")?,
        limit: get("limit_in_bytes")?,
    })
}

/// Which blkio files hold the recursive counters depends on the I/O scheduler: bfq, then cfq
/// (kernels before 5.0), then only the throttling layer's. Like runc, a group is used when its
/// first file has entries; each group lists (file, field index) pairs.
pub(super) fn blkio(dir: &Path, s: &mut Stats) -> Result<()> {
    const SECTORS: usize = 0;
    const SERVICE_TIME: usize = 1;
    const WAIT_TIME: usize = 2;
    const MERGED: usize = 3;
    const QUEUED: usize = 4;
    const TIME: usize = 5;
    const SERVICED: usize = 6;
    const SERVICE_BYTES: usize = 7;
    const GROUPS: &[&[(&str, usize)]] = &[
        &[
            ("blkio.bfq.sectors_recursive", SECTORS),
            ("blkio.bfq.io_service_time_recursive", SERVICE_TIME),
            ("blkio.bfq.io_wait_time_recursive", WAIT_TIME),
            ("blkio.bfq.io_merged_recursive", MERGED),
            ("blkio.bfq.io_queued_recursive", QUEUED),
            ("blkio.bfq.time_recursive", TIME),
            ("blkio.bfq.io_serviced_recursive", SERVICED),
            ("blkio.bfq.io_service_bytes_recursive", SERVICE_BYTES),
        ],
        &[
            ("blkio.bfq.io_serviced_recursive", SERVICED),
            ("blkio.bfq.io_service_bytes_recursive", SERVICE_BYTES),
        ],
        &[
            ("blkio.sectors_recursive", SECTORS),
            ("blkio.io_service_time_recursive", SERVICE_TIME),
            ("blkio.io_wait_time_recursive", WAIT_TIME),
            ("blkio.io_merged_recursive", MERGED),
            ("blkio.io_queued_recursive", QUEUED),
            ("blkio.time_recursive", TIME),
            ("blkio.io_serviced_recursive", SERVICED),
            ("blkio.io_service_bytes_recursive", SERVICE_BYTES),
        ],
        &[
            ("blkio.throttle.io_serviced_recursive", SERVICED),
            ("blkio.throttle.io_service_bytes_recursive", SERVICE_BYTES),
        ],
        &[
            ("blkio.throttle.io_serviced", SERVICED),
            ("blkio.throttle.io_service_bytes", SERVICE_BYTES),
        ],
    ];
    let b = &mut s.blkio;
    for group in GROUPS {
        for (i, (file, field)) in group.iter().enumerate() {
            let entries = match read(dir, file)? {
                Some((path, text)) => blkio_entries(&path, &text)?,
                None => Vec::new(),
            };
            if entries.is_empty() {
                if i == 0 {
                    break;
                }
                return Ok(());
            }
            *[
                &mut b.sectors_recursive,
                &mut b.io_service_time_recursive,
                &mut b.io_wait_time_recursive,
                &mut b.io_merged_recursive,
                &mut b.io_queued_recursive,
                &mut b.io_time_recursive,
                &mut b.io_serviced_recursive,
                &mut b.io_service_bytes_recursive,
            ][*field] = entries;
            if i == group.len() - 1 {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// `MAJ:MIN [Op] value` lines; the trailing `Total N` line is dropped, as runc does.
fn blkio_entries(path: &Path, text: &str) -> Result<Vec<BlkioEntry>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split([' ', ':']).filter(|f| !f.is_empty()).collect();
        let (major, minor, op, value) = match fields[..] {
            ["Total", _] => continue,
            [major, minor, value] => (major, minor, "", value),
            [major, minor, op, value] => (major, minor, op, value),
            _ => {
                return Err(super::parse::parse_error(
                    path,
                    format!("malformed line {line:?}"),
                ))
            }
        };
        out.push(BlkioEntry {
            major: super::parse::uint(path, major)?,
            minor: super::parse::uint(path, minor)?,
            op: op.to_owned(),
            value: super::parse::uint(path, value)?,
        });
    }
    Ok(out)
}

pub(super) fn hugetlb(dir: &Path, s: &mut Stats) -> Result<()> {
    for size in page_sizes(dir, "usage_in_bytes")? {
        let get = |name: &str| {
            read_uint(dir, &format!("hugetlb.{size}.{name}")).map(Option::unwrap_or_default)
        };
        let stats = super::types::Hugetlb {
            usage: get("usage_in_bytes")?,
            max: get("max_usage_in_bytes")?,
            failcnt: get("failcnt")?,
        };
        s.hugetlb.insert(size, stats);
    }
    Ok(())
}
