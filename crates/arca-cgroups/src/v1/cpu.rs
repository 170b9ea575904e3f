//! v1 `cpu` controller (CFS shares and bandwidth, burst, idle, realtime bandwidth).

use std::io;
use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::error::CgroupError;
use crate::fs::{read_u64, write_file};

/// Whether the spec sets anything of the `cpu` controller (0 means unset, as in runc; cpus
/// and mems belong to `cpuset`).
pub(super) fn is_set(c: &LinuxCpu) -> bool {
    c.shares().unwrap_or(0) != 0
        || c.quota().unwrap_or(0) != 0
        || c.period().unwrap_or(0) != 0
        || c.burst().is_some()
        || c.idle().is_some()
        || c.realtime_runtime().unwrap_or(0) != 0
        || c.realtime_period().unwrap_or(0) != 0
}

/// runc's `CpuGroup.Set` order: shares, period, burst, quota (then the period and burst that
/// had to wait for it), idle, realtime period, realtime runtime.
pub(super) fn apply(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(shares) = c.shares().filter(|s| *s != 0) {
        write_file(dir, "cpu.shares", &shares.to_string())?;
        // The kernel clamps out-of-range shares silently; runc reads back to report it.
        let path = dir.join("cpu.shares");
        let got = read_u64(&path)?;
        if got != shares {
            let bound = if shares > got { "maximum" } else { "minimum" };
            return Err(CgroupError::InvalidResource {
                resource: "cpu.shares",
                reason: format!("{shares} is out of range: the {bound} allowed is {got}"),
            });
        }
    }
    let quota = c.quota().filter(|q| *q != 0);
    // A period shorter than the current one, or a burst larger than the current one, can be
    // refused (EINVAL) because of the old quota; then they are retried after the quota (runc).
    let mut retry_period = None;
    if let Some(p) = c.period().filter(|p| *p != 0) {
        match write_file(dir, "cpu.cfs_period_us", &p.to_string()) {
            Err(e) if is_einval(&e) && quota.is_some() => retry_period = Some(p),
            other => other?,
        }
    }
    let mut retry_burst = None;
    if let Some(b) = c.burst() {
        match write_file(dir, "cpu.cfs_burst_us", &b.to_string()) {
            // Kernels before 5.14 have no burst; runc ignores it there.
            Err(CgroupError::MissingFile { path, .. }) => {
                tracing::warn!(path = %path.display(), "kernel has no CFS burst, ignoring cpu.burst");
            }
            Err(e) if is_einval(&e) && quota.is_some() => retry_burst = Some(b),
            other => other?,
        }
    }
    if let Some(q) = quota {
        write_file(dir, "cpu.cfs_quota_us", &q.to_string())?;
        if let Some(p) = retry_period {
            write_file(dir, "cpu.cfs_period_us", &p.to_string())?;
        }
        if let Some(b) = retry_burst {
            write_file(dir, "cpu.cfs_burst_us", &b.to_string())?;
        }
    }
    if let Some(idle) = c.idle() {
        write_file(dir, "cpu.idle", &idle.to_string())?;
    }
    // Period before runtime, as runc: the runtime must fit in the period being set.
    if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
        write_file(dir, "cpu.rt_period_us", &p.to_string())?;
    }
    if let Some(r) = c.realtime_runtime().filter(|r| *r != 0) {
        write_file(dir, "cpu.rt_runtime_us", &r.to_string())?;
    }
    Ok(())
}

fn is_einval(e: &CgroupError) -> bool {
    matches!(e, CgroupError::Write { source, .. } if source.kind() == io::ErrorKind::InvalidInput)
}
