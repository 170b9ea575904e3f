//! v2 `cpu` and `cpuset` controllers.

use std::io;
use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::error::CgroupError;
use crate::fs::write_file;

/// The period cgroup v2 documents as `cpu.max`'s default; runc writes it when the spec gives a
/// quota alone, since `cpu.max` takes both fields.
const DEFAULT_PERIOD: u64 = 100_000;

/// runc's conversion of v1 shares [2, 262144] to a v2 weight [1, 10000].
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

/// `cpu.max`'s value: runc's `setCPU` (quota or `max`, then the period).
pub(crate) fn cpu_max(quota: i64, period: u64) -> String {
    let quota = if quota > 0 {
        quota.to_string()
    } else {
        "max".to_owned()
    };
    let period = if period == 0 { DEFAULT_PERIOD } else { period };
    format!("{quota} {period}")
}

/// Weight, idle, burst, bandwidth, in runc's order (a burst refused for exceeding the old
/// quota is retried after `cpu.max`). cgroup v2 has no realtime group scheduling files, so a
/// spec asking for realtime bandwidth is refused rather than silently run without it.
pub(crate) fn apply(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if c.realtime_runtime().unwrap_or(0) != 0 || c.realtime_period().unwrap_or(0) != 0 {
        return Err(CgroupError::Unsupported {
            resource: "cpu.realtimeRuntime/realtimePeriod".to_owned(),
            hierarchy: "cgroup v2",
            reason: "the kernel has no realtime group scheduling in cgroup v2 (cpu.rt_* files)",
        });
    }
    if let Some(shares) = c.shares().filter(|s| *s != 0) {
        write_file(dir, "cpu.weight", &shares_to_weight(shares).to_string())?;
    }
    if let Some(idle) = c.idle() {
        write_file(dir, "cpu.idle", &idle.to_string())?;
    }
    let quota = c.quota().unwrap_or(0);
    let period = c.period().unwrap_or(0);
    let bandwidth = quota != 0 || period != 0;
    let mut retry_burst = None;
    if let Some(b) = c.burst() {
        match write_file(dir, "cpu.max.burst", &b.to_string()) {
            Err(CgroupError::Write { source, .. })
                if source.kind() == io::ErrorKind::InvalidInput && quota != 0 =>
            {
                retry_burst = Some(b);
            }
            other => other?,
        }
    }
    if bandwidth {
        write_file(dir, "cpu.max", &cpu_max(quota, period))?;
        if let Some(b) = retry_burst {
            write_file(dir, "cpu.max.burst", &b.to_string())?;
        }
    }
    Ok(())
}

/// `cpuset.cpus` and `cpuset.mems`, same names as v1.
pub(crate) fn cpuset(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    for (value, file) in [(c.cpus(), "cpuset.cpus"), (c.mems(), "cpuset.mems")] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            write_file(dir, file, v)?;
        }
    }
    Ok(())
}
