//! cgroup v2: one tree; a controller's files only appear in a cgroup once the parent lists the
//! controller in `cgroup.subtree_control`.

use std::path::Path;
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxResources};

use crate::error::CgroupError;
use crate::fs::{mkdir, read_file, read_optional, write_file};

/// Controllers enabled for containers, when the host offers them.
const WANTED: &[&str] = &["memory", "pids", "cpu", "io", "cpuset", "hugetlb"];

/// Creates `dir` below `mount_point`, enabling the wanted controllers in each ancestor first so
/// that the new cgroup has their files. Best effort: an ancestor with processes of its own cannot
/// delegate domain controllers ("no internal processes"), which is logged, not fatal.
pub(crate) fn create(mount_point: &Path, dir: &Path) -> Result<(), CgroupError> {
    let rel = dir.strip_prefix(mount_point).unwrap_or(dir);
    let mut cur = mount_point.to_owned();
    for component in rel.components() {
        enable_controllers(&cur)?;
        cur.push(component);
        mkdir(&cur)?;
    }
    Ok(())
}

/// Adds the wanted controllers that `dir` offers but has not enabled yet. Reads first so a
/// second container under the same parent costs no write.
fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let Some(available) = read_optional(&dir.join("cgroup.controllers"))? else {
        return Ok(());
    };
    let enabled = read_optional(&dir.join("cgroup.subtree_control"))?.unwrap_or_default();
    let missing: Vec<String> = WANTED
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if write_file(dir, "cgroup.subtree_control", &missing.join(" ")).is_ok() {
        return Ok(());
    }
    // One refused controller fails the whole write; enable what can be enabled.
    for c in &missing {
        if let Err(e) = write_file(dir, "cgroup.subtree_control", c) {
            tracing::debug!("not enabling a controller: {e}");
        }
    }
    Ok(())
}

/// Writes the resources the spec sets. A missing control file (controller not enabled) is an
/// error naming the file.
pub(crate) fn apply(dir: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(m) = r.memory() {
        memory(dir, m)?;
    }
    if let Some(p) = r.pids() {
        write_file(dir, "pids.max", &crate::pids_max(p.limit()))?;
    }
    if let Some(c) = r.cpu() {
        cpu(dir, c)?;
    }
    if let Some(rules) = r.devices().as_ref().filter(|d| !d.is_empty()) {
        crate::devices_ebpf::apply(dir, rules)?;
    }
    Ok(())
}

/// Writes `cgroup.freeze` and polls `cgroup.events` until its `frozen` line agrees.
pub(crate) fn set_frozen(dir: &Path, frozen: bool, timeout: Duration) -> Result<(), CgroupError> {
    let value = if frozen { "1" } else { "0" };
    write_file(dir, "cgroup.freeze", value)?;
    let events = dir.join("cgroup.events");
    let deadline = Instant::now() + timeout;
    let mut round = 0u32;
    loop {
        let text = read_file(&events)?;
        let state = text
            .lines()
            .find_map(|l| l.strip_prefix("frozen "))
            .map(str::trim)
            .unwrap_or("");
        if state == value {
            return Ok(());
        }
        if Instant::now() >= deadline {
            if frozen {
                let _ = write_file(dir, "cgroup.freeze", "0");
            }
            return Err(CgroupError::FreezeTimeout {
                path: events,
                want: if frozen { "frozen 1" } else { "frozen 0" },
                state: format!("frozen {state}"),
            });
        }
        round += 1;
        std::thread::sleep(Duration::from_millis(if round < 10 { 1 } else { 10 }));
    }
}

/// runc's `numToStr`: 0 is unset, -1 is unlimited.
fn num(v: i64) -> Option<String> {
    match v {
        0 => None,
        -1 => Some("max".to_owned()),
        n => Some(n.to_string()),
    }
}

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

fn memory(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    let limit = m.limit().unwrap_or(0);
    let spec_swap = m.swap().unwrap_or(0);
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
    if let Some(r) = num(m.reservation().unwrap_or(0)) {
        write_file(dir, "memory.low", &r)?;
    }
    Ok(())
}

/// runc's conversion of v1 shares [2, 262144] to a v2 weight [1, 10000].
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

fn cpu(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(shares) = c.shares().filter(|s| *s != 0) {
        write_file(dir, "cpu.weight", &shares_to_weight(shares).to_string())?;
    }
    let quota = c.quota().unwrap_or(0);
    let period = c.period().unwrap_or(0);
    if quota != 0 || period != 0 {
        let mut value = if quota > 0 {
            quota.to_string()
        } else {
            "max".to_owned()
        };
        if period != 0 {
            value = format!("{value} {period}");
        }
        write_file(dir, "cpu.max", &value)?;
    }
    for (value, file) in [(c.cpus(), "cpuset.cpus"), (c.mems(), "cpuset.mems")] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            write_file(dir, file, v)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_conversion_matches_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1);
    }

    #[test]
    fn swap_conversion_matches_runc() {
        assert_eq!(swap_v2(0, -1).ok(), Some(-1));
        assert_eq!(swap_v2(-1, 100).ok(), Some(-1));
        assert_eq!(swap_v2(0, 100).ok(), Some(0));
        assert_eq!(swap_v2(300, 100).ok(), Some(200));
        assert_eq!(swap_v2(100, 100).ok(), Some(0));
        assert!(swap_v2(50, 100).is_err());
        assert!(swap_v2(50, 0).is_err());
    }
}
