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

/// Runs `f` with the calling thread in another network namespace: the one open as `target`,
/// or a new one (`None`), then puts the thread back where it was.
///
/// Network namespaces belong to threads, so this moves only the calling thread, and only for
/// the length of `f`; done in place rather than on a thread of its own, since spawning one
/// cost more than the whole of what it did here (a container start is a few milliseconds). A
/// failure to return would leave the thread astray: it is reported as an error, never ignored.
fn in_other_namespace<T>(
    what: &Path,
    target: Option<&std::fs::File>,
    f: impl FnOnce() -> Result<T, NetError>,
) -> Result<T, NetError> {
    let home = std::fs::File::open("/proc/thread-self/ns/net")
        .map_err(|e| NetError::io("open", "/proc/thread-self/ns/net", e))?;
    match target {
        Some(ns) => setns(ns, CloneFlags::CLONE_NEWNET).map_err(err("setns", what))?,
        None => unshare(CloneFlags::CLONE_NEWNET).map_err(err("unshare", what))?,
    }
    let result = f();
    setns(&home, CloneFlags::CLONE_NEWNET)
        .map_err(err("return to the caller's namespace from", what))?;
    result
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

/// Brings `lo` up in the namespace at `ns` (a `/proc/PID/ns/net` or a mounted one), for a
/// container whose runtime made its namespace (`--network none`): Docker's `none` has a
/// working loopback.
pub fn loopback_up_in(ns: &Path) -> Result<(), NetError> {
    let file = std::fs::File::open(ns).map_err(|e| NetError::io("open", ns, e))?;
    in_other_namespace(ns, Some(&file), || {
        arca_sys::net::set_link_up("lo").map_err(err("bring lo up", ns))
    })
}
