//! The content-addressed blob store, in containerd's model:
//!
//! ```text
//! <root>/blobs/sha256/<hex>   verified content, immutable, named by its own digest
//! <root>/ingest/<name>        writes in progress, private to one ingest each
//! <root>/locks/                one flock file per blob being downloaded (and per snapshot
//!                              being unpacked), so concurrent pulls do each once
//! ```
//!
//! The one invariant: **a file under `blobs/` always hashes to its name**. Readers therefore
//! never verify on the hot path; only [`Store::verify_blob`] re-hashes, to detect corruption
//! that happened on disk after the fact (bit rot, a user editing a blob).
//!
//! # Crash safety
//!
//! [`Store::ingest`] goes: create a unique ingest file (`O_EXCL`) → stream, hash, count →
//! verify size and digest → `fsync` the file → rename into `blobs/sha256/<hex>` without
//! replacing → `fsync` `blobs/sha256/`. A crash (or a kill, or power loss) at each step leaves:
//!
//! - before the rename: at most a stray file in `ingest/`, never visible as a blob. Nothing
//!   reads `ingest/`; [`Store::cleanup_ingest`] removes files older than a given age (an age,
//!   so a concurrent live ingest is not pulled from under its writer).
//! - after the rename, before the directory `fsync`: either the old directory state (no blob:
//!   the same as a crash before the rename, plus possibly a stray ingest entry) or the new one.
//!   The blob's *content* was fsynced before the rename, so the name can never point at a file
//!   whose data did not reach the disk (the classic rename-without-fsync zero-length file).
//! - after the directory `fsync`: the blob is durable.
//!
//! Concurrent ingests of the same content each write their own ingest file; the first rename
//! wins and the others see `EEXIST` and drop theirs, since equal digests mean equal content.
//! Deletion is a single `unlink`, so a blob is either fully present or absent.

mod error;
mod ingest;

pub use error::StoreError;

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::digest::{Digest, HashingReader};

/// A content store rooted at one directory. Cheap to clone; holds no open files, so several
/// `Store`s (or processes) may share a root.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    blobs: PathBuf,
    ingest: PathBuf,
}

impl Store {
    /// Creates the directories if missing. Directories are 0700: blobs may be private images,
    /// and layer contents include setuid binaries that should not be reachable by other users.
    pub fn open(root: impl AsRef<Path>) -> Result<Store, StoreError> {
        let root = root.as_ref().to_path_buf();
        let blobs = root.join("blobs").join("sha256");
        let ingest = root.join("ingest");
        for dir in [
            &root,
            &root.join("blobs"),
            &blobs,
            &ingest,
            &root.join("locks"),
        ] {
            create_private_dir(dir).map_err(|source| StoreError::Io {
                path: dir.clone(),
                op: "create directory",
                source,
            })?;
        }
        Ok(Store {
            root,
            blobs,
            ingest,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob lives (or would live). Safe to build from any [`Digest`]: its hex part is
    /// validated, so it cannot climb out of `blobs/`.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.blobs.join(digest.hex())
    }

    pub fn has(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    pub fn open_blob(&self, digest: &Digest) -> Result<File, StoreError> {
        let path = self.path(digest);
        File::open(&path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => StoreError::NotFound {
                digest: digest.clone(),
            },
            _ => StoreError::Io {
                path,
                op: "open",
                source,
            },
        })
    }

    /// Returns whether a blob was removed; deleting an absent blob is not an error, so that
    /// garbage collection can be re-run after a crash.
    pub fn delete(&self, digest: &Digest) -> Result<bool, StoreError> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StoreError::Io {
                path,
                op: "remove",
                source,
            }),
        }
    }

    /// Every blob, sorted. Names that are not digests (which this store never writes) are
    /// skipped with a warning rather than failing the listing.
    pub fn list(&self) -> Result<Vec<Digest>, StoreError> {
        let io_err = |source| StoreError::Io {
            path: self.blobs.clone(),
            op: "list",
            source,
        };
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.blobs).map_err(io_err)? {
            let name = entry.map_err(io_err)?.file_name();
            let name = name.to_string_lossy();
            match Digest::parse(&format!("sha256:{name}")) {
                Ok(d) => out.push(d),
                Err(e) => tracing::warn!("ignoring stray file in {}: {e}", self.blobs.display()),
            }
        }
        out.sort();
        Ok(out)
    }

    /// Re-hashes a blob on disk; see the module documentation for why reads do not.
    pub fn verify_blob(&self, digest: &Digest) -> Result<(), StoreError> {
        let file = self.open_blob(digest)?;
        let mut reader = HashingReader::new(file);
        io::copy(&mut reader, &mut io::sink()).map_err(|source| StoreError::Io {
            path: self.path(digest),
            op: "read",
            source,
        })?;
        let (actual, _) = reader.finish();
        if actual != *digest {
            return Err(StoreError::Corrupt {
                digest: digest.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// Waits for, then holds, the download of `digest` (an exclusive flock on
    /// `locks/blob-<hex>.lock`, released when the file is dropped or the process dies). Concurrent
    /// pulls of one image take turns per blob, and the later ones find it stored: each blob is
    /// downloaded once. Blocking.
    pub fn lock_download(&self, digest: &Digest) -> Result<File, StoreError> {
        let path = self
            .root
            .join("locks")
            .join(format!("blob-{}.lock", digest.hex()));
        let io_err = |op, source| StoreError::Io {
            path: path.clone(),
            op,
            source,
        };
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_err("open", e))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io_err("lock", e.into()))?;
        Ok(file)
    }

    /// Removes the lock files under `locks/` (blob downloads, snapshot unpacks). Only while
    /// nothing can be waiting on one: under the exclusive GC lock, which every pull shares.
    pub fn remove_locks(&self) -> Result<usize, StoreError> {
        let dir = self.root.join("locks");
        let io_err = |source| StoreError::Io {
            path: dir.clone(),
            op: "clean up",
            source,
        };
        let mut removed = 0;
        for entry in fs::read_dir(&dir).map_err(io_err)? {
            if fs::remove_file(entry.map_err(io_err)?.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes ingest files last modified more than `older_than` ago: the leftovers of crashed
    /// ingests. Returns how many were removed.
    pub fn cleanup_ingest(&self, older_than: Duration) -> Result<usize, StoreError> {
        let io_err = |source| StoreError::Io {
            path: self.ingest.clone(),
            op: "clean up",
            source,
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in fs::read_dir(&self.ingest).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let Ok(meta) = entry.metadata() else { continue };
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            if age >= older_than && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Streams `reader` into the store as the blob `digest` of `size` bytes; see the module
    /// documentation for the steps and what a crash leaves. When the blob is already present
    /// the reader is not consumed. Returns the blob's path.
    pub fn ingest(
        &self,
        digest: &Digest,
        size: u64,
        reader: impl Read,
    ) -> Result<PathBuf, StoreError> {
        if self.has(digest) {
            return Ok(self.path(digest));
        }
        ingest::ingest(self, digest, size, reader)
    }

    /// Streams `reader` into the store as a blob named by the digest its content turns out to
    /// have: for blobs arca builds itself (an imported layer, compressed as it is read), whose
    /// digest cannot be known first. Returns the digest and size.
    pub fn write(&self, reader: impl Read) -> Result<(Digest, u64), StoreError> {
        ingest::write(self, reader)
    }

    /// [`ingest`](Self::ingest) with the digest and size taken from an OCI descriptor.
    pub fn ingest_descriptor(
        &self,
        descriptor: &oci_spec::image::Descriptor,
        reader: impl Read,
    ) -> Result<PathBuf, StoreError> {
        let digest = Digest::try_from(descriptor.digest())?;
        self.ingest(&digest, descriptor.size(), reader)
    }
}

pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        r => r,
    }
}
