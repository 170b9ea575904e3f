//! cgroup management for arca on cgroup v1 (legacy), hybrid and v2 (unified) hosts.
//!
//! A container's cgroup is one path (e.g. `/arca/ctr1`) that exists in every mounted hierarchy:
//! each v1 controller hierarchy (including named ones such as `name=systemd`) and the cgroup2
//! tree. [`Cgroup`] maps that path to its directories once, then creates, configures, signals and
//! removes them. Hierarchies are discovered from `/proc/self/mountinfo`, or given explicitly with
//! [`Cgroup::open_with_mounts`] so tests can run on a fake tree in a temporary directory.

mod devices;
mod devices_ebpf;
mod error;
mod fs;
mod hierarchy;
mod join;
mod oom;
mod stats;
pub mod systemd;
mod v1;
mod v2;

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

pub use devices::{default_allowed_devices, device_rule};
pub use error::CgroupError;
pub use hierarchy::{detect, mounts, own_cgroup_path, Hierarchy, Mount, MountKind};
pub use join::SelfJoin;
pub use oom::OomWatcher;
pub use stats::Stats;

use fs::{parse_pids, read_file, write_file};
use v1::V1Dir;

/// How many times [`Cgroup::kill_all`] re-reads the cgroup for processes forked while it was
/// sending SIGKILL.
const KILL_ROUNDS: usize = 10;

/// How long [`Cgroup::freeze`] and [`Cgroup::thaw`] wait for the kernel to report the new state.
const FREEZE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A container's cgroup: the same path under every mounted hierarchy.
#[derive(Debug, Clone)]
pub struct Cgroup {
    path: PathBuf,
    hierarchy: Hierarchy,
    v1: Vec<V1Dir>,
    /// (mount point, directory) in the cgroup2 tree, on hybrid and unified hosts.
    unified: Option<(PathBuf, PathBuf)>,
}

impl Cgroup {
    /// The cgroup at absolute cgroup path `path` (e.g. `/arca/ctr1`; the runtime resolves
    /// runc's `cgroupsPath` rules first) in the hierarchies mounted on this host. Reads the
    /// mount table once per process; does not touch the cgroup itself.
    pub fn open(path: &Path) -> Result<Cgroup, CgroupError> {
        Cgroup::open_with_mounts(path, mounts()?.to_vec())
    }

    /// Same as [`Cgroup::open`] with the hierarchies given instead of discovered, e.g. a fake
    /// tree in a temporary directory built from [`Mount::v1`] and [`Mount::v2`]. The layout
    /// (legacy, hybrid, unified) follows from the mounts given.
    pub fn open_with_mounts(path: &Path, mounts: Vec<Mount>) -> Result<Cgroup, CgroupError> {
        let path = normalize(path)?;
        let hierarchy = hierarchy::hierarchy_of(&mounts).ok_or(CgroupError::NoHierarchy {
            path: "the mounts given".into(),
        })?;
        let mut v1 = Vec::new();
        let mut unified = None;
        for m in mounts {
            let dir = m.dir_of(&path);
            match m.kind {
                MountKind::V2 => unified = Some((m.mount_point, dir)),
                // A stray named v1 hierarchy on a v2 host is not ours to manage.
                MountKind::V1(_) if hierarchy == Hierarchy::Unified => {}
                MountKind::V1(controllers) => v1.push(V1Dir {
                    name: m
                        .mount_point
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    controllers,
                    mount_point: m.mount_point,
                    dir,
                }),
            }
        }
        Ok(Cgroup {
            path,
            hierarchy,
            v1,
            unified,
        })
    }

    /// The cgroup path this was opened with (normalized).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The host's layout as seen through the mounts.
    pub fn hierarchy(&self) -> Hierarchy {
        self.hierarchy
    }

    /// The cgroup2 directory (unified and hybrid hosts), for `CLONE_INTO_CGROUP`.
    pub fn unified_dir(&self) -> Option<PathBuf> {
        self.unified.as_ref().map(|(_, dir)| dir.clone())
    }

    /// The directory holding `controller`'s files: the v1 hierarchy carrying it, or the cgroup2
    /// directory on a unified host. `None` if no mounted hierarchy carries it.
    pub fn controller_dir(&self, controller: &str) -> Option<PathBuf> {
        if self.hierarchy == Hierarchy::Unified {
            return self.unified_dir();
        }
        self.v1
            .iter()
            .find(|d| d.has(controller))
            .map(|d| d.dir.clone())
    }

    /// For mounting `cgroup` inside a container: per v1 hierarchy, the mount point's name (e.g.
    /// `cpu,cpuacct`, `memory`, `systemd`) and this cgroup's directory on the host. Empty on a
    /// unified host (use [`Cgroup::unified_dir`]).
    pub fn v1_dirs(&self) -> Vec<(String, PathBuf)> {
        self.v1
            .iter()
            .map(|d| (d.name.clone(), d.dir.clone()))
            .collect()
    }

    /// Every directory of this cgroup: the v1 ones, then the cgroup2 one.
    fn dirs(&self) -> impl Iterator<Item = &Path> {
        let v1 = self.v1.iter().map(|d| d.dir.as_path());
        v1.chain(self.unified.iter().map(|(_, d)| d.as_path()))
    }

    /// Where processes are listed: the cgroup2 tree on a unified host; else the v1 `pids`,
    /// `memory` or `freezer` hierarchy (mounted nearly everywhere), else any.
    fn primary_dir(&self) -> Option<&Path> {
        if self.hierarchy == Hierarchy::Unified {
            return self.unified.as_ref().map(|(_, d)| d.as_path());
        }
        ["pids", "memory", "freezer"]
            .iter()
            .find_map(|c| self.v1.iter().find(|d| d.has(c)))
            .or(self.v1.first())
            .map(|d| d.dir.as_path())
    }

    /// Creates the cgroup (and missing ancestors) in every hierarchy. v1 cpuset levels get their
    /// parent's cpus/mems; in the cgroup2 tree the ancestors delegate the available controllers
    /// (memory pids cpu io cpuset hugetlb rdma, best effort) so limits can be written. On a
    /// hybrid host only those no v1 hierarchy carries are delegated (see the `v1` module: their
    /// limits are written in the cgroup2 tree).
    pub fn create(&self) -> Result<(), CgroupError> {
        for d in &self.v1 {
            v1::create(d)?;
        }
        match &self.unified {
            Some((mount_point, dir)) if self.hierarchy == Hierarchy::Unified => {
                v2::create(mount_point, dir, v2::WANTED)
            }
            Some((mount_point, dir)) => v2::create(mount_point, dir, &v1::hybrid_wanted(&self.v1)),
            None => Ok(()),
        }
    }

    /// The v1 hierarchies' `tasks` files opened for a process to move itself in (see
    /// [`SelfJoin`] for why); with `CLONE_INTO_CGROUP` into [`Cgroup::unified_dir`] this
    /// replaces [`Cgroup::add_pid`] for a new container init. The cgroup must exist.
    pub fn self_join(&self) -> Result<SelfJoin, CgroupError> {
        SelfJoin::open(self.v1.iter().map(|d| d.dir.clone()))
    }

    /// Moves process `pid` into the cgroup in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        let pid = pid.to_string();
        self.dirs()
            .try_for_each(|dir| write_file(dir, "cgroup.procs", &pid))
    }

    /// Writes the limits in `resources` with runc's semantics (see the crate's v1/v2 modules for
    /// the conversions). Resources the spec sets whose controller is missing are an error naming
    /// the file, except where runc deliberately ignores them (v1 swap accounting off, kernel
    /// memory, v2-less settings such as swappiness on cgroup v2), which are logged. On a hybrid
    /// host a controller no v1 hierarchy carries but the cgroup2 tree offers is written there.
    pub fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        match &self.unified {
            Some((_, dir)) if self.hierarchy == Hierarchy::Unified => v2::apply(dir, resources),
            Some((mount_point, dir)) => {
                let hybrid = v1::Hybrid::read(mount_point, dir)?;
                v1::apply(&self.v1, Some(&hybrid), resources)
            }
            None => v1::apply(&self.v1, None, resources),
        }
    }

    /// Freezes every process of the cgroup (v1 `freezer.state` FROZEN, v2 `cgroup.freeze` 1)
    /// and waits until the kernel reports the cgroup frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.set_frozen(true)
    }

    /// Thaws the cgroup (v1 `freezer.state` THAWED, v2 `cgroup.freeze` 0) and waits until the
    /// kernel reports it thawed.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        match &self.unified {
            Some((_, dir)) if self.hierarchy == Hierarchy::Unified => {
                v2::set_frozen(dir, frozen, FREEZE_TIMEOUT)
            }
            _ => {
                let dir = self.v1.iter().find(|d| d.has("freezer")).ok_or(
                    CgroupError::MissingController {
                        controller: "freezer",
                        file: "freezer.state",
                    },
                )?;
                v1::set_frozen(&dir.dir, frozen, FREEZE_TIMEOUT)
            }
        }
    }

    /// All processes in the cgroup and the cgroups below it, sorted.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let Some(dir) = self.primary_dir() else {
            return Ok(Vec::new());
        };
        let mut pids = Vec::new();
        collect_pids(dir, &mut pids, true)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// Sends `signal` to every process of the cgroup. SIGKILL on cgroup2 uses `cgroup.kill`
    /// (kernel ≥ 5.14), which cannot miss a process forking meanwhile; otherwise each pid is
    /// signalled, and for SIGKILL the cgroup is re-read for processes forked in the meantime. A
    /// cgroup that does not exist has nothing to kill.
    pub fn kill_all(&self, signal: Signal) -> Result<(), CgroupError> {
        if !self.exists() {
            return Ok(());
        }
        if let (Signal::SIGKILL, Hierarchy::Unified, Some((_, dir))) =
            (signal, self.hierarchy, &self.unified)
        {
            match write_file(dir, "cgroup.kill", "1") {
                Err(CgroupError::MissingFile { .. }) => {}
                other => return other,
            }
        }
        let mut signalled = HashSet::new();
        for _ in 0..KILL_ROUNDS {
            let fresh: Vec<i32> = self
                .pids()?
                .into_iter()
                .filter(|p| signalled.insert(*p))
                .collect();
            if fresh.is_empty() {
                break;
            }
            for pid in fresh {
                match kill(Pid::from_raw(pid), signal) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(source) => {
                        return Err(CgroupError::Kill {
                            pid,
                            signal,
                            source,
                        })
                    }
                }
            }
            if signal != Signal::SIGKILL {
                break;
            }
        }
        Ok(())
    }

    /// Removes the cgroup (and any cgroups created below it, deepest first) from every
    /// hierarchy, retrying briefly while just-killed processes are still leaving. Missing
    /// directories are fine; ancestors are left alone (they may be shared). Tries every
    /// hierarchy and reports the first failure.
    pub fn remove(&self) -> Result<(), CgroupError> {
        let mut first_err = None;
        for dir in self.dirs() {
            if let Err(e) = fs::remove_tree(dir) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Whether the cgroup's directory exists (in the hierarchy processes are listed from).
    pub fn exists(&self) -> bool {
        self.primary_dir().is_some_and(Path::is_dir)
    }
}

/// Appends the pids of `dir` and its descendants. Only the top directory must exist: children
/// can disappear while walking.
fn collect_pids(dir: &Path, out: &mut Vec<i32>, top: bool) -> Result<(), CgroupError> {
    let procs = dir.join("cgroup.procs");
    let text = match read_file(&procs) {
        Ok(t) => t,
        Err(CgroupError::Read { source, .. })
            if !top && source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    out.extend(parse_pids(&procs, &text)?);
    let children = match fs::subdirs(dir) {
        Ok(c) => c,
        Err(CgroupError::ReadDir { source, .. })
            if !top && source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    for child in children {
        collect_pids(&child, out, false)?;
    }
    Ok(())
}

/// Checks a cgroup path: absolute, not the root, no `..` that would escape the cgroup
/// filesystem. `.` components and repeated slashes are dropped.
fn normalize(path: &Path) -> Result<PathBuf, CgroupError> {
    let invalid = |reason| CgroupError::InvalidPath {
        path: path.to_owned(),
        reason,
    };
    if !path.is_absolute() {
        return Err(invalid("must be absolute"));
    }
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return Err(invalid("contains \"..\"")),
        }
    }
    if out == Path::new("/") {
        return Err(invalid("is the root cgroup"));
    }
    Ok(out)
}

/// `pids.max` for a spec limit: a positive count, else `max` (no limit).
pub(crate) fn pids_max(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".to_owned()
    }
}

#[cfg(test)]
mod tests;
