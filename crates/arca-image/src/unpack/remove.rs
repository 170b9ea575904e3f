//! Deleting beneath a directory fd without ever following a symlink: what a whiteout, an
//! opaque directory, or an entry replacing a lower file does. A symlink is unlinked as itself,
//! and directories are entered only with `O_NOFOLLOW`, so `a -> /etc` whited out removes `a`,
//! never `/etc`'s contents.

use std::collections::HashSet;
use std::ffi::{CStr, OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;

/// Entries this layer created or merged into, as (parent directory's (device, inode), name):
/// an opaque directory or a whiteout only hides what lower layers put there (OCI image spec,
/// "Whiteouts"). Not the entry's own inode: with file-level dedup a file this layer wrote can
/// share its inode with an equal lower file that a whiteout must still remove.
pub(super) type Created = HashSet<((u64, u64), OsString)>;

/// Whether `name` in `parent` is in `created`.
pub(super) fn is_created(parent: BorrowedFd<'_>, name: &OsStr, created: &Created) -> bool {
    rustix::fs::fstat(parent)
        .is_ok_and(|st| created.contains(&((st.st_dev, st.st_ino), name.to_os_string())))
}

/// Opens the directory `name` in `parent`, never through a symlink.
pub(crate) fn open_dir(parent: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// The names in `dir`, but `.` and `..`.
pub(crate) fn children(dir: BorrowedFd<'_>) -> Result<Vec<OsString>, Errno> {
    let mut out = Vec::new();
    for ent in Dir::read_from(dir)? {
        let ent = ent?;
        let name: &CStr = ent.file_name();
        let b = name.to_bytes();
        if b != b"." && b != b".." {
            out.push(OsStr::from_bytes(b).to_os_string());
        }
    }
    Ok(out)
}

/// Removes `name` in `parent`, recursively if it is a directory. Missing is not an error.
pub(super) fn remove_all(parent: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    match rustix::fs::unlinkat(parent, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR | Errno::PERM) => {}
        Err(e) => return Err(e),
    }
    let dir = match open_dir(parent, name) {
        Ok(d) => d,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    for child in children(dir.as_fd())? {
        remove_all(dir.as_fd(), &child)?;
    }
    match rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Empties `dir` of everything lower layers put there: children this layer created are kept,
/// and directories this layer merged into are descended into (their lower children are hidden
/// too). containerd does the same with a set of paths; keying by the parent's inode also
/// holds when this layer reached the directory through a symlink.
pub(super) fn clear_lower(dir: BorrowedFd<'_>, created: &Created) -> Result<(), Errno> {
    let dir = rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let dir_st = rustix::fs::fstat(&dir)?;
    let dir_id = (dir_st.st_dev, dir_st.st_ino);
    for child in children(dir.as_fd())? {
        let st = match rustix::fs::statat(&dir, &child, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(e),
        };
        if created.contains(&(dir_id, child.clone())) {
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                let sub = open_dir(dir.as_fd(), &child)?;
                clear_lower(sub.as_fd(), created)?;
            }
        } else {
            remove_all(dir.as_fd(), &child)?;
        }
    }
    Ok(())
}
