//! Id-mapped bind mounts (runtime spec 1.2: `mounts[].uidMappings/gidMappings`, options `idmap`
//! and `ridmap`), the way runc 1.2 and crun do them: a short-lived helper process in a new user
//! namespace carries the mappings, its `/proc/<pid>/ns/user` is opened, the helper is killed and
//! reaped, and the namespace fd is given to `mount_setattr(MOUNT_ATTR_IDMAP)` on a detached
//! `open_tree(OPEN_TREE_CLONE)` copy of the source, which is then attached like any bind mount.
//!
//! Semantics (runtime-spec config.md "POSIX-platform Mounts" and the `idmap`/`ridmap` rows of
//! the mount option table; runc 1.2 `libcontainer/specconv` and `configs/validate`):
//! - the mappings are in the format of `linux.uidMappings`: `containerID` is the id stored on
//!   the source filesystem, `hostID` the id it is seen as through the mount, relative to the
//!   runtime's user namespace (they are written as-is to the helper's `uid_map`, as runc does);
//! - mappings without an option mean `idmap` (runc: non-recursive); `ridmap` maps every submount
//!   of an `rbind` too, `idmap` only the top one;
//! - an option without mappings uses the container's user namespace: its mappings, or the
//!   namespace it joins; without a user namespace that is an error;
//! - only bind mounts, only both mappings together, only as root (CAP_SYS_ADMIN over the source
//!   filesystem's user namespace is needed).
//!
//! Which process builds the tree: the kernel wants `CAP_SYS_ADMIN` in the user namespace that
//! owns the source's superblock (the host's for a host directory), so an init born in a new user
//! namespace cannot do it. [`prepare`] builds the trees in the runtime before the clone (the init
//! inherits the fds, being a clone); without a user namespace the init can build them itself
//! at mount time, which [`super::mounts`] does for any tree not prepared.

use std::collections::HashMap;
use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Mount, Spec};
use rustix::fs::CWD;

use super::mount_options::MountOptions;
use super::mounts::clone_tree;
use crate::error::{Error, Result};

const AT_EMPTY_PATH: u32 = 0x1000;
const AT_RECURSIVE: u32 = 0x8000;

/// Where the user namespace of an id-mapped mount comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UsernsSource {
    /// A new namespace with these `uid_map` / `gid_map` texts.
    Maps { uid: String, gid: String },
    /// An existing namespace (the container joins it): used as is.
    Path(PathBuf),
}

/// The id mapping a mount asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idmap {
    pub userns: UsernsSource,
    /// `ridmap`: every mount of the tree, not only its top.
    pub recursive: bool,
}

/// The `uid_map` text of spec mappings (`containerID hostID size` per line).
pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn label(i: usize, m: &Mount) -> String {
    format!("mounts[{i}] ({})", m.destination().display())
}

/// Which id mapping mount `i` asks for, if any; errors name the mount.
/// `spec` gives the container's user namespace for an option without mappings (`None` in the
/// init, which cannot build those anyway: see [`prepare`]).
pub fn requested(
    i: usize,
    m: &Mount,
    opts: &MountOptions,
    spec: Option<&Spec>,
) -> Result<Option<Idmap>> {
    let uid = m.uid_mappings().as_deref().filter(|v| !v.is_empty());
    let gid = m.gid_mappings().as_deref().filter(|v| !v.is_empty());
    // Present but empty mappings count as present (runc: `!= nil`).
    let has_maps = m.uid_mappings().is_some() || m.gid_mappings().is_some();
    if !has_maps && !opts.idmap {
        return Ok(None);
    }
    let what = label(i, m);
    if !(opts.bind || m.typ().as_deref() == Some("bind")) {
        return Err(Error::Usage(format!(
            "{what}: id-mapped mounts (idmap, ridmap, uidMappings, gidMappings) are only \
             supported for bind mounts"
        )));
    }
    let userns = if has_maps {
        match (uid, gid) {
            (Some(u), Some(g)) => UsernsSource::Maps {
                uid: map_text(u),
                gid: map_text(g),
            },
            _ => {
                return Err(Error::Usage(format!(
                    "{what}: id-mapped mounts need both uidMappings and gidMappings"
                )))
            }
        }
    } else {
        spec.and_then(container_userns).ok_or_else(|| {
            Error::Usage(format!(
                "{what}: option idmap/ridmap without uidMappings/gidMappings needs the \
                 container to have a user namespace (with mappings) to take them from"
            ))
        })?
    };
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::Usage(format!(
            "{what}: id-mapped mounts are not supported for rootless containers \
             (CAP_SYS_ADMIN over the source filesystem is needed)"
        )));
    }
    Ok(Some(Idmap {
        userns,
        recursive: opts.idmap_recursive,
    }))
}

/// The container's user namespace as a mapping source: the one it joins, or its mappings.
fn container_userns(spec: &Spec) -> Option<UsernsSource> {
    let linux = spec.linux().as_ref()?;
    let ns = linux
        .namespaces()
        .iter()
        .flatten()
        .find(|n| n.typ() == LinuxNamespaceType::User)?;
    if let Some(p) = ns.path().as_ref().filter(|p| !p.as_os_str().is_empty()) {
        return Some(UsernsSource::Path(p.clone()));
    }
    let uid = linux.uid_mappings().as_deref().filter(|v| !v.is_empty())?;
    let gid = linux.gid_mappings().as_deref().filter(|v| !v.is_empty())?;
    Some(UsernsSource::Maps {
        uid: map_text(uid),
        gid: map_text(gid),
    })
}

/// User namespaces made during one create, one per distinct mapping: many mounts with the same
/// mappings cost one helper process.
#[derive(Debug, Default)]
pub struct UsernsCache {
    fds: HashMap<UsernsSource, OwnedFd>,
}

impl UsernsCache {
    pub fn get(&mut self, src: &UsernsSource) -> Result<BorrowedFd<'_>> {
        if !self.fds.contains_key(src) {
            let fd = match src {
                UsernsSource::Maps { uid, gid } => new_userns(uid, gid)?,
                UsernsSource::Path(p) => File::open(p)
                    .map_err(|e| Error::io("opening user namespace", p, e))?
                    .into(),
            };
            self.fds.insert(src.clone(), fd);
        }
        Ok(self.fds[src].as_fd())
    }

    /// How many namespaces were made or opened.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }
}

/// Kills and reaps the helper, whatever happens to the caller.
struct Helper(Pid);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGKILL);
        while let Err(nix::Error::EINTR) = waitpid(self.0, None) {}
    }
}

/// A new user namespace (child of ours) with the given maps, as an fd: a helper process is
/// cloned into it, we write its maps from outside (only a process privileged in the parent
/// namespace may), open its `ns/user`, then kill and reap it.
pub fn new_userns(uid_map: &str, gid_map: &str) -> Result<OwnedFd> {
    let parent = nix::unistd::getpid();
    let flags = u64::from(libc::CLONE_NEWUSER.cast_unsigned());
    let (pid, pidfd) = match arca_sys::clone::clone_with_pidfd(flags)
        .map_err(|e| Error::sys("clone(CLONE_NEWUSER) of the id-mapping helper", e))?
    {
        (arca_sys::clone::CloneResult::Child, _) => helper(parent),
        (arca_sys::clone::CloneResult::Parent(pid), fd) => (pid, fd),
    };
    let guard = Helper(pid);
    // The helper's pid as /proc sees it: ours may be of another pid namespace (the init of a
    // container with its own pid namespace still has the host's /proc at mount time); the
    // pidfd's fdinfo shows it in the namespace of the /proc it is read from.
    let pidfd = pidfd.ok_or_else(|| Error::Usage("clone gave no pidfd".into()))?;
    let fdinfo = format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd());
    let text = std::fs::read_to_string(&fdinfo)
        .map_err(|e| Error::io("reading the id-mapping helper's", &fdinfo, e))?;
    let proc_pid = text
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|p| p.trim().parse::<i32>().ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            Error::Usage(format!(
                "id-mapping helper: no pid in {fdinfo} (is /proc of another pid namespace?)"
            ))
        })?;
    for (file, map) in [("uid_map", uid_map), ("gid_map", gid_map)] {
        let p = format!("/proc/{proc_pid}/{file}");
        std::fs::write(&p, map).map_err(|e| Error::io("writing id-mapped mount's", p, e))?;
    }
    let p = format!("/proc/{proc_pid}/ns/user");
    let ns = File::open(&p).map_err(|e| Error::io("opening", p, e))?;
    drop(guard);
    Ok(ns.into())
}

/// The helper: waits to be killed. Never returns, never exits through the runtime's code (no
/// destructors, no atexit), allocates nothing: if its parent is already gone it kills itself.
fn helper(parent: Pid) -> ! {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    if nix::unistd::getppid() != parent {
        let _ = nix::sys::signal::raise(Signal::SIGKILL);
    }
    loop {
        nix::unistd::pause();
    }
}

/// A detached copy of `source` (a host path) with the id mapping of `userns` applied: to the
/// top mount, or with `recursive_idmap` to every mount of the tree (`rbind` clones the tree).
pub fn idmapped_tree(
    source: &Path,
    rbind: bool,
    recursive_idmap: bool,
    userns: BorrowedFd<'_>,
) -> std::result::Result<OwnedFd, (&'static str, nix::Error)> {
    let tree = clone_tree(CWD, source, rbind || recursive_idmap)
        .map_err(|e| ("open_tree", nix::Error::from_raw(e.raw_os_error())))?;
    let attr = arca_sys::mount::MountAttr {
        attr_set: arca_sys::mount::MOUNT_ATTR_IDMAP,
        userns_fd: u64::from(userns.as_raw_fd().cast_unsigned()),
        ..Default::default()
    };
    let flags = AT_EMPTY_PATH | if recursive_idmap { AT_RECURSIVE } else { 0 };
    const EMPTY: &CStr = c"";
    arca_sys::mount::mount_setattr(tree.as_fd(), EMPTY, flags, &attr)
        .map_err(|e| ("mount_setattr(MOUNT_ATTR_IDMAP)", e))?;
    Ok(tree)
}

/// Builds the id-mapped tree of mount `i` (with `cache`), with an error naming the mount and,
/// for the errnos the kernel uses here, what they usually mean.
pub fn build(
    i: usize,
    m: &Mount,
    source: &Path,
    rbind: bool,
    idmap: &Idmap,
    cache: &mut UsernsCache,
) -> Result<OwnedFd> {
    let what = label(i, m);
    let userns = cache.get(&idmap.userns).map_err(|e| match e {
        Error::Sys { op, err } => Error::sys(format!("{what}: {op}"), err),
        Error::Io { op, path, err } => Error::Usage(format!(
            "{what}: user namespace for the id mapping: {op} {}: {err}",
            path.display()
        )),
        Error::Usage(msg) => Error::Usage(format!("{what}: {msg}")),
        other => other,
    })?;
    idmapped_tree(source, rbind, idmap.recursive, userns).map_err(|(op, err)| {
        let hint = match err {
            nix::Error::EINVAL => {
                " (the filesystem does not support id-mapped mounts, or the mapping is the \
                 filesystem's own)"
            }
            nix::Error::EPERM => {
                " (CAP_SYS_ADMIN over the source filesystem's user namespace is needed, or the \
                 mount is already id-mapped)"
            }
            nix::Error::ENOSYS => " (the kernel has no mount_setattr: Linux 5.12 or later needed)",
            _ => "",
        };
        Error::sys(
            format!("{what}: id-mapped bind of {}: {op}{hint}", source.display()),
            err,
        )
    })
}

/// Whether mount `m` asks for an id mapping at all.
pub fn asked(m: &Mount, opts: &MountOptions) -> bool {
    opts.idmap || m.uid_mappings().is_some() || m.gid_mappings().is_some()
}

/// Whether we run in a user namespace other than the initial one.
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|s| s.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
}

/// Trees built by [`prepare`] in the runtime, by mount index; the init (a clone) inherits both
/// this table and the fds, and takes its trees out with [`take_prepared`].
static PREPARED: Mutex<Vec<(usize, OwnedFd)>> = Mutex::new(Vec::new());

/// The tree [`prepare`] built for mount `i`, if any.
pub fn take_prepared(i: usize) -> Option<OwnedFd> {
    let mut p = PREPARED.lock().unwrap_or_else(|e| e.into_inner());
    let at = p.iter().position(|(j, _)| *j == i)?;
    Some(p.swap_remove(at).1)
}

/// Closes, on drop, the runtime's copies of the prepared trees (the init keeps its own).
#[derive(Debug)]
#[must_use = "dropping it closes the prepared trees: keep it until the init is cloned"]
pub struct Prepared {
    pub count: usize,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        PREPARED.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Builds, in the runtime and before the init is cloned, the id-mapped trees of every mount
/// that asks for one (needed when the init gets a user namespace: only the runtime holds
/// CAP_SYS_ADMIN over the host's filesystems). Call it just before the clone and keep the
/// returned guard until the clone returned.
pub fn prepare(spec: &Spec, bundle_dir: &Path) -> Result<Prepared> {
    let mut cache = UsernsCache::default();
    let mut built = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let opts = MountOptions::parse(m.options().as_deref().unwrap_or_default());
        let Some(idmap) = requested(i, m, &opts, Some(spec))? else {
            continue;
        };
        let source = bind_source(m, bundle_dir);
        built.push((i, build(i, m, &source, opts.recursive, &idmap, &mut cache)?));
    }
    let count = built.len();
    let mut p = PREPARED.lock().unwrap_or_else(|e| e.into_inner());
    p.clear();
    p.extend(built);
    Ok(Prepared { count })
}

/// A bind mount's source on the host: relative ones are relative to the bundle.
pub fn bind_source(m: &Mount, bundle_dir: &Path) -> PathBuf {
    let source = m.source().clone().unwrap_or_default();
    if source.is_absolute() {
        source
    } else {
        bundle_dir.join(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxIdMappingBuilder, MountBuilder, SpecBuilder};

    fn map(c: u32, h: u32, s: u32) -> LinuxIdMapping {
        LinuxIdMappingBuilder::default()
            .container_id(c)
            .host_id(h)
            .size(s)
            .build()
            .unwrap()
    }

    fn mount(opts: &[&str], maps: bool) -> Mount {
        let mut b = MountBuilder::default()
            .destination("/data")
            .typ("none")
            .source("/src")
            .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        if maps {
            b = b
                .uid_mappings(vec![map(1000, 0, 1)])
                .gid_mappings(vec![map(1000, 0, 1)]);
        }
        b.build().unwrap()
    }

    fn req(m: &Mount, spec: &Spec) -> Result<Option<Idmap>> {
        let opts = MountOptions::parse(m.options().as_deref().unwrap_or_default());
        requested(3, m, &opts, Some(spec))
    }

    #[test]
    fn semantics() {
        let spec = SpecBuilder::default().build().unwrap();
        // Nothing asked.
        assert_eq!(req(&mount(&["bind"], false), &spec).unwrap(), None);
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        // Mappings alone: non-recursive idmap with them.
        let r = req(&mount(&["rbind"], true), &spec).unwrap().unwrap();
        assert!(!r.recursive);
        assert_eq!(
            r.userns,
            UsernsSource::Maps {
                uid: "1000 0 1\n".into(),
                gid: "1000 0 1\n".into()
            }
        );
        let r = req(&mount(&["rbind", "ridmap"], true), &spec)
            .unwrap()
            .unwrap();
        assert!(r.recursive);
        // Option without mappings and without a user namespace: error naming the mount.
        let e = req(&mount(&["bind", "idmap"], false), &spec).unwrap_err();
        assert!(e.to_string().contains("mounts[3] (/data)"), "{e}");
        // Not a bind mount.
        let mut m = mount(&["idmap"], true);
        m.set_typ(Some("tmpfs".into()));
        let e = req(&m, &spec).unwrap_err();
        assert!(e.to_string().contains("only supported for bind"), "{e}");
        // Only one of the two mappings.
        let mut m = mount(&["bind"], true);
        m.set_gid_mappings(None);
        let e = req(&m, &spec).unwrap_err();
        assert!(e.to_string().contains("both"), "{e}");
    }

    #[test]
    fn option_takes_container_mappings() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "linux": {
                "namespaces": [{"type": "user"}, {"type": "mount"}],
                "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}]
            }
        }))
        .unwrap();
        assert_eq!(
            container_userns(&spec),
            Some(UsernsSource::Maps {
                uid: "0 100000 65536\n".into(),
                gid: "0 200000 65536\n".into()
            })
        );
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "linux": { "namespaces": [{"type": "user", "path": "/proc/1/ns/user"}] }
        }))
        .unwrap();
        assert_eq!(
            container_userns(&spec),
            Some(UsernsSource::Path("/proc/1/ns/user".into()))
        );
    }

    #[test]
    fn helper_namespace_has_the_maps_and_is_cached() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let mut cache = UsernsCache::default();
        let src = UsernsSource::Maps {
            uid: "0 100000 10\n".into(),
            gid: "0 200000 10\n".into(),
        };
        let a = cache.get(&src).unwrap().try_clone_to_owned().unwrap();
        let b = cache.get(&src).unwrap().try_clone_to_owned().unwrap();
        assert_eq!(cache.len(), 1);
        let ino = |fd: &OwnedFd| rustix::fs::fstat(fd).unwrap().st_ino;
        assert_eq!(ino(&a), ino(&b));
        assert_ne!(
            ino(&a),
            std::fs::metadata("/proc/self/ns/user").unwrap().ino()
        );
        // No helper is left: no child of ours lives in that namespace.
        let me = std::process::id().to_string();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1));
            if ppid == Some(me.as_str()) {
                let ns = std::fs::metadata(e.path().join("ns/user")).map(|m| m.ino());
                assert_ne!(ns.ok(), Some(ino(&a)), "helper {:?} left", e.path());
            }
        }
    }

    use std::os::unix::fs::MetadataExt;
}
