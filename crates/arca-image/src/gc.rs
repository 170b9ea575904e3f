//! Garbage collection of the blob store from the catalog's roots, and the lock that makes it
//! safe against a concurrent pull: a pull holds the lock shared from its first ingest until its
//! image is recorded (its blobs are not roots yet), a collection holds it exclusively. A pull
//! killed half-way leaves blobs no image names; the next collection removes them, or the next
//! pull of the same image reuses them.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::path::Path;

use rustix::fs::{flock, FlockOperation};

use crate::catalog::{Catalog, CatalogError};
use crate::snapshot::{SnapshotError, Snapshots};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("locking {path}: {source}")]
    Lock {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// Held while it lives (flock on `<root>/gc.lock`; released when the process dies).
#[derive(Debug)]
pub struct GcLock {
    _file: File,
}

impl GcLock {
    /// For pulls and imports: many at once.
    pub fn shared(root: &Path) -> Result<GcLock, GcError> {
        GcLock::take(root, FlockOperation::LockShared)
    }

    /// For collection: alone.
    pub fn exclusive(root: &Path) -> Result<GcLock, GcError> {
        GcLock::take(root, FlockOperation::LockExclusive)
    }

    fn take(root: &Path, op: FlockOperation) -> Result<GcLock, GcError> {
        let path = root.join("gc.lock");
        let err = |source| GcError::Lock {
            path: path.display().to_string(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(err)?;
        flock(&file, op).map_err(|e| err(e.into()))?;
        Ok(GcLock { _file: file })
    }
}

/// Deletes every blob no recorded image refers to; returns the bytes freed. Takes the lock
/// exclusively for its duration.
pub fn collect(store: &Store, catalog: &Catalog) -> Result<u64, GcError> {
    let _lock = GcLock::exclusive(store.root())?;
    let roots: HashSet<_> = catalog.list()?.into_iter().flat_map(|r| r.blobs).collect();
    collect_blobs(store, &roots)
}

/// Deletes the blobs not in `roots`; the caller holds the exclusive lock.
fn collect_blobs(store: &Store, roots: &HashSet<crate::digest::Digest>) -> Result<u64, GcError> {
    let mut freed = 0;
    for blob in store.list()? {
        if !roots.contains(&blob) {
            freed += std::fs::metadata(store.path(&blob)).map_or(0, |m| m.len());
            store.delete(&blob)?;
        }
    }
    Ok(freed)
}

/// What [`collect_all`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Collected {
    pub blob_bytes: u64,
    pub snapshots: usize,
    pub objects: u64,
    pub object_bytes: u64,
}

/// [`collect`], then the committed snapshots no image or container needs, then the file
/// objects no snapshot links, all under one exclusive lock.
pub fn collect_all(
    store: &Store,
    catalog: &mut Catalog,
    snapshots: &Snapshots,
) -> Result<Collected, GcError> {
    let _lock = GcLock::exclusive(store.root())?;
    let images = catalog.list()?;
    let roots: HashSet<_> = images
        .iter()
        .flat_map(|r| r.blobs.iter().cloned())
        .collect();
    let mut out = Collected {
        blob_bytes: collect_blobs(store, &roots)?,
        ..Collected::default()
    };
    let keep: HashSet<_> = images.into_iter().flat_map(|r| r.chain).collect();
    let before = snapshots.objects().usage().unwrap_or_default();
    let removed = snapshots.collect(&keep)?;
    catalog.forget_layers(&removed)?;
    let after = snapshots.objects().usage().unwrap_or_default();
    out.snapshots = removed.len();
    // Nothing waits on a download or unpack lock while this one is held exclusively.
    store.remove_locks()?;
    out.objects = before.objects.saturating_sub(after.objects);
    out.object_bytes = before.bytes.saturating_sub(after.bytes);
    Ok(out)
}
