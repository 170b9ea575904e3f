//! Snapshots, in containerd's model: each layer of an image unpacked once into a committed,
//! read-only tree keyed by its chain ID (so images sharing a base share its trees), and a
//! writable snapshot per container on top.
//!
//! ```text
//! <images>/snapshots/driver                 "overlay" or "copy", fixed when the store is made
//! <images>/snapshots/<driver>/<chain hex>/  a committed layer:
//!     fs/                                     its tree
//!     parent                                  the chain ID below it (none for a base layer)
//! <images>/snapshots/active/<key>/          a container's writable snapshot
//!     lowers                                  the chain IDs below it, top first
//!     upper/ work/                            overlay: the container's changes
//!     fs/                                     copy: a full writable tree
//! ```
//!
//! Two drivers, one interface, one test suite (`tests/snapshots.rs`):
//! - **overlay** (default): a committed tree is the layer's own diff with overlayfs whiteouts,
//!   a container's root is an overlay of the chain. Preparing one costs a few directories.
//! - **copy** (filesystems without overlayfs, as containerd's "native"): a committed tree is
//!   the whole filesystem at that layer, built by hardlinking the parent tree's files and
//!   applying the layer; a container's root is a full copy (reflinked where possible).
//!
//! Every regular file goes through the object store ([`crate::objects`]), so equal files are
//! stored once across all layers and images, and a copy-driver tree costs directory entries.
//!
//! Crash safety: a tree is built in a staging directory, `syncfs`ed, and renamed into place
//! without replacing. Unpacks of one chain take turns on a lock file (`<images>/locks/`), so concurrent pulls of
//! one image unpack each layer once. A crash leaves at most a staging directory (removed by
//! the next collection).

mod overlay;
mod tree;

pub use overlay::{unmount, OverlayMount};

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::io::Errno;

use crate::digest::Digest;
use crate::layout::{Image, Layer};
use crate::objects::Objects;
use crate::rootfs::{self, RootfsError, Staging};
use crate::store::Store;
use crate::unpack::{UnpackOptions, UnpackStats, Whiteouts};

/// The two ways layers are stacked (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Overlay,
    Copy,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::Overlay => "overlay",
            Driver::Copy => "copy",
        }
    }

    /// Podman's and Docker's names too (`overlay2`, `vfs`).
    pub fn parse(s: &str) -> Option<Driver> {
        match s {
            "overlay" | "overlay2" | "overlayfs" => Some(Driver::Overlay),
            "copy" | "vfs" | "native" => Some(Driver::Copy),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshots: {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the image store at {} uses the {store} snapshot driver, not {asked} (use another --root)",
        path.display()
    )]
    DriverMismatch {
        path: PathBuf,
        store: &'static str,
        asked: &'static str,
    },
    #[error("snapshots: {} names an unknown driver {found:?}", path.display())]
    UnknownDriver { path: PathBuf, found: String },
    #[error(transparent)]
    Layer(#[from] RootfsError),
    #[error("snapshot {0:?}: a key is letters, digits, '.', '_' and '-' (at most 128)")]
    BadKey(String),
    #[error("snapshot {0:?} already exists")]
    KeyExists(String),
    #[error("snapshot {0:?} does not exist")]
    NoSuchKey(String),
    #[error("layer {0} is not unpacked")]
    MissingLayer(Digest),
}

fn io_err<'p>(
    what: &'static str,
    path: &'p Path,
) -> impl FnOnce(std::io::Error) -> SnapshotError + 'p {
    move |source| SnapshotError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// The chain IDs of layers with these diff_ids (OCI image spec): the first is its diff_id,
/// each next one `sha256(<previous chain ID> + " " + <diff_id>)`. A chain ID names a layer
/// together with everything beneath it, which is what a stacked tree depends on.
pub fn chain_ids<'a>(diff_ids: impl IntoIterator<Item = &'a Digest>) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::new();
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => Digest::sha256_of(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// The snapshots of one image store.
#[derive(Debug, Clone)]
pub struct Snapshots {
    driver: Driver,
    committed: PathBuf,
    active: PathBuf,
    locks: PathBuf,
    objects: Arc<Objects>,
    preserve_owner: bool,
}

/// What [`Snapshots::unpack_layer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpacked {
    /// The layer was unpacked now.
    Now(UnpackStats),
    /// Its tree was there already (another image, or a concurrent pull).
    Present,
}

impl Snapshots {
    /// Opens the snapshots of the store in `images`, with the driver the store was made with.
    /// A new store takes `wanted`, or overlay where overlayfs works on its filesystem and copy
    /// elsewhere; a store made with another driver than `wanted` is refused.
    pub fn open(images: &Path, wanted: Option<Driver>) -> Result<Snapshots, SnapshotError> {
        let base = images.join("snapshots");
        for dir in [images, &base] {
            crate::store::create_private_dir(dir).map_err(io_err("create", dir))?;
        }
        let marker = base.join("driver");
        let driver = match std::fs::read_to_string(&marker) {
            Ok(s) => {
                let d = Driver::parse(s.trim()).ok_or_else(|| SnapshotError::UnknownDriver {
                    path: marker.clone(),
                    found: s.trim().to_owned(),
                })?;
                if let Some(w) = wanted.filter(|w| *w != d) {
                    return Err(SnapshotError::DriverMismatch {
                        path: images.to_owned(),
                        store: d.name(),
                        asked: w.name(),
                    });
                }
                d
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let d = wanted.unwrap_or_else(|| {
                    if overlay::supported(&base) {
                        Driver::Overlay
                    } else {
                        Driver::Copy
                    }
                });
                write_marker(&marker, d)?
            }
            Err(e) => return Err(io_err("read", &marker)(e)),
        };
        let committed = base.join(driver.name());
        let active = base.join("active");
        for dir in [&committed, &active] {
            crate::store::create_private_dir(dir).map_err(io_err("create", dir))?;
        }
        let objects = Objects::open(images).map_err(io_err("open objects in", images))?;
        Ok(Snapshots {
            driver,
            committed,
            active,
            locks: images.join("locks"),
            objects: Arc::new(objects),
            preserve_owner: rustix::process::geteuid().is_root(),
        })
    }

    pub fn driver(&self) -> Driver {
        self.driver
    }

    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    fn dir(&self, chain: &Digest) -> PathBuf {
        self.committed.join(chain.hex())
    }

    /// The committed tree of `chain` (which may not exist).
    pub fn path(&self, chain: &Digest) -> PathBuf {
        self.dir(chain).join("fs")
    }

    pub fn has(&self, chain: &Digest) -> bool {
        self.dir(chain).is_dir()
    }

    /// An exclusive flock on the store's `locks/chain-<hex>.lock` (released when dropped, or
    /// when the process dies; the files are removed by collection).
    fn lock(&self, chain: &Digest) -> Result<std::fs::File, SnapshotError> {
        let dir = self.locks.clone();
        crate::store::create_private_dir(&dir).map_err(io_err("create", &dir))?;
        let path = dir.join(format!("chain-{}.lock", chain.hex()));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io_err("lock", &path)(e.into()))?;
        Ok(file)
    }

    /// The chain ID below `chain`, as recorded when it was committed.
    fn parent_of(&self, chain: &Digest) -> Result<Option<Digest>, SnapshotError> {
        let file = self.dir(chain).join("parent");
        match std::fs::read_to_string(&file) {
            Ok(s) => Digest::parse(s.trim()).map(Some).map_err(|e| {
                io_err("parse", &file)(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &file)(e)),
        }
    }

    /// Unpacks `layer` (its compressed bytes in `blob`) as the committed tree `chain`, on top
    /// of `parent` (the chain ID below it, whose tree must exist). The diff_id is checked;
    /// nothing is committed unless it matches.
    pub fn unpack_layer(
        &self,
        parent: Option<&Digest>,
        chain: &Digest,
        layer: &Layer,
        blob: impl Read + Send,
    ) -> Result<Unpacked, SnapshotError> {
        if self.has(chain) {
            return Ok(Unpacked::Present);
        }
        // One unpack per chain at a time, across processes: a concurrent pull of the same
        // image waits here and then finds the layer committed, so the work is done once.
        let _lock = self.lock(chain)?;
        if self.has(chain) {
            return Ok(Unpacked::Present);
        }
        let staging = Staging::new(&self.dir(chain))?;
        let fs = staging.path().join("fs");
        std::fs::create_dir(&fs).map_err(io_err("create", &fs))?;
        if let Some(parent) = parent {
            let file = staging.path().join("parent");
            std::fs::write(&file, parent.to_string()).map_err(io_err("write", &file))?;
        }
        let mut lowers = Vec::new();
        let whiteouts = match self.driver {
            Driver::Overlay => {
                if let Some(parent) = parent {
                    lowers = self.chain_below(parent)?;
                }
                Whiteouts::Overlay
            }
            Driver::Copy => {
                if let Some(parent) = parent {
                    let from = self.path(parent);
                    if !from.is_dir() {
                        return Err(SnapshotError::MissingLayer(parent.clone()));
                    }
                    let src = tree::open(&from).map_err(io_err("open", &from))?;
                    let dst = tree::open(&fs).map_err(io_err("open", &fs))?;
                    tree::copy_tree(
                        std::os::fd::AsFd::as_fd(&src),
                        std::os::fd::AsFd::as_fd(&dst),
                        tree::Copy::Link,
                    )
                    .map_err(io_err("link the parent layer into", &fs))?;
                }
                Whiteouts::Apply
            }
        };
        let opts = UnpackOptions {
            whiteouts,
            preserve_owner: self.preserve_owner,
            objects: Some(self.objects.clone()),
            lowers,
        };
        let stats = rootfs::unpack_layer(layer, blob, &fs, &opts)?;
        sync(&fs)?;
        Ok(if staging.publish()? {
            Unpacked::Now(stats)
        } else {
            Unpacked::Present
        })
    }

    /// The committed trees of `top` and the layers beneath it, top first. A tree records its
    /// parent (`parent` file) so the chain can be walked without the image.
    fn chain_below(&self, top: &Digest) -> Result<Vec<PathBuf>, SnapshotError> {
        let mut out = Vec::new();
        let mut at = Some(top.clone());
        while let Some(c) = at {
            if !self.has(&c) {
                return Err(SnapshotError::MissingLayer(c));
            }
            at = self.parent_of(&c)?;
            out.push(self.path(&c));
        }
        Ok(out)
    }

    /// Unpacks every layer of `image` not yet unpacked, from `store` (where its blobs must
    /// be), base first; `progress` sees each layer's compressed bytes as they are read.
    /// Returns the image's chain IDs and what each layer unpacked (`None`: it was there).
    pub fn unpack_image(
        &self,
        store: &Store,
        image: &Image,
        progress: Option<&crate::registry::Progress>,
    ) -> Result<(Vec<Digest>, Vec<Option<UnpackStats>>), SnapshotError> {
        let chain = chain_ids(image.layers.iter().map(|l| &l.diff_id));
        let mut stats = Vec::with_capacity(chain.len());
        for (i, layer) in image.layers.iter().enumerate() {
            if self.has(&chain[i]) {
                stats.push(None);
                continue;
            }
            let blob = store.open_blob(&layer.digest).map_err(|source| {
                SnapshotError::Layer(RootfsError::Blob {
                    digest: layer.digest.clone(),
                    source,
                })
            })?;
            let reader = Counting {
                inner: std::io::BufReader::with_capacity(256 * 1024, blob),
                done: 0,
                total: layer.size,
                digest: &layer.digest,
                progress,
            };
            let parent = i.checked_sub(1).map(|p| &chain[p]);
            stats.push(match self.unpack_layer(parent, &chain[i], layer, reader)? {
                Unpacked::Now(s) => Some(s),
                Unpacked::Present => None,
            });
        }
        Ok((chain, stats))
    }

    /// Every committed tree, by chain ID.
    pub fn list(&self) -> Result<Vec<Digest>, SnapshotError> {
        let mut out = Vec::new();
        let rd = std::fs::read_dir(&self.committed).map_err(io_err("list", &self.committed))?;
        for ent in rd {
            let ent = ent.map_err(io_err("list", &self.committed))?;
            if let Some(d) = ent
                .file_name()
                .to_str()
                .and_then(|h| Digest::parse(&format!("sha256:{h}")).ok())
            {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Makes the writable snapshot `key` on top of the image whose chain IDs are `chain`
    /// (base first, as [`chain_ids`] gives them). Its root is then [`Self::mount`]ed.
    pub fn prepare(&self, key: &str, chain: &[Digest]) -> Result<(), SnapshotError> {
        check_key(key)?;
        for c in chain {
            if !self.has(c) {
                return Err(SnapshotError::MissingLayer(c.clone()));
            }
        }
        let dir = self.active.join(key);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(SnapshotError::KeyExists(key.to_owned()))
            }
            Err(e) => return Err(io_err("create", &dir)(e)),
        }
        let made = (|| {
            let lowers: Vec<String> = chain.iter().rev().map(|c| c.to_string()).collect();
            let lowers_file = dir.join("lowers");
            std::fs::write(&lowers_file, lowers.join("\n"))
                .map_err(io_err("write", &lowers_file))?;
            match self.driver {
                Driver::Overlay => {
                    for d in ["upper", "work"] {
                        let p = dir.join(d);
                        std::fs::create_dir(&p).map_err(io_err("create", &p))?;
                    }
                    // The upper's root is the container's `/`: its attributes show through.
                    if let Some(top) = chain.last() {
                        copy_root_attrs(&self.path(top), &dir.join("upper"))?;
                    }
                }
                Driver::Copy => {
                    let fs = dir.join("fs");
                    std::fs::create_dir(&fs).map_err(io_err("create", &fs))?;
                    if let Some(top) = chain.last() {
                        let from = self.path(top);
                        let src = tree::open(&from).map_err(io_err("open", &from))?;
                        let dst = tree::open(&fs).map_err(io_err("open", &fs))?;
                        tree::copy_tree(
                            std::os::fd::AsFd::as_fd(&src),
                            std::os::fd::AsFd::as_fd(&dst),
                            tree::Copy::Data,
                        )
                        .map_err(io_err("copy the image into", &fs))?;
                    }
                }
            }
            Ok(())
        })();
        if made.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        made
    }

    /// The chain IDs under the writable snapshot `key`, top first.
    pub fn lowers(&self, key: &str) -> Result<Vec<Digest>, SnapshotError> {
        check_key(key)?;
        let file = self.active.join(key).join("lowers");
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SnapshotError::NoSuchKey(key.to_owned()))
            }
            Err(e) => return Err(io_err("read", &file)(e)),
        };
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                Digest::parse(l).map_err(|e| {
                    io_err("parse", &file)(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
                })
            })
            .collect()
    }

    /// Mounts the writable snapshot `key` at `target` (an existing directory).
    pub fn mount(&self, key: &str, target: &Path) -> Result<(), SnapshotError> {
        self.mount_with(key, target, false)
    }

    /// [`Self::mount`]; `volatile`: the container's writes are never synced (see
    /// [`OverlayMount::volatile`]), for a container removed when it exits.
    pub fn mount_with(
        &self,
        key: &str,
        target: &Path,
        volatile: bool,
    ) -> Result<(), SnapshotError> {
        let lowers = self.lowers(key)?;
        let dir = self.active.join(key);
        let mounted = match self.driver {
            Driver::Overlay => {
                let mut lower_dirs: Vec<PathBuf> = lowers.iter().map(|c| self.path(c)).collect();
                if lower_dirs.is_empty() {
                    // An image without layers: overlayfs needs a lower; an empty one will do.
                    let empty = dir.join("empty");
                    let _ = std::fs::create_dir(&empty);
                    lower_dirs.push(empty);
                }
                OverlayMount {
                    lowers: lower_dirs,
                    upper: Some((dir.join("upper"), dir.join("work"))),
                    volatile,
                }
                .mount(target)
            }
            Driver::Copy => bind(&dir.join("fs"), target),
        };
        mounted.map_err(|e| io_err("mount at", target)(e.into()))
    }

    /// Removes the writable snapshot `key` (which must not be mounted). Missing is not an
    /// error, so a cleanup can be repeated.
    pub fn remove(&self, key: &str) -> Result<(), SnapshotError> {
        check_key(key)?;
        let dir = self.active.join(key);
        remove_tree(&dir)
    }

    /// Where the writable snapshot `key` lives (to measure what removing it frees).
    pub fn active_path(&self, key: &str) -> Result<PathBuf, SnapshotError> {
        check_key(key)?;
        Ok(self.active.join(key))
    }

    /// The writable snapshots' keys.
    pub fn list_active(&self) -> Result<Vec<String>, SnapshotError> {
        let mut out = Vec::new();
        let rd = std::fs::read_dir(&self.active).map_err(io_err("list", &self.active))?;
        for ent in rd {
            let ent = ent.map_err(io_err("list", &self.active))?;
            if let Some(k) = ent.file_name().to_str().filter(|k| check_key(k).is_ok()) {
                out.push(k.to_owned());
            }
        }
        Ok(out)
    }

    /// Removes committed trees that neither `keep` nor a writable snapshot needs, leftovers of
    /// interrupted unpacks, then objects no tree links. Returns the trees removed. Only under
    /// the exclusive GC lock.
    pub fn collect(&self, keep: &HashSet<Digest>) -> Result<Vec<Digest>, SnapshotError> {
        let mut needed = keep.clone();
        for key in self.list_active()? {
            needed.extend(self.lowers(&key).unwrap_or_default());
        }
        let mut removed = Vec::new();
        let rd = std::fs::read_dir(&self.committed).map_err(io_err("list", &self.committed))?;
        for ent in rd {
            let ent = ent.map_err(io_err("list", &self.committed))?;
            let name = ent.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                // A staging directory of an unpack that died (the GC lock says none runs).
                remove_tree(&ent.path())?;
                continue;
            }
            let Ok(chain) = Digest::parse(&format!("sha256:{name}")) else {
                continue;
            };
            if !needed.contains(&chain) {
                remove_tree(&ent.path())?;
                removed.push(chain);
            }
        }
        self.objects
            .collect()
            .map_err(io_err("collect objects in", self.objects.path()))?;
        Ok(removed)
    }
}

/// A compressed layer read for unpacking, counted for the progress display.
pub(crate) struct Counting<'a, R> {
    pub(crate) inner: R,
    pub(crate) done: u64,
    pub(crate) total: u64,
    pub(crate) digest: &'a Digest,
    pub(crate) progress: Option<&'a crate::registry::Progress>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if let Some(p) = self.progress {
            p(self.digest, self.done.min(self.total), self.total);
        }
        Ok(n)
    }
}

fn check_key(key: &str) -> Result<(), SnapshotError> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && !key.starts_with('.')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(SnapshotError::BadKey(key.to_owned()))
    }
}

fn write_marker(marker: &Path, d: Driver) -> Result<Driver, SnapshotError> {
    let tmp = marker.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, d.name()).map_err(io_err("write", &tmp))?;
    // Two processes making a store at once: the first marker stays, and both use it.
    match rustix::fs::renameat_with(
        rustix::fs::CWD,
        &tmp,
        rustix::fs::CWD,
        marker,
        rustix::fs::RenameFlags::NOREPLACE,
    ) {
        Ok(()) => Ok(d),
        Err(Errno::EXIST) => {
            let _ = std::fs::remove_file(&tmp);
            let s = std::fs::read_to_string(marker).map_err(io_err("read", marker))?;
            Driver::parse(s.trim()).ok_or_else(|| SnapshotError::UnknownDriver {
                path: marker.to_owned(),
                found: s.trim().to_owned(),
            })
        }
        Err(e) => Err(io_err("create", marker)(e.into())),
    }
}

fn sync(dir: &Path) -> Result<(), SnapshotError> {
    let f = tree::open(dir).map_err(io_err("open", dir))?;
    rustix::fs::syncfs(&f).map_err(|e| io_err("sync", dir)(e.into()))
}

/// Owner, mode and times of `from` onto the directory `to`.
fn copy_root_attrs(from: &Path, to: &Path) -> Result<(), SnapshotError> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(from).map_err(io_err("stat", from))?;
    std::os::unix::fs::chown(to, Some(m.uid()), Some(m.gid())).map_err(io_err("chown", to))?;
    std::fs::set_permissions(
        to,
        std::os::unix::fs::PermissionsExt::from_mode(m.mode() & 0o7777),
    )
    .map_err(io_err("chmod", to))
}

fn bind(from: &Path, to: &Path) -> Result<(), Errno> {
    rustix::mount::mount_bind_recursive(from, to)
}

/// Renames `dir` aside (so it vanishes at once, never half-removed under its name), then
/// removes it without following symlinks.
fn remove_tree(dir: &Path) -> Result<(), SnapshotError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let aside = dir.with_file_name(if name.starts_with('.') {
        name
    } else {
        format!(".removing-{name}-{}", std::process::id())
    });
    if aside != dir {
        match std::fs::rename(dir, &aside) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("move aside", dir)(e)),
        }
    }
    std::fs::remove_dir_all(&aside).map_err(io_err("remove", &aside))
}
