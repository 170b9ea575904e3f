//! v1 `memory` controller.

use std::path::Path;

use nix::errno::Errno;
use oci_spec::runtime::LinuxMemory;

use crate::error::CgroupError;
use crate::fs::{check_before_update, read_u64, write_file};

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW: &str = "memory.memsw.limit_in_bytes";
const USAGE: &str = "memory.usage_in_bytes";

/// Whether the spec sets anything this controller writes (0 means unset, as in runc).
pub(super) fn is_set(m: &LinuxMemory) -> bool {
    m.limit().unwrap_or(0) != 0
        || m.swap().unwrap_or(0) != 0
        || m.reservation().unwrap_or(0) != 0
        || m.swappiness().is_some()
        || m.disable_oom_killer() == Some(true)
}

/// Kernel memory limits were obsoleted in Linux 5.4 (writing them fails or is a no-op on new
/// kernels) and runc ignores them; ignoring silently would hide a spec that expects them.
pub(crate) fn warn_kernel(m: &LinuxMemory) {
    #[allow(deprecated)]
    let kernel = m.kernel();
    if let Some(k) = kernel {
        tracing::warn!(
            limit = k,
            "ignoring linux.resources.memory.kernel (obsolete, as runc)"
        );
    }
    if let Some(k) = m.kernel_tcp() {
        tracing::warn!(
            limit = k,
            "ignoring linux.resources.memory.kernelTCP (obsolete, as runc)"
        );
    }
}

/// Limit, swap, reservation, OOM killer and swappiness, in runc's order. `checkBeforeUpdate`
/// is honoured on v1 too (runc only checks on v2): refusing beats a surprise OOM kill.
pub(super) fn apply(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    let limit = m.limit().unwrap_or(0);
    let swap = m.swap().unwrap_or(0);
    if m.check_before_update() == Some(true) {
        check_before_update(dir, USAGE, limit, swap)?;
    }
    limit_and_swap(dir, limit, swap)?;
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        write_file(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
    }
    // runc only ever writes 1: there is no "re-enable" in the spec, false means leave alone.
    if m.disable_oom_killer() == Some(true) {
        write_file(dir, "memory.oom_control", "1")?;
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(CgroupError::InvalidResource {
                resource: "memory.swappiness",
                reason: format!("{s} is outside 0-100"),
            });
        }
        write_file(dir, "memory.swappiness", &s.to_string())?;
    }
    Ok(())
}

/// The kernel insists that memsw >= limit at every moment, so the write order depends on
/// whether the limit goes up or down (runc's `setMemoryAndSwap`).
fn limit_and_swap(dir: &Path, limit: i64, mut swap: i64) -> Result<(), CgroupError> {
    if limit == 0 && swap == 0 {
        return Ok(());
    }
    let memsw = dir.join(MEMSW).exists();
    if limit == -1 && swap == 0 && memsw {
        // Unlimited memory with swap unset means unlimited memory+swap too.
        swap = -1;
    }
    let set_swap = || match swap {
        0 => Ok(()),
        _ if !memsw => {
            tracing::debug!("swap accounting is off ({MEMSW} missing), ignoring memory.swap");
            Ok(())
        }
        s => write_file(dir, MEMSW, &s.to_string()),
    };
    let swap_first = limit != 0 && swap != 0 && {
        let cur = read_u64(&dir.join(LIMIT))?;
        swap == -1 || u64::try_from(swap).is_ok_and(|s| cur < s)
    };
    if swap_first {
        set_swap()?;
        set_limit(dir, limit)
    } else {
        set_limit(dir, limit)?;
        set_swap()
    }
}

/// Writes the limit; EBUSY (the kernel could not reclaim down to it) becomes an error naming the
/// usage, as runc's `setMemory` does.
fn set_limit(dir: &Path, limit: i64) -> Result<(), CgroupError> {
    if limit == 0 {
        return Ok(());
    }
    match write_file(dir, LIMIT, &limit.to_string()) {
        Err(CgroupError::Write { source, .. })
            if source.raw_os_error() == Some(Errno::EBUSY as i32) =>
        {
            let path = dir.join(USAGE);
            let usage = read_u64(&path)?;
            Err(CgroupError::LimitBelowUsage {
                what: "memory limit",
                limit,
                usage,
                path,
            })
        }
        other => other,
    }
}
