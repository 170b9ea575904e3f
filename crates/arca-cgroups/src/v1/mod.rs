//! cgroup v1: one directory per controller hierarchy, limits written in v1 file names.
//! Used on legacy and hybrid hosts.
//!
//! On a hybrid host the kernel binds each controller to exactly one hierarchy, so a controller
//! that no v1 hierarchy carries may be offered by the cgroup2 tree instead (e.g. `hugetlb` when
//! only the v1 controllers systemd needs are mounted). The rule, applied per controller: a v1
//! hierarchy carrying it wins; otherwise, if the cgroup2 root lists it in `cgroup.controllers`,
//! its resources are written as v2 files in the cgroup2 directory (see [`Hybrid`]); otherwise
//! it is missing, an error naming the file.

mod blkio;
mod cpu;
mod devices;
mod memory;
mod misc;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;

use crate::error::CgroupError;
use crate::fs::{mkdir, mkdir_all, read_file, read_optional, write_file};
use crate::v2;

pub(crate) use blkio::{is_set as blkio_is_set, throttles};
#[cfg(test)]
pub(crate) use devices::rule_line;
pub(crate) use memory::warn_kernel;

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

/// The cgroup2 side of a hybrid host: the container's cgroup2 directory and the controllers
/// the cgroup2 root offers (its `cgroup.controllers`), which can only be ones no v1 hierarchy
/// has bound.
#[derive(Debug)]
pub(crate) struct Hybrid<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) controllers: Vec<String>,
}

impl<'a> Hybrid<'a> {
    /// Reads what the cgroup2 tree mounted at `mount_point` offers; nothing if the file is
    /// missing (an old kernel's cgroup2 without controllers).
    pub(crate) fn read(mount_point: &Path, dir: &'a Path) -> Result<Self, CgroupError> {
        let text = read_optional(&mount_point.join("cgroup.controllers"))?.unwrap_or_default();
        Ok(Hybrid {
            dir,
            controllers: text.split_whitespace().map(str::to_owned).collect(),
        })
    }

    fn offers(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The v1 name of a v2 controller: only the block I/O controller was renamed.
fn v1_name(v2_controller: &str) -> &str {
    match v2_controller {
        "io" => "blkio",
        c => c,
    }
}

/// The controllers to delegate in the cgroup2 tree of a hybrid host: the wanted v2 ones that
/// no v1 hierarchy carries (those that are carried are bound to v1 and cannot be enabled).
pub(crate) fn hybrid_wanted(dirs: &[V1Dir]) -> Vec<&'static str> {
    v2::WANTED
        .iter()
        .copied()
        .filter(|c| !dirs.iter().any(|d| d.has(v1_name(c))))
        .collect()
}

/// Where a controller's files go.
enum Target<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

/// Picks the hierarchy for each controller, per the rule in the module documentation.
struct Router<'a> {
    dirs: &'a [V1Dir],
    hybrid: Option<&'a Hybrid<'a>>,
}

impl<'a> Router<'a> {
    /// The directory of v1 `controller` (v2 name `v2`), or an error naming `file`, the first
    /// file the spec wanted to write.
    fn route(
        &self,
        controller: &'static str,
        v2: &str,
        file: &'static str,
    ) -> Result<Target<'a>, CgroupError> {
        if let Some(d) = self.dirs.iter().find(|d| d.has(controller)) {
            return Ok(Target::V1(&d.dir));
        }
        match self.hybrid {
            Some(h) if h.offers(v2) => Ok(Target::V2(h.dir)),
            _ => Err(CgroupError::MissingController { controller, file }),
        }
    }

    /// The directory of a controller that only exists in v1 (devices, net_cls, net_prio).
    fn v1_only(
        &self,
        controller: &'static str,
        file: &'static str,
    ) -> Result<&'a Path, CgroupError> {
        self.dirs
            .iter()
            .find(|d| d.has(controller))
            .map(|d| d.dir.as_path())
            .ok_or(CgroupError::MissingController { controller, file })
    }
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

/// Writes the resources the spec sets, controller by controller, each to the hierarchy the
/// module's rule picks (`hybrid` is the cgroup2 side on a hybrid host). A controller the spec
/// needs but the host lacks is an error, except where runc deliberately ignores a setting
/// (swap accounting off, the obsolete kernel memory limits, a kernel without `cpu.cfs_burst_us`).
pub(crate) fn apply(
    dirs: &[V1Dir],
    hybrid: Option<&Hybrid<'_>>,
    r: &LinuxResources,
) -> Result<(), CgroupError> {
    let router = Router { dirs, hybrid };
    if let Some(m) = r.memory() {
        memory::warn_kernel(m);
        if memory::is_set(m) {
            match router.route("memory", "memory", "memory.limit_in_bytes")? {
                Target::V1(dir) => memory::apply(dir, m)?,
                Target::V2(dir) => v2::memory::apply(dir, m)?,
            }
        }
    }
    if let Some(p) = r.pids() {
        let dir = match router.route("pids", "pids", "pids.max")? {
            Target::V1(dir) | Target::V2(dir) => dir,
        };
        write_file(dir, "pids.max", &crate::pids_max(p.limit()))?;
    }
    if let Some(c) = r.cpu() {
        if cpu::is_set(c) {
            match router.route("cpu", "cpu", "cpu.shares")? {
                Target::V1(dir) => cpu::apply(dir, c)?,
                Target::V2(dir) => v2::cpu::apply(dir, c)?,
            }
        }
        for (value, file) in [(c.cpus(), "cpuset.cpus"), (c.mems(), "cpuset.mems")] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                match router.route("cpuset", "cpuset", file)? {
                    Target::V1(dir) | Target::V2(dir) => write_file(dir, file, v)?,
                }
            }
        }
    }
    if let Some(rules) = r.devices() {
        devices::apply(router.v1_only("devices", "devices.allow")?, rules)?;
    }
    if let Some(b) = r.block_io() {
        if blkio::is_set(b) {
            match router.route("blkio", "io", "blkio.weight")? {
                Target::V1(dir) => blkio::apply(dir, b)?,
                Target::V2(dir) => v2::io::apply(dir, b)?,
            }
        }
    }
    if let Some(limits) = r.hugepage_limits().as_deref().filter(|l| !l.is_empty()) {
        match router.route("hugetlb", "hugetlb", "hugetlb.<size>.limit_in_bytes")? {
            Target::V1(dir) => misc::hugetlb(dir, limits)?,
            Target::V2(dir) => v2::misc::hugetlb(dir, limits)?,
        }
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id().filter(|id| *id != 0) {
            misc::net_cls(router.v1_only("net_cls", "net_cls.classid")?, id)?;
        }
        if let Some(prios) = n.priorities().as_deref().filter(|p| !p.is_empty()) {
            misc::net_prio(router.v1_only("net_prio", "net_prio.ifpriomap")?, prios)?;
        }
    }
    if let Some(rdma) = r.rdma().as_ref().filter(|r| !r.is_empty()) {
        match router.route("rdma", "rdma", "rdma.max")? {
            Target::V1(dir) | Target::V2(dir) => v2::misc::rdma(dir, rdma)?,
        }
    }
    if let Some(unified) = r.unified().as_ref().filter(|u| !u.is_empty()) {
        unified_on_v1(&router, unified)?;
    }
    Ok(())
}

/// runc refuses `unified` on a non-unified host ("cannot use unified on cgroup v1"): the keys
/// are cgroup2 files. The one exception is a hybrid host's cgroup2 tree, where a key of a
/// controller routed there (per the module's rule) is written like on a unified host.
fn unified_on_v1(
    router: &Router<'_>,
    unified: &HashMap<String, String>,
) -> Result<(), CgroupError> {
    let mut routed = HashMap::new();
    for (key, value) in unified {
        let controller = key.split_once('.').map_or(key.as_str(), |(c, _)| c);
        let carried = router.dirs.iter().any(|d| d.has(v1_name(controller)));
        match router.hybrid {
            Some(h) if !carried && controller != "cgroup" && h.offers(controller) => {
                routed.insert(key.clone(), value.clone());
            }
            _ => {
                return Err(CgroupError::Unsupported {
                    resource: format!("unified {key:?}"),
                    hierarchy: "cgroup v1",
                    reason: "cannot use unified on cgroup v1",
                })
            }
        }
    }
    match router.hybrid {
        Some(h) if !routed.is_empty() => v2::unified::apply(h.dir, &routed),
        _ => Ok(()),
    }
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
