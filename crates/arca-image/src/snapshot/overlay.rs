//! Mounting an overlayfs from committed layer trees and a writable upper directory.
//!
//! The new mount API (`fsopen`/`fsconfig`/`fsmount`/`move_mount`) passes each option as its
//! own string, so no path has to survive the comma-separated `mount(2)` data format. Each lower
//! layer is added with `lowerdir+` (Linux 6.8), which also lifts the one-page limit on the
//! option string that capped images at a few dozen layers; older kernels get one
//! colon-separated `lowerdir`, with the characters overlayfs treats specially escaped.
//!
//! Older kernels refuse `lowerdir+` in two ways. From 6.5 overlayfs parses each `fsconfig`
//! itself and refuses the key there (`EINVAL`), so the fallback can follow. Before 6.5 (Debian
//! 12's 6.1, RHEL 9, Ubuntu 22.04) it has no parser of its own: the kernel's legacy shim accepts
//! any key and overlayfs refuses the joined option string only at `FSCONFIG_CMD_CREATE`, with
//! an error in the kernel log. Trying `lowerdir+` there made the store's probe fail, so every
//! store on such a kernel fell back to copy snapshots; [`parses_keys`] tells the two apart first.
//!
//! `index=off` and `metacopy=off` are explicit: with file-level dedup, equal files share an
//! inode across layers, and the index would carry that sharing up into the container's upper
//! directory on copy-up, tying together files that only happened to be equal.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::io::Errno;
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, UnmountFlags};

/// What a mount of a snapshot consists of (containerd's `mount.Mount`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayMount {
    /// Top layer first, as overlayfs stacks them.
    pub lowers: Vec<PathBuf>,
    /// `None`: a read-only view (needs at least two lowers, or it is a plain bind).
    pub upper: Option<(PathBuf, PathBuf)>,
    /// overlayfs's `volatile` (Linux 5.10): no sync of the upper layer, not even at unmount,
    /// which otherwise syncs the whole upper filesystem. For containers removed when they
    /// exit (`--rm`, as Podman does for them): after a crash such an upper cannot be mounted
    /// again, and it is not meant to be.
    pub volatile: bool,
}

impl OverlayMount {
    /// Mounts it at `target` (an existing directory).
    pub fn mount(&self, target: &Path) -> Result<(), Errno> {
        let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
        let set = |k: &str, v: &Path| rustix::mount::fsconfig_set_string(fs.as_fd(), k, v);
        let joined = || set("lowerdir", Path::new(&self.joined_lowers()?));
        let mut lowers = self.lowers.iter();
        match lowers.next() {
            None => return Err(Errno::INVAL),
            Some(_) if !parses_keys() => joined()?,
            Some(first) => match set("lowerdir+", first) {
                Ok(()) => {
                    for l in lowers {
                        set("lowerdir+", l)?;
                    }
                }
                Err(Errno::INVAL) => joined()?,
                Err(e) => return Err(e),
            },
        }
        if let Some((upper, work)) = &self.upper {
            set("upperdir", upper)?;
            set("workdir", work)?;
        }
        rustix::mount::fsconfig_set_string(fs.as_fd(), "index", "off")?;
        if crate::userns::in_user_namespace() {
            // trusted.* is out of reach there: opaque directories are user.overlay.opaque.
            rustix::mount::fsconfig_set_flag(fs.as_fd(), "userxattr")?;
        }
        if self.volatile && self.upper.is_some() {
            rustix::mount::fsconfig_set_flag(fs.as_fd(), "volatile")?;
        }
        // Absent from kernels built without metacopy support; it is off there anyway.
        match rustix::mount::fsconfig_set_string(fs.as_fd(), "metacopy", "off") {
            Ok(()) | Err(Errno::INVAL) => {}
            Err(e) => return Err(e),
        }
        rustix::mount::fsconfig_create(fs.as_fd())?;
        let mnt = rustix::mount::fsmount(
            fs.as_fd(),
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::empty(),
        )?;
        rustix::mount::move_mount(
            mnt.as_fd(),
            "",
            rustix::fs::CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
    }

    /// `a:b:c` with `\`, `:` and `,` escaped, for kernels without `lowerdir+`.
    fn joined_lowers(&self) -> Result<String, Errno> {
        let mut out = String::new();
        for (i, l) in self.lowers.iter().enumerate() {
            if i > 0 {
                out.push(':');
            }
            let s = l.to_str().ok_or(Errno::INVAL)?;
            for c in s.chars() {
                if matches!(c, '\\' | ':' | ',') {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        Ok(out)
    }
}

/// Whether overlayfs checks each `fsconfig` key as it is set (Linux 6.5 and later), so a refused
/// `lowerdir+` shows there. Asked once per process on a context of its own with a key no
/// overlayfs knows: refused means a parser of its own, accepted means the legacy shim (which
/// takes anything and is older than `lowerdir+`). The refusal goes to that context's log, not
/// the kernel's.
fn parses_keys() -> bool {
    static PARSES: OnceLock<bool> = OnceLock::new();
    *PARSES.get_or_init(|| {
        rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_or(true, |fs| {
            rustix::mount::fsconfig_set_flag(fs.as_fd(), "arca-unknown-key").is_err()
        })
    })
}

/// Unmounts `target` (lazily if busy, so a container's leftover process cannot pin it).
pub fn unmount(target: &Path) -> Result<(), Errno> {
    match rustix::mount::unmount(target, UnmountFlags::NOFOLLOW) {
        Err(Errno::BUSY) => rustix::mount::unmount(target, UnmountFlags::DETACH),
        r => r,
    }
}

/// Whether overlayfs works in `dir` (the store's filesystem, as lower, upper and work): tmpfs
/// and ext4 do, overlayfs itself and some network filesystems do not.
pub(crate) fn supported(dir: &Path) -> bool {
    let probe = dir.join(format!(".overlay-probe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&probe);
    let parts = ["lower", "upper", "work", "merged"].map(|p| probe.join(p));
    let ok = parts.iter().all(|p| std::fs::create_dir_all(p).is_ok())
        && OverlayMount {
            lowers: vec![parts[0].clone()],
            upper: Some((parts[1].clone(), parts[2].clone())),
            volatile: false,
        }
        .mount(&parts[3])
        .is_ok();
    if ok {
        let _ = unmount(&parts[3]);
    }
    let _ = std::fs::remove_dir_all(&probe);
    ok
}
