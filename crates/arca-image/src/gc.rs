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
    let mut freed = 0;
    for blob in store.list()? {
        if !roots.contains(&blob) {
            freed += std::fs::metadata(store.path(&blob)).map_or(0, |m| m.len());
            store.delete(&blob)?;
        }
    }
    Ok(freed)
}
