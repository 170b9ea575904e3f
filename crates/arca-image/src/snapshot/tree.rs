//! Recreating a directory tree under another directory, by file descriptor and never following
//! a symlink: what the copy snapshotter does to stack layers (directories recreated, everything
//! else hardlinked, so a committed layer costs its directory entries and not its data) and to
//! give a container a writable root (everything copied, data included, reflinked where the
//! filesystem can).
//!
//! A writable copy never keeps two names on one inode: with file-level dedup, equal files of
//! unrelated paths share an inode, and a container writing to one must not change the other.
//! Hardlinks the image itself made are therefore copied apart too (overlayfs does the same on
//! copy-up).

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Stat, Uid};
use rustix::io::Errno;

use crate::unpack::remove::{children, open_dir};

/// What happens to entries that are not directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Copy {
    /// Hardlinked: for read-only trees.
    Link,
    /// Copied with their data: for a tree someone writes to.
    Data,
}

/// Copies the contents of the directory `src` into the empty directory `dst` (whose own
/// attributes are set from `src`'s too).
pub(crate) fn copy_tree(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, how: Copy) -> io::Result<()> {
    let st = rustix::fs::fstat(src)?;
    copy_children(src, dst, how)?;
    attrs_fd(src, dst, &st)
}

fn copy_children(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, how: Copy) -> io::Result<()> {
    for name in children(src)? {
        let st = rustix::fs::statat(src, &name, AtFlags::SYMLINK_NOFOLLOW)?;
        let ft = FileType::from_raw_mode(st.st_mode);
        match (ft, how) {
            (FileType::Directory, _) => {
                rustix::fs::mkdirat(dst, &name, Mode::from_raw_mode(0o700))?;
                let s = open_dir(src, &name)?;
                let d = open_dir(dst, &name)?;
                copy_children(s.as_fd(), d.as_fd(), how)?;
                attrs_fd(s.as_fd(), d.as_fd(), &st)?;
            }
            (_, Copy::Link) => {
                rustix::fs::linkat(src, &name, dst, &name, AtFlags::empty())?;
            }
            (FileType::RegularFile, Copy::Data) => copy_file(src, dst, &name, &st)?,
            (FileType::Symlink, Copy::Data) => {
                let target = rustix::fs::readlinkat(src, &name, Vec::new())?;
                rustix::fs::symlinkat(target.as_c_str(), dst, &name)?;
                owner_times_at(dst, &name, &st)?;
            }
            (_, Copy::Data) => {
                rustix::fs::mknodat(
                    dst,
                    &name,
                    ft,
                    Mode::from_raw_mode(st.st_mode & 0o7777),
                    st.st_rdev,
                )?;
                owner_times_at(dst, &name, &st)?;
                rustix::fs::chmodat(
                    dst,
                    &name,
                    Mode::from_raw_mode(st.st_mode & 0o7777),
                    AtFlags::empty(),
                )?;
            }
        }
    }
    Ok(())
}

fn copy_file(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, name: &OsStr, st: &Stat) -> io::Result<()> {
    let from = rustix::fs::openat(
        src,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let to = rustix::fs::openat(
        dst,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?;
    // A reflink shares the blocks until either side writes (btrfs, xfs); elsewhere the kernel
    // copies in place without bringing the data to user space.
    if rustix::fs::ioctl_ficlone(&to, &from).is_err() {
        let mut left = u64::try_from(st.st_size).unwrap_or(0);
        while left > 0 {
            let n = rustix::fs::copy_file_range(
                &from,
                None,
                &to,
                None,
                usize::try_from(left).unwrap_or(usize::MAX),
            )?;
            if n == 0 {
                break;
            }
            left -= n as u64;
        }
        if left > 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being copied",
            ));
        }
    }
    attrs_fd(from.as_fd(), to.as_fd(), st)
}

/// Owner, mode, xattrs, then times (the order chown-clears-setuid requires).
fn attrs_fd(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, st: &Stat) -> io::Result<()> {
    rustix::fs::fchown(
        dst,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )?;
    rustix::fs::fchmod(dst, Mode::from_raw_mode(st.st_mode & 0o7777))?;
    copy_xattrs(src, dst)?;
    rustix::fs::futimens(dst, &crate::unpack::stat_times(st))?;
    Ok(())
}

fn owner_times_at(dir: BorrowedFd<'_>, name: &OsStr, st: &Stat) -> io::Result<()> {
    rustix::fs::chownat(
        dir,
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    rustix::fs::utimensat(
        dir,
        name,
        &crate::unpack::stat_times(st),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

fn copy_xattrs(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> io::Result<()> {
    let len = match rustix::fs::flistxattr_query(src) {
        Ok(0) | Err(Errno::OPNOTSUPP) => return Ok(()),
        Ok(n) => n,
        Err(e) => return Err(e.into()),
    };
    let mut names = vec![0u8; len];
    let n = rustix::fs::flistxattr(src, &mut names[..])?;
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = OsStr::from_bytes(name);
        let size = rustix::fs::fgetxattr_query(src, name)?;
        let mut value = vec![0u8; size];
        let got = rustix::fs::fgetxattr(src, name, &mut value[..])?;
        rustix::fs::fsetxattr(dst, name, &value[..got], rustix::fs::XattrFlags::empty())?;
    }
    Ok(())
}

/// Opens `path` as a directory handle for [`copy_tree`].
pub(crate) fn open(path: &std::path::Path) -> io::Result<File> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(File::from(fd))
}
