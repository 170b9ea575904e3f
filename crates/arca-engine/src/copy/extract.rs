//! The destination side of a copy: a tar stream extracted under a directory fd. Each
//! entry's parent is resolved with `openat2(dir, parent, RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS)` (so nothing, symlink or `..`, leads out of `dir`), and its last
//! component is made with `*at` calls on that parent that never follow it.

use std::io::{self, Read};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Component, Path};

use rustix::fs::{
    fchmod, fchown, futimens, mkdirat, mknodat, openat, openat2, statat, symlinkat, unlinkat,
    utimensat, AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid,
};
use rustix::io::Errno;

use super::IN_ROOT;

/// Who owns what is extracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owners {
    /// The archive's uid/gid, as numbers.
    Keep,
    /// 0:0 (Docker's `cp` into a container without `-a`).
    Root,
    /// Whoever extracts (not root: chown would fail).
    Mine,
}

/// How the archive's top entry is renamed on the way.
#[derive(Debug, Clone)]
pub struct Rebase {
    /// The top entry's name in the archive (`.` for entries with no top).
    pub from: String,
    /// Its name at the destination.
    pub to: Option<String>,
    /// Drop it: its contents land in the destination directory (`SRC/.`).
    pub strip: bool,
}

fn other(msg: String) -> io::Error {
    io::Error::other(msg)
}

/// The entry's path at the destination, as components; `None` to skip it.
fn map_path(p: &Path, rebase: Option<&Rebase>) -> io::Result<Option<Vec<String>>> {
    let mut comps = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => comps.push(
                n.to_str()
                    .ok_or_else(|| other(format!("{}: not UTF-8", p.display())))?
                    .to_owned(),
            ),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(other(format!("{}: '..' in an archive path", p.display())))
            }
        }
    }
    if let Some(r) = rebase {
        if r.from != "." {
            if comps.first().map(String::as_str) != Some(r.from.as_str()) {
                return Err(other(format!("{}: outside the copied tree", p.display())));
            }
            comps.remove(0);
        }
        if r.strip {
            // Contents only.
        } else if let Some(to) = &r.to {
            comps.insert(0, to.clone());
        } else if r.from != "." {
            comps.insert(0, r.from.clone());
        }
    }
    Ok((!comps.is_empty()).then_some(comps))
}

fn ts(secs: u64) -> Timestamps {
    let t = Timespec {
        tv_sec: i64::try_from(secs).unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Gives the entry `name` in `parent` (not followed: a symlink or a node) its owner, when the
/// archive's owners are kept, and its mtime.
fn own_and_date(
    parent: &OwnedFd,
    name: &str,
    own: Option<(Uid, Gid)>,
    mtime: u64,
) -> io::Result<()> {
    if let Some((u, g)) = own {
        rustix::fs::chownat(parent, name, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW)?;
    }
    utimensat(parent, name, &ts(mtime), AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

/// Opens (making it, and what leads to it, if missing) the directory `comps` under `dir`.
fn parent_dir(dir: BorrowedFd<'_>, comps: &[String]) -> io::Result<OwnedFd> {
    let open = |p: &str| {
        openat2(
            dir,
            p,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            IN_ROOT,
        )
    };
    let whole = if comps.is_empty() {
        ".".to_owned()
    } else {
        comps.join("/")
    };
    match open(&whole) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let mut cur = open(".")?;
    for i in 0..comps.len() {
        let next = comps[..=i].join("/");
        cur = match open(&next) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                match mkdirat(&cur, comps[i].as_str(), Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                open(&next)?
            }
            Err(e) => return Err(e.into()),
        };
    }
    Ok(cur)
}

/// Makes room for `name` in `parent`: what is there is removed, unless both are
/// directories. Returns whether a directory is already there.
fn make_room(parent: &OwnedFd, name: &str, new_is_dir: bool) -> io::Result<bool> {
    match statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(e.into()),
        Ok(st) => {
            let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            match (is_dir, new_is_dir) {
                (true, true) => Ok(true),
                (true, false) => Err(other(format!(
                    "cannot overwrite directory {name} with non-directory"
                ))),
                (false, _) => {
                    unlinkat(parent, name, AtFlags::empty())?;
                    Ok(false)
                }
            }
        }
    }
}

fn owner(h: &tar::Header, owners: Owners) -> io::Result<Option<(Uid, Gid)>> {
    Ok(match owners {
        Owners::Mine => None,
        Owners::Root => Some((Uid::ROOT, Gid::ROOT)),
        Owners::Keep => {
            let uid = u32::try_from(h.uid()?).map_err(|_| other("uid out of range".into()))?;
            let gid = u32::try_from(h.gid()?).map_err(|_| other("gid out of range".into()))?;
            Some((Uid::from_raw(uid), Gid::from_raw(gid)))
        }
    })
}

/// Extracts the tar stream `r` under `dir`.
pub fn extract(
    r: &mut dyn Read,
    dir: BorrowedFd<'_>,
    rebase: Option<&Rebase>,
    owners: Owners,
) -> io::Result<()> {
    let mut ar = tar::Archive::new(r);
    // Directories' times, set once their contents are in.
    let mut dirs: Vec<(String, u64)> = Vec::new();
    for e in ar.entries()? {
        let mut e = e?;
        let kind = e.header().entry_type();
        let Some(comps) = map_path(&e.path()?, rebase)? else {
            continue;
        };
        let (name, parent_comps) = comps.split_last().expect("not empty");
        let parent = parent_dir(dir, parent_comps)?;
        let name = name.as_str();
        let h = e.header().clone();
        let mode = Mode::from_raw_mode(h.mode()? & 0o7777);
        let mtime = h.mtime()?;
        let own = owner(&h, owners)?;
        match kind {
            tar::EntryType::Directory => {
                if !make_room(&parent, name, true)? {
                    match mkdirat(&parent, name, Mode::from_raw_mode(0o700)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                let fd = openat(
                    &parent,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                if let Some((u, g)) = own {
                    fchown(&fd, Some(u), Some(g))?;
                }
                fchmod(&fd, mode)?;
                dirs.push((comps.join("/"), mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                make_room(&parent, name, false)?;
                let fd = openat(
                    &parent,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )?;
                let mut f = std::fs::File::from(fd);
                io::copy(&mut e, &mut f)?;
                if let Some((u, g)) = own {
                    fchown(&f, Some(u), Some(g))?;
                }
                // After chown, which clears set-id bits.
                fchmod(&f, mode)?;
                futimens(&f, &ts(mtime))?;
            }
            tar::EntryType::Symlink => {
                let target = e
                    .link_name()?
                    .ok_or_else(|| other(format!("{name}: a symlink with no target")))?;
                make_room(&parent, name, false)?;
                symlinkat(target.as_os_str(), &parent, name)?;
                own_and_date(&parent, name, own, mtime)?;
            }
            tar::EntryType::Link => {
                let target = e
                    .link_name()?
                    .ok_or_else(|| other(format!("{name}: a hard link with no target")))?;
                let Some(tc) = map_path(&target, rebase)? else {
                    return Err(other(format!("{name}: a hard link to nothing")));
                };
                let (tname, tparent) = tc.split_last().expect("not empty");
                let tparent = parent_dir(dir, tparent)?;
                make_room(&parent, name, false)?;
                // linkat with no flags never follows the target's last component.
                rustix::fs::linkat(&tparent, tname.as_str(), &parent, name, AtFlags::empty())?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let t = match kind {
                    tar::EntryType::Char => FileType::CharacterDevice,
                    tar::EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let dev = rustix::fs::makedev(
                    h.device_major()?.unwrap_or(0),
                    h.device_minor()?.unwrap_or(0),
                );
                make_room(&parent, name, false)?;
                let old = rustix::process::umask(Mode::empty());
                let made = mknodat(&parent, name, t, mode, dev);
                rustix::process::umask(old);
                made?;
                own_and_date(&parent, name, own, mtime)?;
            }
            // PAX and GNU extension headers are the library's; anything else is skipped.
            _ => {}
        }
    }
    for (path, mtime) in dirs.iter().rev() {
        let fd = openat2(
            dir,
            path.as_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
            IN_ROOT,
        )?;
        futimens(&fd, &ts(*mtime))?;
    }
    Ok(())
}
