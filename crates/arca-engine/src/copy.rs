//! `arca cp`: files between a container's root filesystem and the host (or a tar stream),
//! with Docker's rules for the source's trailing `/` or `/.` and for a destination that is
//! or is not a directory.
//!
//! Every path inside the container is resolved by file descriptor, within the container's
//! root: `openat2(root, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` for the parent, then
//! `*at` calls on that directory for the last component, never following it when writing
//! (CVE-2018-15664: a container swapping a path component for a symlink to `/` while a copy
//! runs). Nothing of the container is run or loaded on the host (CVE-2019-14271): owners
//! are copied as numbers. Between source and destination is a tar stream
//! ([`archive`] writes it, [`extract`] reads it).

mod archive;
mod extract;

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{openat2, FileType, Mode, OFlags, ResolveFlags, CWD};

use crate::container::Status;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::records::Record;

pub(crate) use archive::archive;
pub use extract::{extract, Owners};

/// Where the copy's source is.
pub enum Source<'a> {
    /// A host path.
    Host(PathBuf),
    /// A tar stream, extracted as it is into the destination directory.
    Tar(&'a mut dyn Read),
}

/// Where the copy goes.
pub enum Dest<'a> {
    Host(PathBuf),
    /// A tar stream (its entries named from the source's last component).
    Tar(&'a mut dyn Write),
}

impl std::fmt::Debug for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Host(p) => write!(f, "Host({})", p.display()),
            Source::Tar(_) => f.write_str("Tar"),
        }
    }
}

impl std::fmt::Debug for Dest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dest::Host(p) => write!(f, "Host({})", p.display()),
            Dest::Tar(_) => f.write_str("Tar"),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// `-L`: follow a symlink at the source path itself.
    pub follow: bool,
    /// `-a`: keep owners when copying into the container (else its root owns them).
    pub archive: bool,
}

/// Resolution inside a container's root.
pub(crate) const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// The container's mounted root filesystem, as a directory fd; unmounted on drop if it was
/// mounted for the copy.
#[derive(Debug)]
pub struct MountedRoot<'a> {
    engine: &'a Engine,
    id: String,
    fd: OwnedFd,
    mounted_here: bool,
}

impl MountedRoot<'_> {
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }
}

impl Drop for MountedRoot<'_> {
    fn drop(&mut self) {
        if !self.mounted_here {
            return;
        }
        // Started meanwhile: the mount is its own now.
        if let Ok(Some(rec)) = self.engine.records.resolve(&self.id) {
            if self.engine.status(&rec) == Status::Running {
                return;
            }
        }
        self.engine.unmount(&self.id);
    }
}

impl Engine {
    /// The container's root filesystem, mounted for the time of the returned handle if it
    /// was not (a created or stopped container).
    pub fn mounted_root(&self, rec: &Record) -> Result<MountedRoot<'_>, EngineError> {
        let rootfs = self.rootfs(&rec.id);
        let mounted_here = !crate::container::is_mountpoint(&rootfs);
        if mounted_here {
            self.mount(rec)?;
        }
        let guard = |fd| MountedRoot {
            engine: self,
            id: rec.id.clone(),
            fd,
            mounted_here,
        };
        match rustix::fs::open(
            &rootfs,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Ok(guard(fd)),
            Err(e) => {
                if mounted_here {
                    self.unmount(&rec.id);
                }
                Err(EngineError::io("open", &rootfs, e.into()))
            }
        }
    }

    /// `arca cp CONTAINER:SRC DEST`.
    pub fn copy_from(
        &self,
        rec: &Record,
        src: &str,
        dest: Dest<'_>,
        opts: CopyOptions,
    ) -> Result<(), EngineError> {
        let root = self.mounted_root(rec)?;
        let from = Side::Container(root.fd().as_fd());
        copy(from, src, Side::Host, dest, opts, None)
    }

    /// `arca cp SRC CONTAINER:DEST`.
    pub fn copy_into(
        &self,
        rec: &Record,
        src: Source<'_>,
        dest: &str,
        opts: CopyOptions,
    ) -> Result<(), EngineError> {
        let root = self.mounted_root(rec)?;
        let owners = if opts.archive {
            Owners::Keep
        } else {
            Owners::Root
        };
        let to = Side::Container(root.fd().as_fd());
        match src {
            Source::Tar(r) => {
                let dir = to
                    .open_dir(dest)
                    .map_err(|e| EngineError::io("open", Path::new(dest), e))?;
                extract(r, dir.as_fd(), None, owners)
                    .map_err(|e| EngineError::io("extract into", Path::new(dest), e))
            }
            Source::Host(p) => copy(
                Side::Host,
                p.to_str()
                    .ok_or_else(|| EngineError::Spec(format!("{}: not UTF-8", p.display())))?,
                to,
                Dest::Host(PathBuf::from(dest)),
                opts,
                Some(owners),
            ),
        }
    }
}

/// One side of a copy: the host, or a container's root (paths resolved within it).
#[derive(Clone, Copy)]
pub(crate) enum Side<'a> {
    Host,
    Container(std::os::fd::BorrowedFd<'a>),
}

impl<'a> Side<'a> {
    fn root(self) -> std::os::fd::BorrowedFd<'a> {
        match self {
            Side::Host => CWD,
            Side::Container(fd) => fd,
        }
    }

    fn resolve(self) -> ResolveFlags {
        match self {
            Side::Host => ResolveFlags::empty(),
            Side::Container(_) => IN_ROOT,
        }
    }

    /// A path on this side as given to openat2 from [`Side::root`].
    fn base(self, path: &str) -> String {
        match self {
            Side::Host => path.to_owned(),
            Side::Container(_) => format!("/{}", path.trim_start_matches('/')),
        }
    }

    fn open(self, path: &str, flags: OFlags) -> std::io::Result<OwnedFd> {
        let p = self.base(path);
        let p = if p.is_empty() { ".".to_owned() } else { p };
        Ok(openat2(
            self.root(),
            p.as_str(),
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            self.resolve(),
        )?)
    }

    fn open_dir(self, path: &str) -> std::io::Result<OwnedFd> {
        self.open(path, OFlags::RDONLY | OFlags::DIRECTORY)
    }

    /// What is at `path` (following a last symlink if `follow`), or `None`.
    fn kind(self, path: &str, follow: bool) -> std::io::Result<Option<FileType>> {
        let mut flags = OFlags::PATH;
        if !follow {
            flags |= OFlags::NOFOLLOW;
        }
        match self.open(path, flags) {
            Ok(fd) => Ok(Some(FileType::from_raw_mode(
                rustix::fs::fstat(&fd)?.st_mode,
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Splits `path` into its parent (`.` or `/` when it has none) and last component, Docker's
/// way: trailing slashes and a final `/.` are dropped (the caller has looked at them).
fn split(path: &str) -> (String, String) {
    let mut p = path.trim_end_matches('/');
    while let Some(s) = p.strip_suffix("/.") {
        p = s.trim_end_matches('/');
    }
    if p.is_empty() {
        return ("/".into(), ".".into());
    }
    match p.rfind('/') {
        Some(i) => {
            let parent = if i == 0 { "/" } else { &p[..i] };
            (parent.to_owned(), p[i + 1..].to_owned())
        }
        None => (".".into(), p.to_owned()),
    }
}

fn err(msg: String) -> EngineError {
    EngineError::Spec(msg)
}

/// The whole copy: `src` on `from` to `dest` on `to` (or a tar stream).
fn copy(
    from: Side<'_>,
    src: &str,
    to: Side<'_>,
    dest: Dest<'_>,
    opts: CopyOptions,
    owners: Option<Owners>,
) -> Result<(), EngineError> {
    let owners = owners.unwrap_or(if rustix::process::geteuid().is_root() {
        Owners::Keep
    } else {
        Owners::Mine
    });
    let io = |what: &str| {
        let what = what.to_owned();
        move |e: std::io::Error| EngineError::io("copy", Path::new(&what), e)
    };
    let src_kind = from
        .kind(src, opts.follow)
        .map_err(io(src))?
        .ok_or_else(|| err(format!("could not find {src}: no such file or directory")))?;
    let src_is_dir = src_kind == FileType::Directory;
    let contents_only =
        src == "." || src.ends_with("/.") || src.trim_end_matches('/').ends_with("/.");
    if (src.ends_with('/') || contents_only) && !src_is_dir {
        return Err(err(format!("{src}: not a directory")));
    }
    let (_, src_name) = split(src);
    let src_name_tar = if src_name == "." || src_name == "/" {
        // The root itself (`CONTAINER:/`): Docker names it after nothing; use ".".
        ".".to_owned()
    } else {
        src_name.clone()
    };

    let dest_path = match dest {
        Dest::Tar(w) => {
            return archive(w, from, src, &src_name_tar, opts.follow).map_err(io(src));
        }
        Dest::Host(p) => p,
    };
    let dest = dest_path
        .to_str()
        .ok_or_else(|| err(format!("{}: not UTF-8", dest_path.display())))?;
    let dest_kind = to.kind(dest, true).map_err(io(dest))?;
    // Where to extract, and what the source's top entry is called there.
    let (dir, rename, strip): (String, Option<String>, bool) = match dest_kind {
        Some(FileType::Directory) => {
            if src_is_dir && contents_only {
                (dest.to_owned(), None, true)
            } else {
                (dest.to_owned(), None, false)
            }
        }
        Some(_) if src_is_dir => {
            return Err(err(format!("cannot copy a directory to a file: {dest}")))
        }
        Some(_) if dest.ends_with('/') => return Err(err(format!("{dest}: not a directory"))),
        Some(_) => {
            let (p, n) = split(dest);
            (p, Some(n), false)
        }
        None => {
            if dest.ends_with('/') && !src_is_dir {
                return Err(err(format!("destination directory {dest} must exist")));
            }
            let (p, n) = split(dest);
            match to.kind(&p, true).map_err(io(&p))? {
                Some(FileType::Directory) => {}
                _ => return Err(err(format!("{p}: no such directory"))),
            }
            (p, Some(n), false)
        }
    };
    let dirfd = to.open_dir(&dir).map_err(io(&dir))?;
    // A pipe between the archiver (a thread) and the extractor.
    let (r, w) = std::io::pipe().map_err(io(src))?;
    std::thread::scope(|s| {
        let tar_name = src_name_tar.as_str();
        let writer = s.spawn(move || {
            let mut w = w;
            archive(&mut w, from, src, tar_name, opts.follow)
        });
        let mut r = r;
        let rebase = extract::Rebase {
            from: src_name_tar.clone(),
            to: rename.clone(),
            strip,
        };
        let ex = extract(&mut r, dirfd.as_fd(), Some(&rebase), owners);
        drop(r);
        let ar = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("archiver panicked")));
        ar.map_err(io(src))?;
        ex.map_err(io(dest))
    })
}
