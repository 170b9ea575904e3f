//! File-level deduplication, the way ostree and the Nix store do it: every regular file a
//! layer unpacks becomes a content-addressed object, and the layer's tree holds a hardlink to
//! it. Two images built from the same Debian packages then share one inode per identical
//! file instead of one copy per layer.
//!
//! ```text
//! <images>/objects/<2 hex>/<62 hex>   one inode per (content, owner, mode, mtime, xattrs)
//! ```
//!
//! A hardlink shares the inode's metadata as well as its data, so the object key covers both
//! (see [`ObjectKey`]): files equal in content but not in owner, mode, mtime or xattrs stay
//! apart, and a layer tree shows exactly what its tar said.
//!
//! Objects are only ever read through their links: overlayfs copies a file up before a
//! container writes to it, and the copy snapshotter copies the data of the writable tree. An
//! object with a link count of one is referenced by no tree and is garbage ([`Objects::collect`],
//! under the exclusive GC lock).
//!
//! Crash safety. A file is written to an unnamed `O_TMPFILE`, given its attributes, and only
//! then linked in as an object, so a half-written object never has a name. Its data may still
//! be in the page cache at a crash; the snapshot that links it is committed only after a
//! `syncfs` (see the snapshotter), and an object left behind by an uncommitted snapshot is
//! checked on reuse: one whose size differs from the content's (the zero-length file a crash
//! leaves) is replaced.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use sha2::{Digest as _, Sha256};

/// The identity of an object: SHA-256 over a version tag, the content's SHA-256, and the
/// metadata a hardlink shares. Internal to the store (never exchanged), so its format can
/// change with the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectKey([u8; 32]);

/// The attributes an object carries besides its bytes.
#[derive(Debug)]
pub struct ObjectMeta<'a> {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub mtime: (i64, i64),
    /// Applied as given; order does not matter (sorted for the key).
    pub xattrs: &'a [(String, Vec<u8>)],
    /// Whether uid/gid were applied (a rootless unpack leaves the caller's).
    pub owned: bool,
}

impl ObjectKey {
    pub fn new(content: &[u8; 32], size: u64, meta: &ObjectMeta<'_>) -> ObjectKey {
        let mut h = Sha256::new();
        h.update(b"arca-object-v1\0");
        h.update(content);
        h.update(size.to_le_bytes());
        h.update(meta.uid.to_le_bytes());
        h.update(meta.gid.to_le_bytes());
        h.update(meta.mode.to_le_bytes());
        h.update(meta.mtime.0.to_le_bytes());
        h.update(meta.mtime.1.to_le_bytes());
        h.update([u8::from(meta.owned)]);
        let mut xattrs: Vec<_> = meta.xattrs.iter().collect();
        xattrs.sort();
        for (name, value) in xattrs {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((value.len() as u64).to_le_bytes());
            h.update(value);
        }
        ObjectKey(h.finalize().into())
    }

    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `ab/cdef…` under the objects directory.
    fn rel(&self) -> String {
        let hex = self.hex();
        format!("{}/{}", &hex[..2], &hex[2..])
    }
}

/// How a file reached its tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    /// It became a new object.
    New,
    /// An equal object existed; the file's own copy is dropped.
    Shared,
    /// The object has as many links as the filesystem allows (`EMLINK`, 65,000 on ext4): the
    /// file keeps its own inode.
    Private,
}

/// What the objects directory holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectUsage {
    pub objects: u64,
    /// Bytes of content (each object once).
    pub bytes: u64,
    /// Objects no tree links to (removed by the next collection).
    pub unreferenced: u64,
}

/// The objects directory of an image store. Cheap to share between threads (`&Objects`).
#[derive(Debug)]
pub struct Objects {
    dir: OwnedFd,
    path: PathBuf,
}

impl Objects {
    /// Opens `<images>/objects`, creating it and its 256 fan-out directories on first use.
    pub fn open(images: &Path) -> io::Result<Objects> {
        let path = images.join("objects");
        if !path.join("ff").is_dir() {
            crate::store::create_private_dir(images)?;
            crate::store::create_private_dir(&path)?;
            for i in 0..=255u8 {
                match std::fs::create_dir(path.join(format!("{i:02x}"))) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                    _ => {}
                }
            }
        }
        let dir = rustix::fs::open(
            &path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Objects { dir, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new unnamed file on the objects' filesystem, for one file's content.
    pub(crate) fn tmpfile(&self) -> io::Result<File> {
        let fd = rustix::fs::openat(
            &self.dir,
            ".",
            OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )?;
        Ok(File::from(fd))
    }

    /// Makes `tmp` (content and attributes final, `size` bytes) the object `key` unless an
    /// equal one exists, then links the object as `name` in `parent` (which must not exist).
    pub(crate) fn link(
        &self,
        tmp: &File,
        key: &ObjectKey,
        size: u64,
        parent: BorrowedFd<'_>,
        name: &OsStr,
    ) -> Result<Linked, Errno> {
        let rel = key.rel();
        let mut linked = Linked::New;
        match link_fd(tmp.as_fd(), self.dir.as_fd(), &rel) {
            Ok(()) => {}
            Err(Errno::EXIST) => {
                linked = Linked::Shared;
                let st = rustix::fs::statat(&self.dir, rel.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
                if u64::try_from(st.st_size).unwrap_or(0) != size {
                    // A crash left it short (its data never reached the disk): ours replaces it.
                    tracing::warn!(object = %rel, "object of the wrong size replaced");
                    rustix::fs::unlinkat(&self.dir, rel.as_str(), AtFlags::empty())?;
                    link_fd(tmp.as_fd(), self.dir.as_fd(), &rel)?;
                    linked = Linked::New;
                }
            }
            Err(e) => return Err(e),
        }
        match rustix::fs::linkat(&self.dir, rel.as_str(), parent, name, AtFlags::empty()) {
            Ok(()) => Ok(linked),
            Err(Errno::MLINK) => {
                link_fd(tmp.as_fd(), parent, name)?;
                Ok(Linked::Private)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes every object no tree links to; returns how many and their bytes. Only under the
    /// exclusive GC lock: an unpack in progress has objects not yet linked.
    pub fn collect(&self) -> io::Result<(u64, u64)> {
        let mut removed = (0, 0);
        self.walk(|fan, name, st| {
            if st.st_nlink == 1 {
                rustix::fs::unlinkat(fan, name, AtFlags::empty())?;
                removed.0 += 1;
                removed.1 += u64::try_from(st.st_size).unwrap_or(0);
            }
            Ok(())
        })?;
        Ok(removed)
    }

    pub fn usage(&self) -> io::Result<ObjectUsage> {
        let mut u = ObjectUsage::default();
        self.walk(|_, _, st| {
            u.objects += 1;
            u.bytes += u64::try_from(st.st_size).unwrap_or(0);
            if st.st_nlink == 1 {
                u.unreferenced += 1;
            }
            Ok(())
        })?;
        Ok(u)
    }

    fn walk(
        &self,
        mut f: impl FnMut(BorrowedFd<'_>, &OsStr, &rustix::fs::Stat) -> io::Result<()>,
    ) -> io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        for i in 0..=255u8 {
            let fan = rustix::fs::openat(
                &self.dir,
                format!("{i:02x}"),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            for ent in rustix::fs::Dir::read_from(&fan)? {
                let ent = ent?;
                let name = OsStr::from_bytes(ent.file_name().to_bytes());
                if name == "." || name == ".." {
                    continue;
                }
                let st = match rustix::fs::statat(&fan, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => st,
                    Err(Errno::NOENT) => continue,
                    Err(e) => return Err(e.into()),
                };
                f(fan.as_fd(), name, &st)?;
            }
        }
        Ok(())
    }
}

/// Gives the open file `fd` the name `name` in `dir` (`linkat` with `AT_EMPTY_PATH`, which
/// needs `CAP_DAC_READ_SEARCH`; without it, through its `/proc/self/fd` link).
fn link_fd(
    fd: BorrowedFd<'_>,
    dir: BorrowedFd<'_>,
    name: impl rustix::path::Arg,
) -> Result<(), Errno> {
    let name = name.into_c_str()?;
    match rustix::fs::linkat(fd, "", dir, &*name, AtFlags::EMPTY_PATH) {
        Err(Errno::NOENT | Errno::PERM) => {
            use std::os::fd::AsRawFd;
            let proc = format!("/proc/self/fd/{}", fd.as_raw_fd());
            rustix::fs::linkat(
                rustix::fs::CWD,
                proc.as_str(),
                dir,
                &*name,
                AtFlags::SYMLINK_FOLLOW,
            )
        }
        r => r,
    }
}
