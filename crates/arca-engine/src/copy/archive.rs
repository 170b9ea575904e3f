//! The source side of a copy, written as a tar stream: the object at the source path and,
//! for a directory, everything under it, walked by file descriptor with no symlink followed
//! (but the source path's own last one with `-L`).

use std::collections::HashMap;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{fstat, openat, readlinkat, Dir, FileType, Mode, OFlags, Stat};

use super::Side;

/// Writes `src` (on `from`) to `w` as a tar stream whose top entry is named `tar_name`.
pub(crate) fn archive(
    w: &mut dyn Write,
    from: Side<'_>,
    src: &str,
    tar_name: &str,
    follow: bool,
) -> io::Result<()> {
    let mut flags = OFlags::PATH;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    let top = from.open(src, flags)?;
    let st = fstat(&top)?;
    let reopen = || {
        let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
        if !follow {
            flags |= OFlags::NOFOLLOW;
        }
        from.open(src, flags)
    };
    let mut b = tar::Builder::new(w);
    let mut links = HashMap::new();
    entry(&mut b, &top, &st, &reopen, tar_name, &mut links)?;
    b.into_inner()?.flush()
}

fn header(st: &Stat, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h.set_size(0);
    h
}

/// Whether `fd` is the object `st` describes (nothing was swapped in between).
fn same(fd: &OwnedFd, st: &Stat) -> io::Result<()> {
    let now = fstat(fd)?;
    if now.st_dev != st.st_dev || now.st_ino != st.st_ino {
        return Err(io::Error::other("the file changed while being copied"));
    }
    Ok(())
}

/// One object (`path` is an `O_PATH` fd on it, never a followed symlink), recursively.
fn entry<W: Write>(
    b: &mut tar::Builder<W>,
    path: &OwnedFd,
    st: &Stat,
    reopen: &dyn Fn() -> io::Result<OwnedFd>,
    name: &str,
    links: &mut HashMap<(u64, u64), String>,
) -> io::Result<()> {
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => {
            let key = (st.st_dev, st.st_ino);
            if st.st_nlink > 1 {
                if let Some(first) = links.get(&key) {
                    let mut h = header(st, tar::EntryType::Link);
                    return b.append_link(&mut h, name, first.as_str());
                }
                links.insert(key, name.to_owned());
            }
            let fd = reopen()?;
            same(&fd, st)?;
            let mut h = header(st, tar::EntryType::Regular);
            h.set_size(u64::try_from(st.st_size).unwrap_or(0));
            let file = std::fs::File::from(fd);
            // A file that shrinks meanwhile must not desynchronise the stream.
            let mut r = io::Read::chain(
                io::Read::take(file, u64::try_from(st.st_size).unwrap_or(0)),
                io::repeat(0),
            );
            b.append_data(
                &mut h,
                name,
                io::Read::take(&mut r, u64::try_from(st.st_size).unwrap_or(0)),
            )
        }
        FileType::Directory => {
            let dir = openat(
                path,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            same(&dir, st)?;
            let mut h = header(st, tar::EntryType::Directory);
            let dname = if name.ends_with('/') {
                name.to_owned()
            } else {
                format!("{name}/")
            };
            b.append_data(&mut h, dname.as_str(), io::empty())?;
            let mut names = Vec::new();
            for e in Dir::read_from(&dir)? {
                let e = e?;
                let n = e.file_name().to_bytes();
                if n == b"." || n == b".." {
                    continue;
                }
                names.push(
                    String::from_utf8(n.to_vec())
                        .map_err(|_| io::Error::other("a file name is not UTF-8"))?,
                );
            }
            names.sort();
            for n in names {
                let child = match openat(
                    &dir,
                    n.as_str(),
                    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    // Gone meanwhile.
                    Err(rustix::io::Errno::NOENT) => continue,
                    Err(e) => return Err(e.into()),
                };
                let cst = fstat(&child)?;
                let d = dir.as_fd();
                let cn = n.clone();
                let reopen = move || -> io::Result<OwnedFd> {
                    Ok(openat(
                        d,
                        cn.as_str(),
                        OFlags::RDONLY
                            | OFlags::NOFOLLOW
                            | OFlags::NONBLOCK
                            | OFlags::NOCTTY
                            | OFlags::CLOEXEC,
                        Mode::empty(),
                    )?)
                };
                let child_name = if name == "." {
                    n.clone()
                } else {
                    format!("{}/{n}", name.trim_end_matches('/'))
                };
                entry(b, &child, &cst, &reopen, &child_name, links)?;
            }
            Ok(())
        }
        FileType::Symlink => {
            let target = readlinkat(path, "", Vec::new())?;
            let target = target
                .into_string()
                .map_err(|_| io::Error::other("a symlink's target is not UTF-8"))?;
            let mut h = header(st, tar::EntryType::Symlink);
            b.append_link(&mut h, name, target.as_str())
        }
        kind => {
            let t = match kind {
                FileType::CharacterDevice => tar::EntryType::Char,
                FileType::BlockDevice => tar::EntryType::Block,
                FileType::Fifo => tar::EntryType::Fifo,
                // Sockets are not archived (as tar's).
                _ => return Ok(()),
            };
            let mut h = header(st, t);
            let dev = st.st_rdev;
            h.set_device_major(rustix::fs::major(dev))?;
            h.set_device_minor(rustix::fs::minor(dev))?;
            b.append_data(&mut h, name, io::empty())
        }
    }
}
