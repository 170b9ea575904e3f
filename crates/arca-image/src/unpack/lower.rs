//! Directories a layer needs but does not carry, in a per-layer tree (overlay snapshots).
//!
//! A layer's tar names only what changed: `usr/bin/tool` may come without `usr/` and
//! `usr/bin/`, which the lower layers have. Applied onto one directory those exist already; a
//! layer unpacked into a tree of its own has to create them, and in the merged view the
//! upper-most copy of a directory decides its owner, mode and times. So each one made here takes
//! the attributes of the same directory in the nearest lower layer that has it, as
//! containerd's applier does with its parent layers (`WithParents`); the times are put back
//! at the end of the layer like those of any directory the layer changed.

use std::ffi::OsStr;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Timestamps, Uid};
use rustix::io::Errno;

/// Gives the directory `name` in `dir` (just made, at `rel` in the layer) the owner and mode of
/// `rel` in the nearest of `lowers` (top first) that has it, and returns the new directory's
/// identity with the times to restore once the layer is in. `None` when no lower has it as a
/// directory (a new directory, or one a lower layer whited out), which keeps the defaults.
pub(super) fn inherit(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    rel: &Path,
    lowers: &[PathBuf],
) -> Option<((u64, u64), Timestamps)> {
    let st = lowers.iter().find_map(|l| match lookup(l, rel) {
        Ok(st) => Some(Some(st)),
        Err(Errno::NOENT) => None,
        Err(_) => Some(None),
    })??;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return None;
    }
    let chown = rustix::fs::chownat(
        dir,
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    );
    let chmod = rustix::fs::chmodat(
        dir,
        name,
        Mode::from_raw_mode(st.st_mode & 0o7777),
        AtFlags::empty(),
    );
    if let Err(e) = chown.and(chmod) {
        tracing::warn!(path = %rel.display(), error = %e, "directory attributes from the lower layer not applied");
    }
    let made = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
    Some(((made.st_dev, made.st_ino), super::meta::stat_times(&st)))
}

/// `rel` inside the layer tree `lower`, resolved in it and not following its last component.
fn lookup(lower: &Path, rel: &Path) -> Result<rustix::fs::Stat, Errno> {
    let root = rustix::fs::open(
        lower,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let fd = rustix::fs::openat2(
        &root,
        rel,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?;
    rustix::fs::fstat(&fd)
}
