//! An image's root filesystem from the layers in the [`Store`]: each layer decompressed,
//! hashed (its diff_id, the digest of the uncompressed tar that the image config names) and
//! unpacked in one pass, base layer first, into a directory beside the destination that is
//! renamed into place only once every layer checked out. A layer whose content does not match
//! the config leaves nothing at the destination.
//!
//! The compressed blob was verified when it entered the store; the diff_id check covers the
//! decompressed bytes the unpacker actually saw, which is what the config's signature (through
//! the manifest and config digests) vouches for.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, HashingReader};
use crate::layout::{Image, Layer};
use crate::media;
use crate::store::{Store, StoreError};
use crate::unpack::{self, UnpackError, UnpackOptions, UnpackStats, Whiteouts};

/// Why a root filesystem could not be built. Each names the layer (by digest) it concerns.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    #[error("preparing {}: {source}", path.display())]
    Prepare {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("layer {digest}: {source}")]
    Blob { digest: Digest, source: StoreError },
    #[error("layer {digest}: decompressing: {source}")]
    Decompress {
        digest: Digest,
        source: std::io::Error,
    },
    #[error("layer {digest}: {source}")]
    Unpack { digest: Digest, source: UnpackError },
    #[error(
        "layer {digest}: its uncompressed content is {actual}, the image config says {expected} \
         (the layer does not belong to this image)"
    )]
    DiffId {
        digest: Digest,
        expected: Digest,
        actual: Digest,
    },
    #[error("moving the finished root filesystem to {}: {source}", path.display())]
    Commit {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Unpacks `image`'s layers from `store` into `dest` (which must not exist; its parent must),
/// applying whiteouts. `preserve_owner`: take uids and gids from the layers (root).
pub fn build(
    store: &Store,
    image: &Image,
    dest: &Path,
    preserve_owner: bool,
) -> Result<UnpackStats, RootfsError> {
    let staging = Staging::new(dest)?;
    let opts = layer_options(preserve_owner);
    let mut total = UnpackStats::default();
    for layer in &image.layers {
        let blob = store
            .open_blob(&layer.digest)
            .map_err(|source| RootfsError::Blob {
                digest: layer.digest.clone(),
                source,
            })?;
        let stats = unpack_layer(layer, std::io::BufReader::new(blob), staging.path(), &opts)?;
        total.entries += stats.entries;
        total.bytes += stats.bytes;
    }
    staging.commit()?;
    Ok(total)
}

/// How an image's layers are applied onto one directory.
pub(crate) fn layer_options(preserve_owner: bool) -> UnpackOptions {
    UnpackOptions {
        whiteouts: Whiteouts::Apply,
        preserve_owner,
        objects: None,
        lowers: Vec::new(),
    }
}

/// The directory a root filesystem is built in: beside `dest` (same filesystem, so the commit
/// is one `rename`), named after it and the pid, removed on drop unless committed. Until the
/// rename nothing is at `dest`, so a failed or interrupted build is never mistaken for a
/// finished one.
pub(crate) struct Staging {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Staging {
    /// Refuses an existing `dest`; creates the temporary directory.
    pub(crate) fn new(dest: &Path) -> Result<Staging, RootfsError> {
        if dest.symlink_metadata().is_ok() {
            return Err(RootfsError::Exists(dest.to_owned()));
        }
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
        // Unique per process and per call: two threads may build the same snapshot.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tmp = dest.with_file_name(format!(
            ".{}.unpacking-{}-{}",
            name.unwrap_or_default(),
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let prepare = |source| RootfsError::Prepare {
            path: tmp.clone(),
            source,
        };
        if tmp.symlink_metadata().is_ok() {
            // Left by an earlier attempt of this same pid (recycled): never reused.
            std::fs::remove_dir_all(&tmp).map_err(prepare)?;
        }
        std::fs::create_dir(&tmp).map_err(prepare)?;
        Ok(Staging {
            tmp,
            dest: dest.to_owned(),
            committed: false,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.tmp
    }

    /// Renames the finished tree to `dest` (on failure, drop removes it).
    pub(crate) fn commit(mut self) -> Result<(), RootfsError> {
        std::fs::rename(&self.tmp, &self.dest).map_err(|source| RootfsError::Commit {
            path: self.dest.clone(),
            source,
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Staging {
    /// Renames the finished tree to `dest` unless something is there already (a concurrent
    /// build of the same content won): `false` then, and this tree is removed.
    pub(crate) fn publish(mut self) -> Result<bool, RootfsError> {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        match renameat_with(CWD, &self.tmp, CWD, &self.dest, RenameFlags::NOREPLACE) {
            Ok(()) => {
                self.committed = true;
                Ok(true)
            }
            Err(rustix::io::Errno::EXIST | rustix::io::Errno::NOTEMPTY) => Ok(false),
            Err(e) => Err(RootfsError::Commit {
                path: self.dest.clone(),
                source: e.into(),
            }),
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            if let Err(rm) = std::fs::remove_dir_all(&self.tmp) {
                tracing::warn!(
                    "removing {} after a failed unpack: {rm}",
                    self.tmp.display()
                );
            }
        }
    }
}

/// Decompressed bytes travel from the decompressing thread to the extracting one in chunks of
/// this size, at most [`PIPE_DEPTH`] in flight (2 MiB per layer being unpacked).
const PIPE_CHUNK: usize = 128 * 1024;
const PIPE_DEPTH: usize = 16;

/// One layer's compressed bytes (`blob`, from the store or straight off the network) onto
/// `dir`: decompressed, hashed and unpacked in one pass, then checked against the config's
/// diff_id. On error `dir` holds a partial tree and must be discarded.
///
/// Decompressing (and hashing) runs on a thread of its own, feeding the extraction through a
/// small bounded channel: the two are each about half the work, and overlapping them is what
/// `tar -xzf` gets from its `gzip` child process. A decompression error is reported as such
/// even when the extraction, fed a stream that stopped short, failed first.
pub(crate) fn unpack_layer(
    layer: &Layer,
    blob: impl Read + Send,
    dir: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats, RootfsError> {
    let digest = &layer.digest;
    let decompress = |source| RootfsError::Decompress {
        digest: digest.clone(),
        source,
    };
    let compression = layer.compression;
    let (tx, rx) = std::sync::mpsc::sync_channel(PIPE_DEPTH);
    let (inflated, unpacked) = std::thread::scope(|scope| {
        let inflater = scope.spawn(move || inflate(compression, blob, &tx));
        let mut plain = PipeReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
        };
        let unpacked = unpack::unpack(&mut plain, dir, opts);
        if unpacked.is_ok() {
            // The unpacker drains the tar's padding; anything after it still belongs to the
            // blob and to its diff_id. Reading from the channel cannot fail.
            let _ = std::io::copy(&mut plain, &mut std::io::sink());
        }
        // Stops the decompressing thread if the extraction gave up early.
        drop(plain);
        let inflated = inflater
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the decompressing thread panicked")));
        (inflated, unpacked)
    });
    let inflated = inflated.map_err(decompress)?;
    let stats = unpacked.map_err(|source| RootfsError::Unpack {
        digest: digest.clone(),
        source,
    })?;
    let Some((actual, _)) = inflated else {
        // The extraction drains the channel to its end before it returns `Ok`.
        return Err(decompress(std::io::Error::other(
            "the unpacked stream ended before the decompressed one",
        )));
    };
    if actual != layer.diff_id {
        return Err(RootfsError::DiffId {
            digest: digest.clone(),
            expected: layer.diff_id.clone(),
            actual,
        });
    }
    Ok(stats)
}

/// The decompressing thread: every decompressed byte hashed and sent on. `None`: the
/// extraction stopped reading (its error is the one to report).
fn inflate(
    compression: media::Compression,
    blob: impl Read,
    tx: &std::sync::mpsc::SyncSender<Vec<u8>>,
) -> std::io::Result<Option<(Digest, u64)>> {
    let mut plain = HashingReader::new(media::decompress(compression, blob)?);
    loop {
        let mut chunk = vec![0u8; PIPE_CHUNK];
        let mut len = 0;
        // Full chunks where the decompressor allows: fewer hand-offs between the threads.
        while len < PIPE_CHUNK {
            match plain.read(&mut chunk[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if len == 0 {
            return Ok(Some(plain.finish()));
        }
        chunk.truncate(len);
        if tx.send(chunk).is_err() {
            return Ok(None);
        }
    }
}

/// The extracting side of the channel. Its end (the sender dropped) reads as end of stream;
/// whether that end was the real one is the decompressing thread's result to say.
struct PipeReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
