//! An entry's attributes (owner, mode, xattrs, mtime) and the order they are applied in.
//!
//! The order matters: `chown` clears setuid/setgid and `security.capability`, so ownership goes
//! first, then the mode (with its special bits), then xattrs, then the mtime last because every
//! other change would touch the inode again. Nothing here follows a symlink: regular files and
//! directories are changed through their open fd, others with `AT_SYMLINK_NOFOLLOW`.

use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;

use rustix::fs::{AtFlags, Gid, Mode, Timespec, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;

use super::UnpackError;

/// What the header (and its PAX records, which win) say about an entry.
#[derive(Debug, Clone)]
pub(super) struct Meta {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits including setuid, setgid and sticky.
    pub mode: u32,
    pub mtime: Timespec,
    /// `SCHILY.xattr.<name>` records.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

fn bad(path: &Path, what: &str) -> UnpackError {
    UnpackError::refused(path, format!("invalid {what} in header"))
}

impl Meta {
    pub(super) fn read<R: io::Read>(
        entry: &mut tar::Entry<'_, R>,
        path: &Path,
    ) -> Result<Self, UnpackError> {
        let h = entry.header();
        let mut uid = h.uid().map_err(|_| bad(path, "uid"))?;
        let mut gid = h.gid().map_err(|_| bad(path, "gid"))?;
        let mode = h.mode().map_err(|_| bad(path, "mode"))? & 0o7777;
        let mut mtime = Timespec {
            tv_sec: i64::try_from(h.mtime().map_err(|_| bad(path, "mtime"))?)
                .map_err(|_| bad(path, "mtime"))?,
            tv_nsec: 0,
        };
        let mut xattrs = Vec::new();
        if let Some(pax) = entry.pax_extensions().map_err(UnpackError::Stream)? {
            for ext in pax {
                let ext = ext.map_err(UnpackError::Stream)?;
                let Ok(key) = ext.key() else { continue };
                let value = ext.value_bytes();
                let num = || {
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.parse::<u64>().ok())
                };
                match key {
                    "uid" => uid = num().ok_or_else(|| bad(path, "PAX uid"))?,
                    "gid" => gid = num().ok_or_else(|| bad(path, "PAX gid"))?,
                    "mtime" => {
                        mtime = parse_pax_time(value).ok_or_else(|| bad(path, "PAX mtime"))?
                    }
                    k => {
                        if let Some(name) = k.strip_prefix("SCHILY.xattr.") {
                            xattrs.push((name.to_owned(), value.to_vec()));
                        }
                    }
                }
            }
        }
        Ok(Self {
            uid: u32::try_from(uid).map_err(|_| bad(path, "uid"))?,
            gid: u32::try_from(gid).map_err(|_| bad(path, "gid"))?,
            mode,
            mtime,
            xattrs,
        })
    }

    fn times(&self) -> Timestamps {
        Timestamps {
            last_access: self.mtime,
            last_modification: self.mtime,
        }
    }

    fn owner(&self) -> (Option<Uid>, Option<Gid>) {
        (Some(Uid::from_raw(self.uid)), Some(Gid::from_raw(self.gid)))
    }

    /// Applies everything through an open fd (regular files, directories).
    pub(super) fn apply_fd(
        &self,
        fd: BorrowedFd<'_>,
        path: &Path,
        preserve_owner: bool,
    ) -> Result<(), UnpackError> {
        if preserve_owner {
            let (u, g) = self.owner();
            rustix::fs::fchown(fd, u, g).map_err(|e| UnpackError::entry(path, "chown", e))?;
        }
        rustix::fs::fchmod(fd, Mode::from_raw_mode(self.mode))
            .map_err(|e| UnpackError::entry(path, "chmod", e))?;
        for (name, value) in &self.xattrs {
            match rustix::fs::fsetxattr(fd, name.as_str(), value, XattrFlags::empty()) {
                Ok(()) => {}
                Err(e) => xattr_failed(path, name, e)?,
            }
        }
        rustix::fs::futimens(fd, &self.times())
            .map_err(|e| UnpackError::entry(path, "set mtime", e))
    }

    /// Applies owner and mtime to `name` in `parent` without following it (symlinks, device
    /// nodes, fifos). The mode of a device or fifo is set with `fchmodat`, which cannot refuse
    /// to follow a symlink; it is only called right after `mknodat` created the node, in a
    /// destination no one else writes to during the unpack.
    pub(super) fn apply_at(
        &self,
        parent: BorrowedFd<'_>,
        name: &std::ffi::OsStr,
        path: &Path,
        preserve_owner: bool,
        chmod: bool,
    ) -> Result<(), UnpackError> {
        if preserve_owner {
            let (u, g) = self.owner();
            rustix::fs::chownat(parent, name, u, g, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| UnpackError::entry(path, "chown", e))?;
        }
        if chmod {
            rustix::fs::chmodat(
                parent,
                name,
                Mode::from_raw_mode(self.mode),
                AtFlags::empty(),
            )
            .map_err(|e| UnpackError::entry(path, "chmod", e))?;
        }
        if !self.xattrs.is_empty() {
            // There is no fd-relative lsetxattr before Linux 6.13 (setxattrat), and a symlink
            // or device cannot be opened for fsetxattr without side effects.
            tracing::warn!(path = %path.display(), "xattrs on a symlink or special file are not restored");
        }
        rustix::fs::utimensat(parent, name, &self.times(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| UnpackError::entry(path, "set mtime", e))
    }
}

/// An inode's access and modification times, as `utimensat` takes them.
pub(crate) fn stat_times(st: &rustix::fs::Stat) -> Timestamps {
    let ts = |sec: i64, nsec: u64| Timespec {
        tv_sec: sec,
        tv_nsec: i64::try_from(nsec).unwrap_or(0),
    };
    Timestamps {
        last_access: ts(st.st_atime, st.st_atime_nsec),
        last_modification: ts(st.st_mtime, st.st_mtime_nsec),
    }
}

/// `trusted.*` and `security.*` need privileges a rootless unpack does not have; losing them
/// there is what every rootless engine does, so it is a warning. Any other failure is an error.
fn xattr_failed(path: &Path, name: &str, e: Errno) -> Result<(), UnpackError> {
    let privileged = name.starts_with("trusted.") || name.starts_with("security.");
    if privileged && matches!(e, Errno::PERM | Errno::ACCESS | Errno::OPNOTSUPP) {
        tracing::warn!(path = %path.display(), xattr = name, error = %e, "xattr not restored");
        return Ok(());
    }
    Err(UnpackError::entry(path, format!("set xattr {name}"), e))
}

/// PAX times are decimal seconds with an optional fraction (`1700000000.123456789`).
fn parse_pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?;
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let tv_sec = sec.parse::<i64>().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let tv_nsec = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse::<i64>().ok()?
    };
    // Negative times with a fraction are rare enough to round toward zero.
    Some(Timespec { tv_sec, tv_nsec })
}

#[cfg(test)]
mod tests {
    use super::parse_pax_time;

    #[test]
    fn pax_times() {
        let t = parse_pax_time(b"1700000000.5").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (1_700_000_000, 500_000_000));
        let t = parse_pax_time(b"12").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (12, 0));
        assert!(parse_pax_time(b"x").is_none());
    }
}
