//! Finding an entry's parent directory beneath the destination, by file descriptor.
//!
//! Resolution uses `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` rather than
//! `RESOLVE_BENEATH`: a layer's symlinks are written for the container's root, so
//! `var/run -> /run` from a lower layer must take a later `var/run/x` to `<dest>/run/x`, as
//! containerd (`fs.RootPath`) and umoci do. `RESOLVE_BENEATH` would refuse such real images;
//! `IN_ROOT` clamps both absolute symlinks and `..` to the destination, so nothing can resolve
//! outside it either way. Only the parent is resolved: the final component is always handled
//! with `*at` calls that do not follow it.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// The destination directory and a one-entry cache of the last parent resolved.
///
/// The cache is sound because every operation of an entry changes only children of that
/// entry's own parent: an ancestor of the cached directory can only change through an entry
/// whose parent is a different directory, and resolving that entry replaces the cache.
#[derive(Debug)]
pub(super) struct Root {
    fd: OwnedFd,
    cached: Option<(PathBuf, OwnedFd)>,
}

impl Root {
    pub(super) fn open(dest: &Path) -> Result<Self, Errno> {
        let fd = rustix::fs::open(
            dest,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self { fd, cached: None })
    }

    /// Opens `path` (relative, cleaned) inside the root with `flags`; `""` is the root.
    pub(super) fn open_in(&self, path: &Path, flags: OFlags) -> Result<OwnedFd, Errno> {
        let path = if path.as_os_str().is_empty() {
            Path::new(".")
        } else {
            path
        };
        // EAGAIN: the kernel saw a concurrent rename and refused to guess; try again.
        let mut tries = 0;
        loop {
            match rustix::fs::openat2(
                &self.fd,
                path,
                flags | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            ) {
                Err(Errno::AGAIN) if tries < 16 => tries += 1,
                r => return r,
            }
        }
    }

    /// An `O_PATH` handle on the directory `parent`, which must already exist.
    pub(super) fn existing_dir(&self, parent: &Path) -> Result<OwnedFd, Errno> {
        self.open_in(parent, OFlags::PATH | OFlags::DIRECTORY)
    }

    /// The directory `parent`, created (mode 0755, like containerd's implicit parents) if
    /// missing. Returns the handle and whether any directory was created; `created` is told
    /// about every directory made so whiteouts know this layer made it.
    pub(super) fn resolve_parent(
        &mut self,
        parent: &Path,
        created: &mut dyn FnMut(BorrowedFd<'_>, &std::ffi::OsStr, &Path),
    ) -> Result<(), Errno> {
        let hit = matches!(&self.cached, Some((p, _)) if p == parent);
        if !hit {
            let fd = match self.existing_dir(parent) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => self.mkdir_all(parent, created)?,
                Err(e) => return Err(e),
            };
            self.cached = Some((parent.to_path_buf(), fd));
        }
        Ok(())
    }

    /// The directory [`Self::resolve_parent`] last resolved (the root before any).
    pub(super) fn cached_parent(&self) -> BorrowedFd<'_> {
        match &self.cached {
            Some((_, fd)) => fd.as_fd(),
            None => self.fd.as_fd(),
        }
    }

    /// Like `mkdir -p` inside the root. A dangling symlink on the way (`var/run -> /run` before
    /// `/run` exists) gets its target created inside the root, as containerd's `MkdirAll` on
    /// the root-resolved path does; `depth` bounds symlink chains like the kernel's 40.
    fn mkdir_all(
        &self,
        path: &Path,
        created: &mut dyn FnMut(BorrowedFd<'_>, &std::ffi::OsStr, &Path),
    ) -> Result<OwnedFd, Errno> {
        self.mkdir_all_depth(path, created, 0)
    }

    fn mkdir_all_depth(
        &self,
        path: &Path,
        created: &mut dyn FnMut(BorrowedFd<'_>, &std::ffi::OsStr, &Path),
        depth: u32,
    ) -> Result<OwnedFd, Errno> {
        if depth > 40 {
            return Err(Errno::LOOP);
        }
        let mut dir = self.existing_dir(Path::new(""))?;
        let mut sofar = PathBuf::new();
        for name in path.iter() {
            sofar.push(name);
            match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)) {
                Ok(()) => created(dir.as_fd(), name, &sofar),
                Err(Errno::EXIST) => {}
                Err(e) => return Err(e),
            }
            // Re-resolve from the root: `name` may be a symlink, and it must be followed
            // inside the root, not relative to `dir`.
            dir = match self.existing_dir(&sofar) {
                Err(Errno::NOENT) => {
                    let target = rustix::fs::readlinkat(&dir, name, Vec::new())?;
                    let mut joined = Vec::from(b"/".as_slice());
                    if !target.as_bytes().starts_with(b"/") {
                        let base = sofar.parent().unwrap_or(Path::new(""));
                        joined.extend_from_slice(base.as_os_str().as_bytes());
                        joined.push(b'/');
                    }
                    joined.extend_from_slice(target.as_bytes());
                    self.mkdir_all_depth(&super::path::clean(&joined), created, depth + 1)?;
                    self.existing_dir(&sofar)?
                }
                r => r?,
            };
        }
        Ok(dir)
    }
}
