//! Mounting the spec's `mounts` inside the container root with the new mount API: every
//! target is an fd resolved in the root (never a joined path), sources are detached trees
//! (`open_tree`/`fsmount`) attached with `move_mount`, attributes set with `mount_setattr`.

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use arca_cgroups::{Cgroup, Hierarchy};
use oci_spec::runtime::Mount;
use rustix::fs::{Mode, OFlags, CWD};
use rustix::io::Errno;
use rustix::mount::{
    fsconfig_create, fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen, move_mount,
    open_tree, FsMountFlags, FsOpenFlags, MountAttrFlags as A, MoveMountFlags, OpenTreeFlags,
};

use super::idmap::{self, UsernsCache};
use super::mount_options::MountOptions;
use crate::error::{Error, Result};
use crate::paths::{create_file_in_root, mkdir_all_in_root, path_in_root};

const EMPTY: &CStr = c"";
const AT_EMPTY_PATH: u32 = 0x1000;
const AT_RECURSIVE: u32 = 0x8000;

fn fail(what: String) -> impl FnOnce(Errno) -> Error {
    move |e| Error::sys(what, nix::Error::from_raw(e.raw_os_error()))
}

/// Sets and clears mount attributes (and propagation) on a mount given by fd.
pub fn set_attr(
    mnt: BorrowedFd<'_>,
    set: A,
    clr: A,
    propagation: u64,
    recursive: bool,
) -> nix::Result<()> {
    if set.is_empty() && clr.is_empty() && propagation == 0 {
        return Ok(());
    }
    let attr = arca_sys::mount::MountAttr {
        attr_set: u64::from(set.bits()),
        attr_clr: u64::from(clr.bits()),
        propagation,
        userns_fd: 0,
    };
    let flags = AT_EMPTY_PATH | if recursive { AT_RECURSIVE } else { 0 };
    arca_sys::mount::mount_setattr(mnt, EMPTY, flags, &attr)
}

/// Attaches a detached mount on the target handle.
pub fn attach(tree: &OwnedFd, target: &OwnedFd) -> std::result::Result<(), Errno> {
    move_mount(
        tree,
        "",
        target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
}

/// A detached copy of the mount(s) at `source` (a host path before pivot, or a container path).
pub fn clone_tree(
    source: impl AsFd,
    path: &Path,
    recursive: bool,
) -> std::result::Result<OwnedFd, Errno> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    if path.as_os_str().is_empty() {
        flags |= OpenTreeFlags::AT_EMPTY_PATH;
    }
    open_tree(source, path, flags)
}

/// A new, detached filesystem instance of `fstype` with the given fs options.
pub fn new_fs(fstype: &str, source: Option<&str>, data: &[String], attrs: A) -> Result<OwnedFd> {
    let fs =
        fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC).map_err(fail(format!("fsopen {fstype}")))?;
    if let Some(src) = source {
        // Not every filesystem takes a source (tmpfs ignores it, proc rejects some).
        let _ = fsconfig_set_string(&fs, "source", src);
    }
    for opt in data {
        let r = match opt.split_once('=') {
            Some((k, v)) => fsconfig_set_string(&fs, k, v),
            None => fsconfig_set_flag(&fs, opt.as_str()),
        };
        r.map_err(fail(format!("{fstype} option {opt:?}")))?;
    }
    fsconfig_create(&fs).map_err(fail(format!("creating {fstype} superblock")))?;
    fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs).map_err(fail(format!("fsmount {fstype}")))
}

/// What a mount needs to know about the container beyond the mount itself.
#[derive(Debug)]
pub struct MountContext<'a> {
    pub bundle: &'a Path,
    /// None when the container has no cgroup (rootless without delegation).
    pub cgroup: Option<&'a Cgroup>,
    pub new_cgroupns: bool,
    /// SELinux's `linux.mountLabel`, when SELinux is enabled: the `context` of new filesystems.
    pub mount_label: Option<&'a str>,
}

pub fn mount_all(root: &OwnedFd, mounts: &[Mount], ctx: &MountContext<'_>) -> Result<()> {
    // One user namespace per distinct id mapping, for the trees the runtime did not prepare.
    let mut userns = UsernsCache::default();
    for (i, m) in mounts.iter().enumerate() {
        mount_one(root, i, m, ctx, &mut userns).map_err(|e| match e {
            Error::Sys { op, err } => Error::Sys {
                op: format!("mounts[{i}] ({}): {op}", m.destination().display()),
                err,
            },
            other => other,
        })?;
    }
    Ok(())
}

fn mount_one(
    root: &OwnedFd,
    i: usize,
    m: &Mount,
    ctx: &MountContext<'_>,
    userns: &mut UsernsCache,
) -> Result<()> {
    let opts = MountOptions::parse(m.options().as_deref().unwrap_or_default());
    if !opts.unsupported.is_empty() {
        return Err(Error::Usage(format!(
            "mounts: {}: options {:?} are not supported yet",
            m.destination().display(),
            opts.unsupported
        )));
    }
    let fstype = m.typ().as_deref().unwrap_or("");
    let dest = m.destination();
    if opts.bind || fstype == "bind" {
        let idmapped = idmapped_tree(i, m, &opts, ctx.bundle, userns)?;
        return bind(root, m, &opts, ctx.bundle, idmapped);
    }
    if idmap::asked(m, &opts) {
        // Refused with the reason (not a bind mount).
        idmap::requested(i, m, &opts, None)?;
    }
    let source = m.source().as_ref().and_then(|s| s.to_str());
    match fstype {
        "cgroup" | "cgroup2" => return mount_cgroup(root, dest, &opts, ctx),
        "" => {
            return Err(Error::Usage(format!(
                "mounts: {}: no type and not a bind mount",
                dest.display()
            )))
        }
        _ => {}
    }
    let target = mkdir_all_in_root(root, dest, 0o755)
        .map_err(fail(format!("creating {}", dest.display())))?;
    let data = super::mount_options::with_mount_label(fstype, &opts.data, ctx.mount_label);
    // Whether the tree is a new instance of our own (not the host's, bound as a fallback).
    let (tree, own) = match new_fs(fstype, source, &data, opts.attr_set | opts.rec_set) {
        Ok(t) => (t, true),
        // In a user namespace without its own network (or ipc) namespace, the kernel refuses
        // a new sysfs (mqueue); bind the host's instead, as runc does.
        Err(Error::Sys {
            err: nix::Error::EPERM,
            ..
        }) if matches!(fstype, "sysfs" | "mqueue") => {
            let host = if fstype == "sysfs" {
                "/sys"
            } else {
                "/dev/mqueue"
            };
            let t =
                clone_tree(CWD, Path::new(host), true).map_err(fail(format!("binding {host}")))?;
            set_attr(t.as_fd(), opts.attr_set | opts.rec_set, A::empty(), 0, true)
                .map_err(|e| Error::sys(format!("setting attributes on {host}"), e))?;
            (t, false)
        }
        // devpts refuses a gid= that is not mapped in our user namespace (gid=5 with a
        // rootless single-id mapping): like crun, mount it without the option.
        Err(Error::Sys {
            err: nix::Error::EINVAL,
            ..
        }) if fstype == "devpts" && data.iter().any(|o| o.starts_with("gid=")) => {
            let data: Vec<String> = data
                .iter()
                .filter(|o| !o.starts_with("gid="))
                .cloned()
                .collect();
            tracing::debug!("devpts: gid= not mapped in the user namespace, mounted without it");
            (
                new_fs(fstype, source, &data, opts.attr_set | opts.rec_set)?,
                true,
            )
        }
        Err(e) => return Err(e),
    };
    if let (true, "mqueue", Some(label)) = (own, fstype, ctx.mount_label) {
        label_root(&tree, label)?;
    }
    attach(&tree, &target).map_err(fail(format!("attaching {fstype}")))?;
    propagate(&tree, &opts)
}

/// Labels the root of a new filesystem that cannot take a `context` option (mqueue: see
/// `mount_options::with_mount_label`), as runc does with label.SetFileLabel.
fn label_root(tree: &OwnedFd, label: &str) -> Result<()> {
    let dir = rustix::fs::openat(
        tree,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(fail("opening the new filesystem's root".into()))?;
    rustix::fs::fsetxattr(
        &dir,
        "security.selinux",
        label.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    )
    .map_err(fail(format!(
        "linux.mountLabel {label:?}: labelling the root"
    )))
}

fn propagate(tree: &OwnedFd, opts: &MountOptions) -> Result<()> {
    for &(p, rec) in &opts.propagation {
        set_attr(tree.as_fd(), A::empty(), A::empty(), p, rec)
            .map_err(|e| Error::sys("setting mount propagation", e))?;
    }
    Ok(())
}

/// The id-mapped tree of bind mount `i`, if it asks for one: the one the runtime prepared
/// before the clone, else one built here (possible only outside a user namespace).
fn idmapped_tree(
    i: usize,
    m: &Mount,
    opts: &MountOptions,
    bundle: &Path,
    userns: &mut UsernsCache,
) -> Result<Option<OwnedFd>> {
    if !idmap::asked(m, opts) {
        return Ok(None);
    }
    if let Some(tree) = idmap::take_prepared(i) {
        return Ok(Some(tree));
    }
    if idmap::in_user_namespace() {
        return Err(Error::Usage(format!(
            "mounts[{i}] ({}): an id-mapped mount of a container with a user namespace must be \
             built by the runtime before the init is cloned (init::idmap::prepare), which did \
             not happen",
            m.destination().display()
        )));
    }
    let Some(map) = idmap::requested(i, m, opts, None)? else {
        return Ok(None);
    };
    let source = idmap::bind_source(m, bundle);
    idmap::build(i, m, &source, opts.recursive, &map, userns).map(Some)
}

fn bind(
    root: &OwnedFd,
    m: &Mount,
    opts: &MountOptions,
    bundle: &Path,
    idmapped: Option<OwnedFd>,
) -> Result<()> {
    let dest = m.destination();
    let source: PathBuf = idmap::bind_source(m, bundle);
    let meta =
        std::fs::metadata(&source).map_err(|e| Error::io("bind mount source", &source, e))?;
    let target = if meta.is_dir() {
        mkdir_all_in_root(root, dest, 0o755)
    } else {
        create_file_in_root(root, dest, 0o644)
    }
    .map_err(fail(format!("creating {}", dest.display())))?;
    let tree = match idmapped {
        Some(t) => t,
        None => clone_tree(CWD, &source, opts.recursive)
            .map_err(fail(format!("open_tree {}", source.display())))?,
    };
    set_attr(tree.as_fd(), opts.attr_set, opts.attr_clr, 0, false)
        .map_err(|e| Error::sys("setting mount attributes", e))?;
    set_attr(tree.as_fd(), opts.rec_set, opts.rec_clr, 0, true)
        .map_err(|e| Error::sys("setting recursive mount attributes", e))?;
    attach(&tree, &target).map_err(fail(format!("attaching {}", source.display())))?;
    propagate(&tree, opts)
}

/// A `cgroup` mount shows the container its own cgroup: on v2 a cgroup2 instance (with a
/// cgroup namespace) or a bind of its directory; on v1 a tmpfs with a bind per controller.
/// Without a cgroup namespace the result is always read-only (CVE-2023-25809).
fn mount_cgroup(
    root: &OwnedFd,
    dest: &Path,
    opts: &MountOptions,
    ctx: &MountContext<'_>,
) -> Result<()> {
    let Some(cgroup) = ctx.cgroup else {
        // Rootless without a cgroup of its own: nothing of ours to show (runc's rootless
        // spec has no cgroup mount at all).
        tracing::debug!(
            "{}: no cgroup for this container, mount skipped",
            dest.display()
        );
        return Ok(());
    };
    let mut attrs =
        opts.attr_set | A::MOUNT_ATTR_NOSUID | A::MOUNT_ATTR_NODEV | A::MOUNT_ATTR_NOEXEC;
    if !ctx.new_cgroupns {
        attrs |= A::MOUNT_ATTR_RDONLY;
    }
    let target = mkdir_all_in_root(root, dest, 0o755)
        .map_err(fail(format!("creating {}", dest.display())))?;
    if cgroup.hierarchy() == Hierarchy::Unified {
        let tree = if ctx.new_cgroupns {
            new_fs("cgroup2", Some("cgroup"), &[], attrs)?
        } else {
            let dir = cgroup.unified_dir().unwrap_or_default();
            let t = clone_tree(CWD, &dir, false)
                .map_err(fail(format!("open_tree {}", dir.display())))?;
            set_attr(t.as_fd(), attrs, A::empty(), 0, false)
                .map_err(|e| Error::sys("setting cgroup mount attributes", e))?;
            t
        };
        return attach(&tree, &target).map_err(fail("attaching cgroup2".into()));
    }
    let tmpfs = new_fs(
        "tmpfs",
        Some("tmpfs"),
        &["mode=755".into()],
        attrs - A::MOUNT_ATTR_RDONLY,
    )?;
    attach(&tmpfs, &target).map_err(fail("attaching cgroup tmpfs".into()))?;
    let dir = rustix::fs::openat(
        &tmpfs,
        ".",
        OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(fail("opening cgroup tmpfs".into()))?;
    for (name, host_dir) in cgroup.v1_dirs() {
        rustix::fs::mkdirat(&dir, name.as_str(), Mode::from_raw_mode(0o755))
            .map_err(fail(format!("creating cgroup dir {name}")))?;
        let sub = path_in_root(&dir, Path::new(&name)).map_err(fail(format!("opening {name}")))?;
        let tree = clone_tree(CWD, &host_dir, false)
            .map_err(fail(format!("open_tree {}", host_dir.display())))?;
        set_attr(tree.as_fd(), attrs, A::empty(), 0, false)
            .map_err(|e| Error::sys("setting cgroup mount attributes", e))?;
        attach(&tree, &sub).map_err(fail(format!("attaching cgroup {name}")))?;
        if name.contains(',') {
            for alias in name.split(',') {
                let _ = rustix::fs::symlinkat(name.as_str(), &dir, alias);
            }
        }
    }
    if attrs.contains(A::MOUNT_ATTR_RDONLY) {
        set_attr(tmpfs.as_fd(), A::MOUNT_ATTR_RDONLY, A::empty(), 0, false)
            .map_err(|e| Error::sys("making cgroup tmpfs read-only", e))?;
    }
    Ok(())
}
