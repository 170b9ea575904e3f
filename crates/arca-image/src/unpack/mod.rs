//! Streaming, path-safe extraction of an uncompressed layer tar stream into a directory.
//!
//! A layer is untrusted input: its names, link targets and symlinks are written by whoever
//! built the image. tar's own `unpack` works by joining path strings, which a symlink planted
//! earlier in the same stream can redirect (CVE-2021-32760, CVE-2021-38511 and kin). Here the
//! destination is opened once and every entry is created with `*at` calls relative to its
//! parent directory's fd, the parent resolved with `RESOLVE_IN_ROOT` (see [`resolve`]), and the
//! final component never followed. The tar crate is used only to parse headers.
//!
//! Layout: [`path`] cleans names, [`resolve`] finds parents, [`create`] makes each entry type,
//! [`meta`] applies attributes, [`remove`] deletes for whiteouts, [`error`] the error type.

mod create;
mod error;
mod lower;
mod meta;
mod path;
pub(crate) mod remove;
mod resolve;

use std::collections::HashMap;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, OFlags};
use rustix::io::Errno;

pub use error::UnpackError;
pub(crate) use meta::stat_times;
use meta::Meta;
use remove::Created;
use resolve::Root;

/// What a whiteout in the layer becomes. The same layer is unpacked differently depending on
/// how the snapshotter stacks layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteouts {
    /// Layers are applied in order onto one directory (the plain-copy snapshotter): a
    /// whiteout deletes what the lower layers left at its name, an opaque marker empties the
    /// directory of what the lower layers put there.
    Apply,
    /// The layer gets its own directory, later used as an overlayfs lowerdir: a whiteout
    /// becomes overlayfs's whiteout (a 0:0 character device), an opaque marker the
    /// `trusted.overlay.opaque=y` xattr on its directory (`user.overlay.opaque` in a user
    /// namespace, see `userns`). Failing to write either is an
    /// error, since the merged view would silently show deleted files.
    Overlay,
}

/// How to unpack.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// See [`Whiteouts`].
    pub whiteouts: Whiteouts,
    /// Give entries the numeric uid/gid recorded in the tar. Needs root (or `CAP_CHOWN`); a
    /// rootless unpack leaves everything owned by the caller, and the user namespace's id map
    /// makes that the container's root.
    pub preserve_owner: bool,
    /// Store regular files as deduplicated objects and hardlink them into the tree (see
    /// [`crate::objects`]); `None`: each file is written in place.
    pub objects: Option<std::sync::Arc<crate::objects::Objects>>,
    /// With [`Whiteouts::Overlay`]: the trees of the layers below, top first. A directory
    /// this layer needs but does not carry takes its attributes from them (see [`lower`]).
    pub lowers: Vec<PathBuf>,
}

/// What was unpacked, for logs and for checking a layer against its declared size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Tar entries processed (whiteouts and skipped entries included).
    pub entries: u64,
    /// Bytes of regular-file content written.
    pub bytes: u64,
}

/// Unpacks the uncompressed layer `layer` into the existing directory `dest`.
///
/// The stream is read to its very end, past the end-of-archive blocks, so a caller hashing
/// it on the way (the diff_id) has seen every byte when this returns `Ok`. On error, `dest`
/// holds a partial layer and should be discarded; nothing outside `dest` has been touched.
pub fn unpack(
    layer: impl Read,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats, UnpackError> {
    let root = Root::open(dest).map_err(|e| UnpackError::OpenDest {
        dest: dest.to_path_buf(),
        source: e.into(),
    })?;
    let mut u = Unpacker {
        root,
        opts,
        created: Created::new(),
        dirs: HashMap::new(),
        touched: HashMap::new(),
        stats: UnpackStats::default(),
        buf: vec![0; 256 * 1024],
    };
    let mut archive = tar::Archive::new(layer);
    for entry in archive.entries().map_err(UnpackError::Stream)? {
        let mut entry = entry.map_err(UnpackError::Stream)?;
        u.stats.entries += 1;
        u.entry(&mut entry)?;
    }
    u.restore_touched()?;
    u.finish_dirs()?;
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(UnpackError::Stream)?;
    Ok(u.stats)
}

/// A directory's attributes, applied once the whole layer is in so that a read-only directory
/// can still receive its children and its mtime is not disturbed by them.
#[derive(Debug)]
struct DeferredDir {
    meta: Meta,
    /// The directory this entry made or merged into; if the path names something else at the
    /// end (a later entry replaced it), the attributes are dropped.
    id: (u64, u64),
}

/// A directory this layer changed without carrying an entry for it: its times before the
/// layer, put back at the end. Image builders leave such a directory out precisely because its
/// times did not change in the source, so the kernel's "now" (from creating or deleting
/// children in it) would be a difference the image does not have (containerd and umoci keep
/// the lower layer's times too).
#[derive(Debug)]
struct TouchedDir {
    id: (u64, u64),
    times: rustix::fs::Timestamps,
}

struct Unpacker<'o> {
    root: Root,
    touched: HashMap<PathBuf, TouchedDir>,
    opts: &'o UnpackOptions,
    /// Only maintained in `Whiteouts::Apply`: what this layer made, which whiteouts spare.
    created: Created,
    dirs: HashMap<PathBuf, DeferredDir>,
    stats: UnpackStats,
    buf: Vec<u8>,
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let path = path::clean(&entry.path_bytes());
        let Some(name) = path.file_name().map(|n| n.to_os_string()) else {
            // The destination itself (`./`): containerd ignores it too; its attributes belong
            // to whoever made `dest`.
            tracing::debug!("entry naming the destination itself ignored");
            return Ok(());
        };
        let parent_path = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let ty = entry.header().entry_type();
        if ty.is_pax_global_extensions() {
            return Ok(());
        }
        let track = self.opts.whiteouts == Whiteouts::Apply;
        let created = &mut self.created;
        let touched = &mut self.touched;
        let lowers = &self.opts.lowers;
        let mut note = |dir: BorrowedFd<'_>, n: &std::ffi::OsStr, rel: &Path| {
            if track {
                if let Ok(st) = rustix::fs::fstat(dir) {
                    created.insert(((st.st_dev, st.st_ino), n.to_os_string()));
                }
            }
            if let Some((id, times)) = lower::inherit(dir, n, rel, lowers) {
                touched.insert(rel.to_owned(), TouchedDir { id, times });
            }
        };
        self.root
            .resolve_parent(&parent_path, &mut note)
            .map_err(|e| UnpackError::entry(&path, "resolve parent", e))?;
        let parent = self.root.cached_parent();
        if !self.touched.contains_key(&parent_path) {
            if let Ok(st) = rustix::fs::fstat(parent) {
                self.touched.insert(
                    parent_path.clone(),
                    TouchedDir {
                        id: (st.st_dev, st.st_ino),
                        times: meta::stat_times(&st),
                    },
                );
            }
        }

        match path::classify(&name) {
            path::Kind::Plain => {}
            path::Kind::Ignored => {
                tracing::debug!(path = %path.display(), "whiteout metadata entry ignored");
                return Ok(());
            }
            path::Kind::Opaque => {
                return whiteout_opaque(parent, &path, self.opts.whiteouts, &self.created);
            }
            path::Kind::Whiteout(target) => {
                return whiteout(parent, target, &path, self.opts.whiteouts, &self.created);
            }
        }

        let meta = Meta::read(entry, &path)?;
        let opts = self.opts;
        match ty {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                self.stats.bytes +=
                    create::file(parent, &name, &path, entry, &meta, opts, &mut self.buf)?;
            }
            tar::EntryType::Directory => {
                let id = create::dir(parent, &name, &path)?;
                self.dirs.insert(path.clone(), DeferredDir { meta, id });
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| UnpackError::refused(&path, "symlink without a target"))?;
                create::symlink(parent, &name, &path, &target, &meta, opts)?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| UnpackError::refused(&path, "hardlink without a target"))?;
                let target = path::clean(&target);
                create::hardlink(&self.root, parent, &name, &path, &target)?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let (ft, dev) = match ty {
                    tar::EntryType::Char => (FileType::CharacterDevice, device(entry, &path)?),
                    tar::EntryType::Block => (FileType::BlockDevice, device(entry, &path)?),
                    _ => (FileType::Fifo, 0),
                };
                create::node(parent, &name, &path, ft, dev, &meta, opts)?;
            }
            other => {
                // Solaris ACLs, GNU volume headers and the like carry nothing a rootfs can use.
                tracing::warn!(path = %path.display(), kind = ?other, "unsupported tar entry type skipped");
            }
        }
        if track {
            let st = rustix::fs::fstat(parent)
                .map_err(|e| UnpackError::entry(&path, "stat parent", e))?;
            self.created.insert(((st.st_dev, st.st_ino), name));
        }
        Ok(())
    }

    /// The directory at `path` if it is still the one identified by `id`: `None` when it was
    /// replaced by something else or removed later in this layer.
    fn same_dir(
        &self,
        path: &Path,
        id: (u64, u64),
    ) -> Result<Option<rustix::fd::OwnedFd>, UnpackError> {
        let fd = match self
            .root
            .open_in(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW)
        {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return Ok(None),
            Err(e) => return Err(UnpackError::entry(path, "open directory", e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| UnpackError::entry(path, "stat", e))?;
        Ok(((st.st_dev, st.st_ino) == id).then_some(fd))
    }

    /// Puts back the times of the directories this layer changed (see [`TouchedDir`]). Before
    /// [`Self::finish_dirs`]: a directory the layer does carry gets the layer's times after.
    fn restore_touched(&mut self) -> Result<(), UnpackError> {
        for (path, t) in std::mem::take(&mut self.touched) {
            let Some(fd) = self.same_dir(&path, t.id)? else {
                continue;
            };
            rustix::fs::futimens(&fd, &t.times)
                .map_err(|e| UnpackError::entry(&path, "restore times", e))?;
        }
        Ok(())
    }

    /// Applies the deferred directory attributes, deepest first, so that a parent made
    /// read-only or untraversable does not block its children's changes.
    fn finish_dirs(&mut self) -> Result<(), UnpackError> {
        let mut dirs: Vec<_> = std::mem::take(&mut self.dirs).into_iter().collect();
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (path, d) in dirs {
            let Some(fd) = self.same_dir(&path, d.id)? else {
                continue;
            };
            d.meta
                .apply_fd(fd.as_fd(), &path, self.opts.preserve_owner)?;
        }
        Ok(())
    }
}

fn device<R: Read>(entry: &tar::Entry<'_, R>, path: &Path) -> Result<rustix::fs::Dev, UnpackError> {
    let h = entry.header();
    let bad = || UnpackError::refused(path, "invalid device number");
    let major = h.device_major().map_err(|_| bad())?.unwrap_or(0);
    let minor = h.device_minor().map_err(|_| bad())?.unwrap_or(0);
    Ok(rustix::fs::makedev(major, minor))
}

/// `.wh.<target>` in `parent`.
fn whiteout(
    parent: BorrowedFd<'_>,
    target: &std::ffi::OsStr,
    path: &Path,
    mode: Whiteouts,
    created: &Created,
) -> Result<(), UnpackError> {
    match mode {
        Whiteouts::Apply => {
            // A whiteout only hides lower layers: what this layer wrote stays.
            if remove::is_created(parent, target, created) {
                return Ok(());
            }
            match rustix::fs::statat(parent, target, AtFlags::SYMLINK_NOFOLLOW) {
                Err(Errno::NOENT) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(UnpackError::entry(path, "stat whiteout target", e)),
            }
            remove::remove_all(parent, target)
                .map_err(|e| UnpackError::entry(path, "apply whiteout", e))
        }
        Whiteouts::Overlay => {
            remove::remove_all(parent, target)
                .map_err(|e| UnpackError::entry(path, "replace with whiteout", e))?;
            rustix::fs::mknodat(
                parent,
                target,
                FileType::CharacterDevice,
                rustix::fs::Mode::empty(),
                rustix::fs::makedev(0, 0),
            )
            .map_err(|e| UnpackError::entry(path, "create overlay whiteout", e))
        }
    }
}

/// `.wh..wh..opq` in `parent`.
fn whiteout_opaque(
    parent: BorrowedFd<'_>,
    path: &Path,
    mode: Whiteouts,
    created: &Created,
) -> Result<(), UnpackError> {
    match mode {
        Whiteouts::Apply => remove::clear_lower(parent, created)
            .map_err(|e| UnpackError::entry(path, "apply opaque whiteout", e)),
        Whiteouts::Overlay => {
            let dir = rustix::fs::openat(
                parent,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| UnpackError::entry(path, "open opaque directory", e))?;
            let name = crate::userns::opaque_xattr();
            rustix::fs::fsetxattr(dir.as_fd(), name, b"y", rustix::fs::XattrFlags::empty())
                .map_err(|e| UnpackError::entry(path, format!("set xattr {name}"), e))
        }
    }
}
