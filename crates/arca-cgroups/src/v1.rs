//! cgroup v1: one directory per controller hierarchy, limits written in v1 file names.
//! Used on legacy and hybrid hosts (on hybrid the v1 controllers hold every controller that
//! matters; the cgroup2 tree only tracks processes).

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::{
    LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory, LinuxResources,
};

use crate::error::CgroupError;
use crate::fs::{mkdir, mkdir_all, read_file, read_optional, write_file};

const MEMSW: &str = "memory.memsw.limit_in_bytes";

/// A container's directory in one v1 hierarchy.
#[derive(Debug, Clone)]
pub(crate) struct V1Dir {
    /// The mount point's file name (`cpu,cpuacct`, `memory`, `systemd`): what a container sees
    /// under its own `/sys/fs/cgroup`.
    pub(crate) name: String,
    /// The controllers of the hierarchy (`name=systemd` for a named one).
    pub(crate) controllers: Vec<String>,
    pub(crate) mount_point: PathBuf,
    pub(crate) dir: PathBuf,
}

impl V1Dir {
    pub(crate) fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The directory of `controller`, or an error naming the file the spec wanted to write.
fn require<'a>(
    dirs: &'a [V1Dir],
    controller: &'static str,
    file: &'static str,
) -> Result<&'a Path, CgroupError> {
    dirs.iter()
        .find(|d| d.has(controller))
        .map(|d| d.dir.as_path())
        .ok_or(CgroupError::MissingController { controller, file })
}

/// Creates the directory and its missing ancestors. In a cpuset hierarchy a new cgroup starts
/// with empty `cpuset.cpus`/`cpuset.mems` and refuses processes until they are filled, so each
/// level gets its parent's values when empty (as runc does).
pub(crate) fn create(d: &V1Dir) -> Result<(), CgroupError> {
    let Ok(rel) = d.dir.strip_prefix(&d.mount_point) else {
        return mkdir_all(&d.dir);
    };
    if !d.has("cpuset") {
        return mkdir_all(&d.dir);
    }
    let mut cur = d.mount_point.clone();
    for component in rel.components() {
        let parent = cur.clone();
        cur.push(component);
        mkdir(&cur)?;
        for file in ["cpuset.cpus", "cpuset.mems"] {
            copy_if_empty(&parent, &cur, file)?;
        }
    }
    Ok(())
}

fn copy_if_empty(parent: &Path, child: &Path, file: &str) -> Result<(), CgroupError> {
    match read_optional(&child.join(file))? {
        Some(v) if v.trim().is_empty() => {
            let value = read_file(&parent.join(file))?;
            write_file(child, file, value.trim())
        }
        _ => Ok(()),
    }
}

/// Writes the resources the spec sets. A controller the spec needs but the host lacks is an
/// error, except swap accounting (`memory.memsw.*`), which is skipped when the kernel has it off.
pub(crate) fn apply(dirs: &[V1Dir], r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(m) = r.memory() {
        memory(dirs, m)?;
    }
    if let Some(p) = r.pids() {
        let dir = require(dirs, "pids", "pids.max")?;
        write_file(dir, "pids.max", &crate::pids_max(p.limit()))?;
    }
    if let Some(c) = r.cpu() {
        cpu(dirs, c)?;
    }
    if let Some(rules) = r.devices() {
        devices(require(dirs, "devices", "devices.allow")?, rules)?;
    }
    Ok(())
}

/// Writes FROZEN or THAWED to `freezer.state` and polls until it reads back so: freezing can
/// read FREEZING for a while (a task in an uninterruptible sleep), so FROZEN is re-written
/// now and then, as runc does. On timeout a freeze is undone (thawed) before the error.
pub(crate) fn set_frozen(dir: &Path, frozen: bool, timeout: Duration) -> Result<(), CgroupError> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let file = dir.join("freezer.state");
    let deadline = Instant::now() + timeout;
    let mut round = 0u32;
    loop {
        if round.is_multiple_of(50) {
            write_file(dir, "freezer.state", want)?;
        }
        let state = read_file(&file)?;
        let state = state.trim();
        if state == want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            if frozen {
                let _ = write_file(dir, "freezer.state", "THAWED");
            }
            return Err(CgroupError::FreezeTimeout {
                path: file,
                want,
                state: state.to_owned(),
            });
        }
        round += 1;
        std::thread::sleep(Duration::from_millis(if round < 10 { 1 } else { 10 }));
    }
}

/// Memory limit, swap and reservation. The kernel insists that memsw >= limit at every
/// moment, so the write order depends on whether the limit goes up or down (runc's
/// `setMemoryAndSwap`). 0 means unset, as in runc.
fn memory(dirs: &[V1Dir], m: &LinuxMemory) -> Result<(), CgroupError> {
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    let reservation = m.reservation().unwrap_or(0);
    if limit == 0 && swap == 0 && reservation == 0 {
        return Ok(());
    }
    let dir = require(dirs, "memory", "memory.limit_in_bytes")?;
    let memsw = dir.join(MEMSW).exists();
    if limit == -1 && swap == 0 && memsw {
        // Unlimited memory with swap unset means unlimited memory+swap too.
        swap = -1;
    }
    let set_limit = || match limit {
        0 => Ok(()),
        l => write_file(dir, "memory.limit_in_bytes", &l.to_string()),
    };
    let set_swap = || match swap {
        0 => Ok(()),
        _ if !memsw => {
            tracing::debug!("swap accounting is off ({MEMSW} missing), ignoring memory.swap");
            Ok(())
        }
        s => write_file(dir, MEMSW, &s.to_string()),
    };
    let swap_first = limit != 0 && swap != 0 && {
        let cur = read_file(&dir.join("memory.limit_in_bytes"))?;
        let cur: u64 = cur.trim().parse().map_err(|_| CgroupError::Parse {
            path: dir.join("memory.limit_in_bytes"),
            reason: format!("{:?} is not a number", cur.trim()),
        })?;
        swap == -1 || u64::try_from(swap).is_ok_and(|s| cur < s)
    };
    if swap_first {
        set_swap()?;
        set_limit()?;
    } else {
        set_limit()?;
        set_swap()?;
    }
    if reservation != 0 {
        write_file(dir, "memory.soft_limit_in_bytes", &reservation.to_string())?;
    }
    Ok(())
}

fn cpu(dirs: &[V1Dir], c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(shares) = c.shares().filter(|s| *s != 0) {
        let dir = require(dirs, "cpu", "cpu.shares")?;
        write_file(dir, "cpu.shares", &shares.to_string())?;
    }
    let quota = c.quota().filter(|q| *q != 0);
    let period = c.period().filter(|p| *p != 0);
    if quota.is_some() || period.is_some() {
        let dir = require(dirs, "cpu", "cpu.cfs_quota_us")?;
        // A period shorter than the current one can be refused (EINVAL) because old quota /
        // new period exceeds the parent's limit; then it is retried after the quota (runc).
        let mut retry_period = None;
        if let Some(p) = period {
            match write_file(dir, "cpu.cfs_period_us", &p.to_string()) {
                Err(CgroupError::Write { source, .. })
                    if source.kind() == io::ErrorKind::InvalidInput && quota.is_some() =>
                {
                    retry_period = Some(p);
                }
                other => other?,
            }
        }
        if let Some(q) = quota {
            write_file(dir, "cpu.cfs_quota_us", &q.to_string())?;
        }
        if let Some(p) = retry_period {
            write_file(dir, "cpu.cfs_period_us", &p.to_string())?;
        }
    }
    for (value, file) in [(c.cpus(), "cpuset.cpus"), (c.mems(), "cpuset.mems")] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            write_file(require(dirs, "cpuset", file)?, file, v)?;
        }
    }
    Ok(())
}

/// Deny everything, then replay the spec's rules in order, each to `devices.allow` or
/// `devices.deny`.
fn devices(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    write_file(dir, "devices.deny", "a")?;
    for rule in rules {
        let Some(line) = rule_line(rule) else {
            continue;
        };
        let file = if rule.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write_file(dir, file, &line)?;
    }
    Ok(())
}

/// A rule as the v1 devices controller wants it: `type major:minor access`, `*` for wildcards.
/// `None` for FIFOs, which the device controller does not govern.
pub(crate) fn rule_line(rule: &LinuxDeviceCgroup) -> Option<String> {
    let typ = match rule.typ().unwrap_or_default() {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => {
            tracing::debug!("ignoring device rule for FIFOs: {rule}");
            return None;
        }
    };
    let num = |n: Option<i64>| match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".to_owned(),
    };
    let access = rule.access().as_deref().filter(|a| !a.is_empty());
    Some(format!(
        "{typ} {}:{} {}",
        num(rule.major()),
        num(rule.minor()),
        access.unwrap_or("rwm")
    ))
}
