//! Resource usage of a cgroup in the JSON shape of runc's `events --stats` (runc's
//! `types.Stats`), which containerd's metrics and other runc consumers parse.
//!
//! Collection is best effort like runc's: a controller that is not mounted (or not delegated on
//! cgroup2) leaves its fields zero. On a hybrid host each controller is read from the v1
//! hierarchy carrying it, and only controllers v1 lacks come from the cgroup2 tree.

mod parse;
mod types;
mod v1;
mod v2;

use std::path::Path;

pub use types::*;

use crate::error::CgroupError;
use crate::hierarchy::Hierarchy;
use crate::Cgroup;

type Result<T> = std::result::Result<T, CgroupError>;

impl Cgroup {
    /// Current usage counters of the cgroup. A file that exists but cannot be read or parsed
    /// is an error naming it; missing files only leave fields zero.
    pub fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        let v1 = |controller: &str| {
            self.v1
                .iter()
                .find(|d| d.has(controller))
                .map(|d| d.dir.as_path())
        };
        let v2 = self.unified.as_ref().map(|(_, d)| d.as_path());

        let (cpuacct, cpu) = (v1("cpuacct"), v1("cpu"));
        if let Some(dir) = cpuacct {
            v1::cpuacct(dir, &mut s)?;
        }
        if let Some(dir) = cpu {
            v1::cpu(dir, &mut s)?;
        }
        if let (Some(dir), true) = (v2, cpuacct.is_none() || cpu.is_none()) {
            v2::cpu(dir, &mut s, cpuacct.is_none(), cpu.is_none())?;
        }
        either(v1("cpuset"), v2, &mut s, v1::cpuset, v2::cpuset)?;
        either(v1("memory"), v2, &mut s, v1::memory, v2::memory)?;
        either(v1("pids"), v2, &mut s, pids, pids)?;
        either(v1("blkio"), v2, &mut s, v1::blkio, v2::io)?;
        either(v1("hugetlb"), v2, &mut s, v1::hugetlb, v2::hugetlb)?;

        // runc reads pressure only through its cgroup2 manager, i.e. on unified hosts.
        if let (Some(dir), Hierarchy::Unified) = (v2, self.hierarchy) {
            s.cpu.psi = v2::psi(dir, "cpu.pressure")?;
            s.memory.psi = v2::psi(dir, "memory.pressure")?;
            s.blkio.psi = v2::psi(dir, "io.pressure")?;
        }
        Ok(s)
    }
}

type Collector = fn(&Path, &mut Stats) -> Result<()>;

/// Collects a controller from its v1 directory if v1 carries it, else from the cgroup2 one.
fn either(
    v1_dir: Option<&Path>,
    v2_dir: Option<&Path>,
    s: &mut Stats,
    from_v1: Collector,
    from_v2: Collector,
) -> Result<()> {
    match (v1_dir, v2_dir) {
        (Some(dir), _) => from_v1(dir, s),
        (None, Some(dir)) => from_v2(dir, s),
        (None, None) => Ok(()),
    }
}

/// `pids.current` and `pids.max` read the same on v1 and v2; `max` (no limit) is reported as 0.
fn pids(dir: &Path, s: &mut Stats) -> Result<()> {
    s.pids.current = parse::read_uint(dir, "pids.current")?.unwrap_or(0);
    s.pids.limit = match parse::read_uint(dir, "pids.max")? {
        Some(u64::MAX) | None => 0,
        Some(limit) => limit,
    };
    Ok(())
}

#[cfg(test)]
mod tests;
