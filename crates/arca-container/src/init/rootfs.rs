//! Turning the bundle's rootfs into the container's `/`: propagation, pivot_root (or chroot),
//! masked and read-only paths, read-only root and sysctls, all through fds.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, CWD};
use rustix::mount::MountAttrFlags as A;

use super::mounts::{attach, clone_tree, new_fs, set_attr};
use crate::error::{Error, Result, SysContext};
use crate::paths::path_in_root;

fn fail(what: String) -> impl FnOnce(rustix::io::Errno) -> Error {
    move |e| Error::sys(what, nix::Error::from_raw(e.raw_os_error()))
}

/// Propagation flags of `rootfsPropagation` (default `rslave`, as runc).
pub fn propagation_flags(name: Option<&str>) -> Result<MsFlags> {
    Ok(match name.unwrap_or("rslave") {
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        other => {
            return Err(Error::Usage(format!(
                "linux.rootfsPropagation: unknown value {other:?}"
            )))
        }
    })
}

/// Sets the propagation of `/` in the container's mount namespace, then bind-mounts the rootfs
/// on itself so it is a mount point pivot_root accepts. Returns a handle on the new root.
pub fn prepare(rootfs: &Path, propagation: MsFlags) -> Result<OwnedFd> {
    mount(None::<&str>, "/", None::<&str>, propagation, None::<&str>)
        .ctx(|| "setting propagation of /".into())?;
    if propagation.contains(MsFlags::MS_SHARED) {
        // pivot_root refuses a new root whose parent mount is shared: make only that one private.
        if let Some(parent) = mount_point_of(rootfs) {
            mount(
                None::<&str>,
                &parent,
                None::<&str>,
                MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .ctx(|| format!("making {} private", parent.display()))?;
        }
    }
    let tree =
        clone_tree(CWD, rootfs, true).map_err(fail(format!("open_tree {}", rootfs.display())))?;
    let target = rustix::fs::open(rootfs, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
        .map_err(fail(format!("opening {}", rootfs.display())))?;
    attach(&tree, &target).map_err(fail(format!(
        "bind-mounting {} on itself",
        rootfs.display()
    )))?;
    Ok(tree)
}

/// The mount point (from mountinfo) under which `path` lives.
fn mount_point_of(path: &Path) -> Option<std::path::PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(Path::new)
        .filter(|mp| path.starts_with(mp))
        .max_by_key(|mp| mp.as_os_str().len())
        .map(Path::to_path_buf)
}

/// pivot_root into `root` and detach the old root; with `no_pivot`, move the root mount over
/// `/` and chroot (for ramfs roots where pivot_root is impossible).
pub fn enter(root: &OwnedFd, rootfs: &Path, no_pivot: bool) -> Result<()> {
    nix::unistd::fchdir(root.as_fd()).ctx(|| "fchdir to rootfs".into())?;
    if no_pivot {
        mount(
            Some(rootfs),
            "/",
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .ctx(|| "moving rootfs to /".into())?;
        nix::unistd::chroot(".").ctx(|| "chroot".into())?;
    } else {
        nix::unistd::pivot_root(".", ".").ctx(|| "pivot_root".into())?;
        // The old root is now stacked on "."; keep its unmount from reaching the host.
        mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .ctx(|| "making old root a slave".into())?;
        umount2(".", MntFlags::MNT_DETACH).ctx(|| "detaching old root".into())?;
    }
    nix::unistd::chdir("/").ctx(|| "chdir /".into())
}

fn slash() -> Result<OwnedFd> {
    rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(fail("opening /".into()))
}

/// The container's /dev/null, checked to really be the null device: a bind or symlink
/// planted there must not become what masks /proc files (CVE-2025-31133).
fn dev_null(root: &OwnedFd) -> Result<OwnedFd> {
    let fd = rustix::fs::openat2(
        root,
        "dev/null",
        OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS,
    )
    .map_err(fail("opening /dev/null".into()))?;
    let st = rustix::fs::fstat(&fd).map_err(fail("stat /dev/null".into()))?;
    let is_null = FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice
        && rustix::fs::major(st.st_rdev) == 1
        && rustix::fs::minor(st.st_rdev) == 3;
    if !is_null {
        return Err(Error::Usage(
            "/dev/null in the container is not the null device: refusing to mask paths with it"
                .into(),
        ));
    }
    Ok(fd)
}

/// Hides each path: a directory under an empty read-only tmpfs (with the SELinux mount label,
/// as runc does, so the container may look at the empty directory), anything else under
/// /dev/null.
pub fn mask_paths(paths: &[String], mount_label: Option<&str>) -> Result<()> {
    let tmpfs_data = super::mount_options::with_mount_label("tmpfs", &[], mount_label);
    let root = slash()?;
    let mut null: Option<OwnedFd> = None;
    for p in paths {
        let target = match path_in_root(&root, Path::new(p)) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => return Err(fail(format!("maskedPaths {p}"))(e)),
        };
        let st = rustix::fs::fstat(&target).map_err(fail(format!("maskedPaths {p}")))?;
        let tree = if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            new_fs("tmpfs", Some("tmpfs"), &tmpfs_data, A::MOUNT_ATTR_RDONLY)?
        } else {
            if null.is_none() {
                null = Some(dev_null(&root)?);
            }
            let null: &OwnedFd = null.as_ref().expect("set just above");
            clone_tree(null, Path::new(""), false).map_err(fail("open_tree /dev/null".into()))?
        };
        attach(&tree, &target).map_err(fail(format!("masking {p}")))?;
    }
    Ok(())
}

/// Bind-mounts each path on itself read-only.
pub fn readonly_paths(paths: &[String]) -> Result<()> {
    let root = slash()?;
    for p in paths {
        let target = match path_in_root(&root, Path::new(p)) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => return Err(fail(format!("readonlyPaths {p}"))(e)),
        };
        let tree =
            clone_tree(&target, Path::new(""), true).map_err(fail(format!("open_tree {p}")))?;
        set_attr(tree.as_fd(), A::MOUNT_ATTR_RDONLY, A::empty(), 0, true)
            .ctx(|| format!("making {p} read-only"))?;
        attach(&tree, &target).map_err(fail(format!("readonlyPaths {p}")))?;
    }
    Ok(())
}

/// `root.readonly`: the root mount itself becomes read-only (mounts on top keep their mode).
pub fn readonly_root() -> Result<()> {
    let root = slash()?;
    set_attr(root.as_fd(), A::MOUNT_ATTR_RDONLY, A::empty(), 0, false)
        .ctx(|| "making / read-only".into())
}

/// Writes `linux.sysctl` through the container's procfs, checked to really be procfs and
/// resolved beneath /proc/sys without following symlinks.
pub fn write_sysctls(sysctls: &std::collections::HashMap<String, String>) -> Result<()> {
    if sysctls.is_empty() {
        return Ok(());
    }
    let dir = rustix::fs::open(
        "/proc/sys",
        OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(fail("opening /proc/sys".into()))?;
    let fs = rustix::fs::fstatfs(&dir).map_err(fail("statfs /proc/sys".into()))?;
    if fs.f_type != libc::PROC_SUPER_MAGIC {
        return Err(Error::Usage(
            "/proc/sys is not procfs: refusing to write sysctls".into(),
        ));
    }
    for (key, value) in sysctls {
        let rel = key.replace('.', "/");
        if rel.split('/').any(|c| c.is_empty() || c == "..") {
            return Err(Error::Usage(format!("linux.sysctl: invalid key {key:?}")));
        }
        let fd = rustix::fs::openat2(
            &dir,
            rel.as_str(),
            OFlags::WRONLY | OFlags::CLOEXEC | OFlags::TRUNC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_XDEV,
        )
        .map_err(fail(format!("linux.sysctl {key}")))?;
        rustix::io::write(&fd, value.as_bytes())
            .map_err(fail(format!("linux.sysctl {key}={value}")))?;
    }
    Ok(())
}
