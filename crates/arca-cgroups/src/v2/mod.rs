//! cgroup v2: one tree; a controller's files only appear in a cgroup once the parent lists the
//! controller in `cgroup.subtree_control`.

use std::path::Path;
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;

use crate::error::CgroupError;
use crate::fs::{mkdir, read_file, read_optional, write_file};

pub(crate) mod cpu;
pub(crate) mod io;
pub(crate) mod memory;
pub(crate) mod misc;
pub(crate) mod unified;

/// Controllers enabled for containers, when the host offers them.
pub(crate) const WANTED: &[&str] = &["memory", "pids", "cpu", "io", "cpuset", "hugetlb", "rdma"];

/// Creates `dir` below `mount_point`, enabling the `wanted` controllers in each ancestor first
/// so that the new cgroup has their files ([`WANTED`] on a unified host; on a hybrid host those
/// no v1 hierarchy carries). Best effort: an ancestor with processes of its own cannot delegate
/// domain controllers ("no internal processes"), which is logged, not fatal.
pub(crate) fn create(mount_point: &Path, dir: &Path, wanted: &[&str]) -> Result<(), CgroupError> {
    let rel = dir.strip_prefix(mount_point).unwrap_or(dir);
    let mut cur = mount_point.to_owned();
    for component in rel.components() {
        enable_controllers(&cur, wanted)?;
        cur.push(component);
        mkdir(&cur)?;
    }
    Ok(())
}

/// Adds the wanted controllers that `dir` offers but has not enabled yet. Reads first so a
/// second container under the same parent costs no write.
fn enable_controllers(dir: &Path, wanted: &[&str]) -> Result<(), CgroupError> {
    let Some(available) = read_optional(&dir.join("cgroup.controllers"))? else {
        return Ok(());
    };
    let enabled = read_optional(&dir.join("cgroup.subtree_control"))?.unwrap_or_default();
    let missing: Vec<String> = wanted
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

/// Writes the resources the spec sets, in runc's `fs2` order, `unified` last so its raw values
/// win. A missing control file (controller not enabled) is an error naming the file. The v1-only
/// resources (`network`: net_cls/net_prio) have no v2 files; runc ignores them, so does this,
/// with a warning.
pub(crate) fn apply(dir: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(p) = r.pids() {
        write_file(dir, "pids.max", &crate::pids_max(p.limit()))?;
    }
    if let Some(m) = r.memory() {
        crate::v1::warn_kernel(m);
        memory::apply(dir, m)?;
    }
    if let Some(b) = r.block_io().as_ref().filter(|b| crate::v1::blkio_is_set(b)) {
        io::apply(dir, b)?;
    }
    if let Some(c) = r.cpu() {
        cpu::apply(dir, c)?;
    }
    if let Some(rules) = r.devices().as_ref().filter(|d| !d.is_empty()) {
        crate::devices_ebpf::apply(dir, rules)?;
    }
    if let Some(c) = r.cpu() {
        cpu::cpuset(dir, c)?;
    }
    if let Some(limits) = r.hugepage_limits().as_deref().filter(|l| !l.is_empty()) {
        misc::hugetlb(dir, limits)?;
    }
    if let Some(rdma) = r.rdma().as_ref().filter(|r| !r.is_empty()) {
        misc::rdma(dir, rdma)?;
    }
    if let Some(n) = r.network() {
        let prios = n.priorities().as_ref().is_some_and(|p| !p.is_empty());
        if n.class_id().unwrap_or(0) != 0 || prios {
            tracing::warn!(
                "cgroup v2 has no net_cls/net_prio, ignoring resources.network (as runc)"
            );
        }
    }
    if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
        unified::apply(dir, u)?;
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
