//! Making each kind of entry as a child of an already-resolved parent directory fd.
//!
//! Whatever is at the name is replaced (removed without following, recursively for a
//! directory, as containerd does for a lower layer's entry) unless both are directories, which
//! merge. Files are opened `O_CREAT | O_EXCL | O_NOFOLLOW`, so even a symlink that appeared at
//! the name in between is refused, never written through.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use sha2::{Digest as _, Sha256};

use super::meta::Meta;
use super::remove::remove_all;
use super::resolve::Root;
use super::{UnpackError, UnpackOptions};
use crate::objects::{ObjectKey, ObjectMeta};

fn clear(parent: BorrowedFd<'_>, name: &OsStr, path: &Path) -> Result<(), UnpackError> {
    remove_all(parent, name).map_err(|e| UnpackError::entry(path, "replace existing", e))
}

fn id(st: &rustix::fs::Stat) -> (u64, u64) {
    (st.st_dev, st.st_ino)
}

/// A regular file, streamed through `buf`. Returns the bytes written.
///
/// With an object store (file-level dedup) the content goes to an unnamed file beside the
/// objects, hashed on the way, gets its attributes, and is then linked into the tree as the
/// object for that content and those attributes (see [`crate::objects`]); otherwise it is
/// written in place.
pub(super) fn file<R: Read>(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    entry: &mut tar::Entry<'_, R>,
    meta: &Meta,
    opts: &UnpackOptions,
    buf: &mut [u8],
) -> Result<u64, UnpackError> {
    clear(parent, name, path)?;
    let Some(objects) = &opts.objects else {
        let fd = rustix::fs::openat(
            parent,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| UnpackError::entry(path, "create file", e))?;
        let mut file = File::from(fd);
        let written = copy_content(entry, &mut file, path, buf, |_| {})?;
        meta.apply_fd(file.as_fd(), path, opts.preserve_owner)?;
        return Ok(written);
    };
    let mut file = objects
        .tmpfile()
        .map_err(|e| UnpackError::entry(path, "create file", e))?;
    let mut hasher = Sha256::new();
    let written = copy_content(entry, &mut file, path, buf, |chunk| hasher.update(chunk))?;
    meta.apply_fd(file.as_fd(), path, opts.preserve_owner)?;
    let key = ObjectKey::new(
        &hasher.finalize().into(),
        written,
        &ObjectMeta {
            uid: meta.uid,
            gid: meta.gid,
            mode: meta.mode,
            mtime: (meta.mtime.tv_sec, meta.mtime.tv_nsec),
            xattrs: &meta.xattrs,
            owned: opts.preserve_owner,
        },
    );
    objects
        .link(&file, &key, written, parent, name)
        .map_err(|e| UnpackError::entry(path, "link file object", e))?;
    Ok(written)
}

/// The entry's content into `out`, each chunk also shown to `seen`.
fn copy_content<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    out: &mut File,
    path: &Path,
    buf: &mut [u8],
    mut seen: impl FnMut(&[u8]),
) -> Result<u64, UnpackError> {
    let mut written = 0u64;
    loop {
        let n = match entry.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(UnpackError::entry(path, "read file content", e)),
        };
        seen(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| UnpackError::entry(path, "write file", e))?;
        written += n as u64;
    }
    // The tar crate stops at the end of the stream without complaint: a header declaring more
    // than the stream holds is a truncated (or hostile) layer, not a short file.
    if entry.header().entry_type() != tar::EntryType::GNUSparse && written != entry.size() {
        return Err(UnpackError::entry(
            path,
            "read file content",
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("layer ends after {written} of {} bytes", entry.size()),
            ),
        ));
    }
    Ok(written)
}

/// A directory: made (private until its attributes are applied at the end) or merged into.
pub(super) fn dir(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
) -> Result<(u64, u64), UnpackError> {
    let mk = || rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700));
    match mk() {
        Ok(()) => {}
        Err(Errno::EXIST) => {
            let st = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| UnpackError::entry(path, "stat", e))?;
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                return Ok(id(&st));
            }
            // A symlink (or file) at a directory's name is replaced, never followed: this is
            // CVE-2021-32760, where the directory's chmod went through the symlink.
            clear(parent, name, path)?;
            mk().map_err(|e| UnpackError::entry(path, "create directory", e))?;
        }
        Err(e) => return Err(UnpackError::entry(path, "create directory", e)),
    }
    let st = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| UnpackError::entry(path, "stat", e))?;
    Ok(id(&st))
}

/// A symlink; its target is stored verbatim and never resolved here.
pub(super) fn symlink(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    target: &[u8],
    meta: &Meta,
    opts: &UnpackOptions,
) -> Result<(), UnpackError> {
    use std::os::unix::ffi::OsStrExt;
    clear(parent, name, path)?;
    rustix::fs::symlinkat(OsStr::from_bytes(target), parent, name)
        .map_err(|e| UnpackError::entry(path, "create symlink", e))?;
    meta.apply_at(parent, name, path, opts.preserve_owner, false)
}

/// A hardlink to `target` (cleaned), resolved inside the root like any entry name: it cannot
/// name anything outside the destination, and its last component is not followed (`linkat`
/// without `AT_SYMLINK_FOLLOW`), so a link to a symlink links the symlink itself. The link
/// shares its target's inode, so the header's own attributes are not applied, as GNU tar does.
pub(super) fn hardlink(
    root: &Root,
    parent: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    target: &Path,
) -> Result<(), UnpackError> {
    let Some(tname) = target.file_name() else {
        return Err(UnpackError::refused(
            path,
            "hardlink to the destination root",
        ));
    };
    let tparent = root
        .existing_dir(target.parent().unwrap_or(Path::new("")))
        .map_err(|e| {
            UnpackError::entry(
                path,
                format!("resolve hardlink target {}", target.display()),
                e,
            )
        })?;
    let tst = rustix::fs::statat(&tparent, tname, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| {
        UnpackError::entry(
            path,
            format!("stat hardlink target {}", target.display()),
            e,
        )
    })?;
    if let Ok(st) = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        if id(&st) == id(&tst) {
            return Ok(());
        }
    }
    clear(parent, name, path)?;
    rustix::fs::linkat(&tparent, tname, parent, name, AtFlags::empty())
        .map_err(|e| UnpackError::entry(path, format!("hardlink to {}", target.display()), e))
}

/// A character or block device, or a fifo. Creating devices needs `CAP_MKNOD` in the initial
/// user namespace; without it (rootless) the device is skipped with a warning, as containerd
/// does in a user namespace: the runtime bind-mounts the devices a container gets anyway.
pub(super) fn node(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    ft: FileType,
    dev: rustix::fs::Dev,
    meta: &Meta,
    opts: &UnpackOptions,
) -> Result<(), UnpackError> {
    clear(parent, name, path)?;
    match rustix::fs::mknodat(parent, name, ft, Mode::from_raw_mode(0o600), dev) {
        Ok(()) => {}
        Err(Errno::PERM) if ft != FileType::Fifo => {
            tracing::warn!(path = %path.display(), "device node skipped: not permitted to mknod");
            return Ok(());
        }
        Err(e) => return Err(UnpackError::entry(path, "mknod", e)),
    }
    meta.apply_at(parent, name, path, opts.preserve_owner, true)
}
