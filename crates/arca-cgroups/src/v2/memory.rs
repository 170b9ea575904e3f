//! v2 `memory` controller: the spec's v1-shaped values converted as runc's `fs2` does.

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use super::num;
use crate::error::CgroupError;
use crate::fs::{check_before_update, write_file};

/// The spec's swap is memory+swap (v1 semantics); `memory.swap.max` is swap alone. runc's
/// `ConvertMemorySwapToCgroupV2Value`.
pub(crate) fn swap_v2(swap: i64, limit: i64) -> Result<i64, CgroupError> {
    let invalid = |reason: &str| CgroupError::InvalidResource {
        resource: "memory.swap",
        reason: reason.to_owned(),
    };
    match (swap, limit) {
        (0, -1) => Ok(-1),
        (-1 | 0, _) => Ok(swap),
        (_, 0 | -1) => Err(invalid("a swap limit needs a memory limit")),
        (_, l) if l < 0 => Err(invalid("negative memory limit")),
        (s, l) if s < l => Err(invalid("memory+swap must be >= the memory limit")),
        (s, l) => Ok(s - l),
    }
}

/// Swap, limit, reservation (runc's `setMemory` order). cgroup v2 has no swappiness, no way
/// to disable the OOM killer and no separate kernel memory: runc's fs2 ignores those, and so
/// does this, with a warning so the spec's author can tell.
pub(crate) fn apply(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    if let Some(s) = m.swappiness() {
        tracing::warn!(
            swappiness = s,
            "cgroup v2 has no memory.swappiness, ignoring it (as runc)"
        );
    }
    if m.disable_oom_killer() == Some(true) {
        tracing::warn!(
            "cgroup v2 cannot disable the OOM killer, ignoring disableOOMKiller (as runc)"
        );
    }
    let limit = m.limit().unwrap_or(0);
    let spec_swap = m.swap().unwrap_or(0);
    let reservation = m.reservation().unwrap_or(0);
    if limit == 0 && spec_swap == 0 && reservation == 0 {
        return Ok(());
    }
    if m.check_before_update() == Some(true) {
        check_before_update(dir, "memory.current", limit, spec_swap)?;
    }
    let swap = swap_v2(spec_swap, limit)?;
    // memory == memory+swap means no swap at all: write 0, which num() would treat as unset.
    let swap = num(swap).or_else(|| (spec_swap > 0).then(|| "0".to_owned()));
    if let Some(s) = swap {
        match write_file(dir, "memory.swap.max", &s) {
            // Without swap accounting there is nothing to turn off or lift.
            Err(CgroupError::MissingFile { .. }) if s == "max" || s == "0" => {}
            other => other?,
        }
    }
    if let Some(l) = num(limit) {
        write_file(dir, "memory.max", &l)?;
    }
    if let Some(r) = num(reservation) {
        write_file(dir, "memory.low", &r)?;
    }
    Ok(())
}
