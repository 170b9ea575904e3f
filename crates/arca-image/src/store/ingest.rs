//! One ingest, step by step (the crash-safety argument is in the parent module).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{renameat_with, RenameFlags, CWD};
use rustix::io::Errno;

use super::{Store, StoreError};
use crate::digest::{verify, Digest, DigestError, HashingWriter};

/// Removes the ingest file unless the blob was published: every early return (a read error, a
/// digest mismatch, a panic in the reader) leaves nothing behind.
struct IngestFile {
    path: PathBuf,
    published: bool,
}

impl Drop for IngestFile {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Unique per process, thread-safe call and time, so two ingests of the same digest never
/// share a file; the digest prefix only helps a human reading `ingest/`.
fn ingest_name(digest: &Digest) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}.{}.{nanos}.{n}", &digest.hex()[..16], std::process::id())
}

pub(super) fn ingest(
    store: &Store,
    digest: &Digest,
    size: u64,
    reader: impl Read,
) -> Result<PathBuf, StoreError> {
    // Reading one byte past the declared size is enough to refuse an over-long source; the
    // rest of it is never pulled.
    let (file, guard, actual, count) = stream(store, digest, reader, Some(size))?;
    verify(digest, Some(size), (actual, count)).map_err(|source| StoreError::Verify {
        digest: digest.clone(),
        source,
    })?;
    commit(store, digest, file, guard)
}

/// Content whose digest is not known before it is read (a blob arca builds itself, such as
/// an imported layer compressed on the fly): hashed while written, published under the digest
/// it turned out to have. Nothing is trusted, since the name *is* the hash.
pub(super) fn write(store: &Store, reader: impl Read) -> Result<(Digest, u64), StoreError> {
    // The ingest file is named for humans only; a placeholder prefix serves as well.
    let placeholder = Digest::sha256_of(b"");
    let (file, guard, actual, count) =
        stream(store, &placeholder, reader, None).map_err(|e| match e {
            StoreError::Source { source, .. } => StoreError::Content { source },
            e => e,
        })?;
    if store.has(&actual) {
        // Guard drops the ingest file: the store already holds these exact bytes.
        return Ok((actual, count));
    }
    commit(store, &actual, file, guard)?;
    Ok((actual, count))
}

/// Creates a private ingest file and streams `reader` into it, hashing and counting; with a
/// `limit`, stops with an error at the first byte beyond it.
fn stream(
    store: &Store,
    digest: &Digest,
    reader: impl Read,
    limit: Option<u64>,
) -> Result<(File, IngestFile, Digest, u64), StoreError> {
    let io_err = |path: &Path, op| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, op, source }
    };

    let (file, guard) = loop {
        let path = store.ingest.join(ingest_name(digest));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => {
                break (
                    f,
                    IngestFile {
                        path,
                        published: false,
                    },
                )
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(&path, "create")(e)),
        }
    };

    let mut limited = reader.take(limit.map_or(u64::MAX, |l| l.saturating_add(1)));
    let mut writer = HashingWriter::new(file);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match limited.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(StoreError::Source {
                    digest: digest.clone(),
                    source,
                })
            }
        };
        if let Some(size) = limit.filter(|&l| writer.count() + n as u64 > l) {
            return Err(StoreError::Verify {
                digest: digest.clone(),
                source: DigestError::TooLong {
                    digest: digest.clone(),
                    expected: size,
                },
            });
        }
        writer
            .write_all(&buf[..n])
            .map_err(io_err(&guard.path, "write"))?;
    }
    let (file, actual, count) = writer.into_parts();
    Ok((file, guard, actual, count))
}

/// fsync, publish without replacing, fsync the directory (the steps of the module docs).
fn commit(
    store: &Store,
    digest: &Digest,
    file: File,
    mut guard: IngestFile,
) -> Result<PathBuf, StoreError> {
    let io_err = |path: &Path, op| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, op, source }
    };
    file.sync_all().map_err(io_err(&guard.path, "fsync"))?;
    drop(file);

    let blob = store.path(digest);
    match publish(&guard.path, &blob) {
        Ok(()) => guard.published = true,
        // Same digest, same content: the blob someone else published is as good as ours,
        // which the guard now removes.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            tracing::debug!("{digest}: already published by a concurrent ingest");
            return Ok(blob);
        }
        Err(e) => return Err(io_err(&blob, "publish")(e)),
    }
    File::open(&store.blobs)
        .and_then(|d| d.sync_all())
        .map_err(io_err(&store.blobs, "fsync"))?;
    Ok(blob)
}

/// Moves `from` to `to` without ever replacing `to`. `RENAME_NOREPLACE` first; filesystems
/// without it (EINVAL) get `link` + `unlink`, which is just as exclusive.
fn publish(from: &Path, to: &Path) -> io::Result<()> {
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(Errno::INVAL | Errno::NOSYS) => {
            fs::hard_link(from, to)?;
            let _ = fs::remove_file(from);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
