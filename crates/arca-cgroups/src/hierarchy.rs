//! Which cgroup hierarchies the host has and where they are mounted.
//!
//! Paths are discovered from `/proc/self/mountinfo` rather than assumed: hosts differ
//! (`/sys/fs/cgroup/cpu,cpuacct` vs separate `cpu` and `cpuacct`, a cgroup2 tree at
//! `/sys/fs/cgroup/unified` on hybrid hosts, a subtree mounted inside a container).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC, TMPFS_MAGIC};

use crate::error::CgroupError;
use crate::fs::read_file;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const HYBRID_UNIFIED: &str = "/sys/fs/cgroup/unified";
const MOUNTINFO: &str = "/proc/self/mountinfo";
const PROC_SELF_CGROUP: &str = "/proc/self/cgroup";

/// How the host's cgroups are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hierarchy {
    /// Only cgroup v1 controller hierarchies.
    Legacy,
    /// cgroup v1 controllers, plus a cgroup2 tree (usually `/sys/fs/cgroup/unified`) that systemd
    /// uses for process tracking; limits still go through v1.
    Hybrid,
    /// A single cgroup2 tree holding every controller.
    Unified,
}

/// Detects the layout with one or two `statfs` calls, without reading the mount table.
pub fn detect() -> Result<Hierarchy, CgroupError> {
    let fs_type = |path: &str| {
        statfs(path)
            .map(|st| st.filesystem_type())
            .map_err(|source| CgroupError::Statfs {
                path: path.into(),
                source,
            })
    };
    let root = fs_type(CGROUP_ROOT)?;
    if root == CGROUP2_SUPER_MAGIC {
        Ok(Hierarchy::Unified)
    } else if root == TMPFS_MAGIC {
        // A missing unified mount is the normal legacy case, not an error.
        match fs_type(HYBRID_UNIFIED) {
            Ok(t) if t == CGROUP2_SUPER_MAGIC => Ok(Hierarchy::Hybrid),
            _ => Ok(Hierarchy::Legacy),
        }
    } else if root == CGROUP_SUPER_MAGIC {
        Ok(Hierarchy::Legacy)
    } else {
        Err(CgroupError::UnknownFilesystem {
            path: CGROUP_ROOT.into(),
            fs_type: format!("{:#x}", root.0),
        })
    }
}

/// What a cgroup mount carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A v1 hierarchy with its controllers, e.g. `["cpu", "cpuacct"]`; a named hierarchy without
    /// controllers appears as `["name=systemd"]`.
    V1(Vec<String>),
    /// The cgroup2 tree.
    V2,
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted, e.g. `/sys/fs/cgroup/memory`.
    pub mount_point: PathBuf,
    /// The cgroup shown at the mount point: `/` unless only a subtree is mounted (e.g. inside a
    /// container without a cgroup namespace). Cgroup paths are made relative to it.
    pub root: PathBuf,
    /// v1 controllers or cgroup2.
    pub kind: MountKind,
}

impl Mount {
    /// A v1 hierarchy mounted at `mount_point` showing the whole tree (for tests and callers that
    /// know their layout).
    pub fn v1(mount_point: impl Into<PathBuf>, controllers: &[&str]) -> Mount {
        Mount {
            mount_point: mount_point.into(),
            root: PathBuf::from("/"),
            kind: MountKind::V1(controllers.iter().map(|c| (*c).to_owned()).collect()),
        }
    }

    /// The cgroup2 tree mounted at `mount_point`, showing the whole tree.
    pub fn v2(mount_point: impl Into<PathBuf>) -> Mount {
        Mount {
            mount_point: mount_point.into(),
            root: PathBuf::from("/"),
            kind: MountKind::V2,
        }
    }

    /// The directory of cgroup `path` (absolute) in this hierarchy.
    pub(crate) fn dir_of(&self, path: &Path) -> PathBuf {
        let rel = path
            .strip_prefix(&self.root)
            .or_else(|_| path.strip_prefix("/"))
            .unwrap_or(path);
        self.mount_point.join(rel)
    }

    /// v1 controllers other than named hierarchies: what makes a host legacy or hybrid.
    fn has_real_controllers(&self) -> bool {
        matches!(&self.kind, MountKind::V1(c) if c.iter().any(|c| !c.starts_with("name=")))
    }
}

/// The mounted hierarchies, read from `/proc/self/mountinfo` once per process: mounts do not
/// change under a running runtime, and `create` is on the hot path.
pub fn mounts() -> Result<&'static [Mount], CgroupError> {
    static MOUNTS: OnceLock<Vec<Mount>> = OnceLock::new();
    if let Some(m) = MOUNTS.get() {
        return Ok(m);
    }
    let text = read_file(Path::new(MOUNTINFO))?;
    let parsed = parse_mountinfo(&text);
    if parsed.is_empty() {
        return Err(CgroupError::NoHierarchy {
            path: MOUNTINFO.into(),
        });
    }
    Ok(MOUNTS.get_or_init(|| parsed))
}

/// The hierarchy implied by a set of mounts; `None` if there is no cgroup mount at all.
pub(crate) fn hierarchy_of(mounts: &[Mount]) -> Option<Hierarchy> {
    let v1 = mounts.iter().any(Mount::has_real_controllers);
    let v2 = mounts.iter().any(|m| m.kind == MountKind::V2);
    match (v1, v2) {
        (true, true) => Some(Hierarchy::Hybrid),
        (true, false) => Some(Hierarchy::Legacy),
        (false, true) => Some(Hierarchy::Unified),
        (false, false) => None,
    }
}

/// Parses mountinfo, keeping one mount per hierarchy. When a hierarchy is mounted twice (bind
/// mounts, a container's view propagated back), the one under `/sys/fs/cgroup` wins, else the
/// first.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<Mount> {
    let mut out: Vec<Mount> = Vec::new();
    for mount in text.lines().filter_map(parse_mountinfo_line) {
        let preferred = mount.mount_point.starts_with(CGROUP_ROOT);
        match out.iter_mut().find(|m| m.kind == mount.kind) {
            Some(existing) if preferred && !existing.mount_point.starts_with(CGROUP_ROOT) => {
                *existing = mount;
            }
            Some(_) => {}
            None => out.push(mount),
        }
    }
    out
}

/// One mountinfo line: `id parent maj:min root mount_point opts [optional...] - fstype source
/// super_opts`.
fn parse_mountinfo_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let mut right = right.split(' ');
    let fstype = right.next()?;
    let _source = right.next()?;
    let super_opts = right.next()?;
    let mut left = left.split(' ');
    let root = unescape(left.nth(3)?);
    let mount_point = unescape(left.next()?);
    let kind = match fstype {
        "cgroup2" => MountKind::V2,
        "cgroup" => {
            let mut controllers: Vec<String> = super_opts
                .split(',')
                .filter(|o| is_controller_option(o))
                .map(str::to_owned)
                .collect();
            controllers.sort();
            MountKind::V1(controllers)
        }
        _ => return None,
    };
    Some(Mount {
        mount_point: mount_point.into(),
        root: root.into(),
        kind,
    })
}

/// Super options of a v1 mount that are flags rather than controller names.
fn is_controller_option(opt: &str) -> bool {
    const FLAGS: &[&str] = &[
        "rw",
        "ro",
        "none",
        "all",
        "noprefix",
        "clone_children",
        "xattr",
        "cpuset_v2_mode",
        "favordynmods",
    ];
    !opt.is_empty() && !FLAGS.contains(&opt) && (opt.starts_with("name=") || !opt.contains('='))
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for a backslash...).
fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_owned();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's cgroup path from `/proc/self/cgroup`, for resolving a relative
/// `cgroupsPath`. On a pure v2 host that is the `0::` line; when v1 controllers exist they are
/// where limits live, so the `pids` (else `memory`, else any controller) line is used.
pub fn own_cgroup_path() -> Result<PathBuf, CgroupError> {
    let text = read_file(Path::new(PROC_SELF_CGROUP))?;
    parse_proc_cgroup(&text).ok_or_else(|| CgroupError::Parse {
        path: PROC_SELF_CGROUP.into(),
        reason: "no usable cgroup line".into(),
    })
}

/// Picks the path out of `/proc/<pid>/cgroup` content (`id:controllers:path` lines).
pub(crate) fn parse_proc_cgroup(text: &str) -> Option<PathBuf> {
    let mut unified = None;
    let mut v1_any = None;
    let mut v1_memory = None;
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            unified = Some(path);
            continue;
        }
        let mut is_real = false;
        for name in controllers
            .split(',')
            .filter(|c| !c.is_empty() && !c.starts_with("name="))
        {
            is_real = true;
            match name {
                "pids" => return Some(path.into()),
                "memory" => v1_memory = Some(path),
                _ => {}
            }
        }
        if is_real && v1_any.is_none() {
            v1_any = Some(path);
        }
    }
    v1_memory.or(v1_any).or(unified).map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpuacct,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 /docker/abc /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids,clone_children
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 23 0:35 / /mnt/my\\040memory rw,relatime - cgroup cgroup rw,memory
";

    #[test]
    fn parses_hybrid_mountinfo() {
        let mounts = parse_mountinfo(HYBRID);
        assert_eq!(
            mounts,
            vec![
                Mount::v1("/sys/fs/cgroup/cpu,cpuacct", &["cpu", "cpuacct"]),
                Mount::v1("/sys/fs/cgroup/memory", &["memory"]),
                Mount {
                    root: "/docker/abc".into(),
                    ..Mount::v1("/sys/fs/cgroup/pids", &["pids"])
                },
                Mount::v1("/sys/fs/cgroup/systemd", &["name=systemd"]),
                Mount::v2("/sys/fs/cgroup/unified"),
            ]
        );
        assert_eq!(hierarchy_of(&mounts), Some(Hierarchy::Hybrid));
        assert_eq!(
            mounts[2].dir_of(Path::new("/docker/abc/arca/c1")),
            Path::new("/sys/fs/cgroup/pids/arca/c1")
        );
        assert_eq!(
            mounts[1].dir_of(Path::new("/arca/c1")),
            Path::new("/sys/fs/cgroup/memory/arca/c1")
        );
    }

    #[test]
    fn prefers_sys_fs_cgroup_and_unescapes() {
        let text = "50 23 0:35 / /mnt/my\\040mem rw - cgroup cgroup rw,memory\n\
                    51 23 0:35 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                    52 23 0:36 / /mnt/x\\040y rw - cgroup cgroup rw,pids\n";
        let mounts = parse_mountinfo(text);
        assert_eq!(mounts[0].mount_point, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(mounts[1].mount_point, Path::new("/mnt/x y"));
    }

    #[test]
    fn unified_only_and_named_only_are_unified() {
        let text = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n\
                    31 23 0:27 / /run/sd rw - cgroup cgroup rw,name=systemd\n";
        assert_eq!(
            hierarchy_of(&parse_mountinfo(text)),
            Some(Hierarchy::Unified)
        );
        assert_eq!(hierarchy_of(&[]), None);
    }

    #[test]
    fn own_path_prefers_pids_then_memory_then_unified() {
        let v1 = "9:name=systemd:/sd\n8:pids:/p\n4:memory:/m\n0::/u\n";
        assert_eq!(parse_proc_cgroup(v1), Some("/p".into()));
        let v1 = "9:name=systemd:/sd\n3:cpu,cpuacct:/c\n4:memory:/m\n0::/u\n";
        assert_eq!(parse_proc_cgroup(v1), Some("/m".into()));
        let v1 = "9:name=systemd:/sd\n3:cpu,cpuacct:/c\n0::/u\n";
        assert_eq!(parse_proc_cgroup(v1), Some("/c".into()));
        assert_eq!(
            parse_proc_cgroup("1:name=systemd:/sd\n0::/user.slice/x.scope\n"),
            Some("/user.slice/x.scope".into())
        );
        assert_eq!(parse_proc_cgroup(""), None);
    }
}
