//! Network namespaces that outlive their processes: made empty (with `lo` up) before the
//! container is created, kept by a bind mount of their nsfs file, joined by the container
//! through its spec, and removed only after the CNI DEL that tears down its interfaces.
//!
//! Podman and containerd keep a namespace the same way, and for the same reason: the bridge
//! plugin can only remove its masquerade rules while it can still enter the namespace to read
//! the addresses they were made for, so a namespace that died with the container's last
//! process would leak them.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::error::NetError;

/// Where arca's namespaces are mounted (beside `ip netns`'s `/run/netns`, not in it, so they
/// never clash with the user's own).
pub const NETNS_DIR: &str = "/run/arca/netns";

/// The namespace file of container `id`.
pub fn path_for(id: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(id)
}

fn err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(nix::Error) -> NetError + 'a {
    move |source| NetError::Netns {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Makes a new network namespace with `lo` up and mounts it at `path`.
pub fn create(path: &Path) -> Result<(), NetError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| NetError::io("create", dir, e))?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| NetError::io("create", path, e))?;
    let made = in_other_namespace(path, None, || {
        arca_sys::net::set_link_up("lo").map_err(err("bring lo up", path))?;
        mount(
            Some("/proc/thread-self/ns/net"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(err("bind mount", path))
    });
    if made.is_err() {
        let _ = std::fs::remove_file(path);
    }
    made
}

/// Runs `f` with a thread in another network namespace: the one open as `target`, or a new
/// one (`None`).
///
/// Network namespaces belong to threads. In the host's user namespace the calling thread goes
/// there and comes back (a failure to return is an error, never ignored): spawning a thread
/// cost more than the whole of what is done there for `--network none` (a container start is
/// a few milliseconds). A rootless arca could not come back (the host's namespace is not its
/// user namespace's to enter), so there a thread of its own goes, and ends.
fn in_other_namespace<T: Send>(
    what: &Path,
    target: Option<&std::fs::File>,
    f: impl FnOnce() -> Result<T, NetError> + Send,
) -> Result<T, NetError> {
    let enter = || match target {
        Some(ns) => setns(ns, CloneFlags::CLONE_NEWNET).map_err(err("setns", what)),
        None => unshare(CloneFlags::CLONE_NEWNET).map_err(err("unshare", what)),
    };
    if !in_initial_user_namespace() {
        return std::thread::scope(|s| {
            s.spawn(|| enter().and_then(|()| f()))
                .join()
                .unwrap_or_else(|_| Err(err("enter", what)(nix::Error::EIO)))
        });
    }
    let home = std::fs::File::open("/proc/thread-self/ns/net")
        .map_err(|e| NetError::io("open", "/proc/thread-self/ns/net", e))?;
    enter()?;
    let result = f();
    setns(&home, CloneFlags::CLONE_NEWNET)
        .map_err(err("return to the caller's namespace from", what))?;
    result
}

/// Whether this process is in the host's user namespace (its uid map is the identity).
fn in_initial_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
        .unwrap_or(false)
}

/// Unmounts and removes the namespace file at `path`; nothing there is not an error.
pub fn remove(path: &Path) -> Result<(), NetError> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL | nix::Error::ENOENT) => {}
        Err(e) => return Err(err("unmount", path)(e)),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetError::io("remove", path, e)),
    }
}
