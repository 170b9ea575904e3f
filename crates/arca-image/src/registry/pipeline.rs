//! Pull and unpack in one pass: each layer's body is read off the network once and teed to the
//! store's ingest (which verifies size and digest, as for [`pull`](super::pull)) and to a
//! blocking thread that decompresses, hashes the diff_id and unpacks it into a directory
//! beside the destination ([`rootfs::Staging`]), so downloading, verifying, decompressing and
//! extracting overlap instead of running one after the other.
//!
//! Order. Layers must be applied base first, so one thread unpacks them one after the other;
//! downloads run ahead (up to [`PullOptions::parallel`]) into the store only. A download is
//! streamed to the unpacker when, as it starts, the unpacker has finished every earlier layer
//! (it is waiting for this one: always the case for the first layer to download, the big one
//! in most images). Any other layer is unpacked from its store file once its turn comes and
//! its download has finished, as is a layer the store already held (never downloaded).
//!
//! Trust. The unpacker reads a streamed layer before the ingest has checked its digest; that
//! is safe because the unpacker treats every layer as hostile anyway (path-safe, see
//! [`unpack`](crate::unpack)) and writes only into the private temporary directory. Nothing
//! is committed until everything checked out: every layer's compressed size and digest (its
//! ingest published it) and its diff_id (the unpacker hashed what it unpacked). Only then does
//! the manifest enter the store and the directory get renamed to the destination. On any
//! failure the directory is removed, and the store holds only blobs that verified (a refused
//! ingest removes its own partial file).
//!
//! Back-pressure. The tee's channel is bounded: a streamed layer downloads no faster than it
//! unpacks (the other downloads are not held up), so memory stays at a few chunks per layer.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};

use super::blobs::{self, ChannelReader, Hooks, Tee};
use super::{fetch_image, remote, runtime, store_manifest, Progress, PullError, PullOptions};
use crate::digest::Digest;
use crate::layout::{Image, Layer};
use crate::reference::Reference;
use crate::rootfs::{self, RootfsError, Staging};
use crate::snapshot::{self, SnapshotError, Snapshots, Unpacked};
use crate::store::Store;
use crate::unpack::UnpackStats;

/// Chunks (as the HTTP client yields them, typically 8–16 KiB) between the network and the
/// unpacker: enough to ride out a slow moment on either side.
const TEE_DEPTH: usize = 64;

/// The unpacker reads store files in large blocks: fewer syscalls for the decompressor.
const STORE_READ_BUFFER: usize = 256 * 1024;

/// Why [`pull_unpack`] failed: the pull (registry, verification, store) or the root filesystem
/// (unpack, diff_id, commit). A pull error comes first when both happened, since the wrong
/// bytes it reports explain the failed unpack.
#[derive(Debug, thiserror::Error)]
pub enum PullUnpackError {
    #[error(transparent)]
    Pull(#[from] PullError),
    #[error("pulling {reference}: {source}")]
    Rootfs {
        reference: Box<Reference>,
        source: RootfsError,
    },
    #[error("pulling {reference}: {source}")]
    Snapshot {
        reference: Box<Reference>,
        source: SnapshotError,
    },
    /// The unpack thread panicked or stopped without a verdict (a bug, not the image's fault).
    #[error("pulling {reference}: the unpack thread failed: {detail}")]
    Unpacker {
        reference: Box<Reference>,
        detail: String,
    },
}

/// Pulls `reference` into `store` and builds its root filesystem at `dest` (which must not
/// exist; its parent must), as [`pull`](super::pull) then [`rootfs::build`] would, with the
/// two overlapped (see the module documentation). `preserve_owner`: take uids and gids from
/// the layers (root). As around [`pull`](super::pull), the caller holds
/// [`GcLock::shared`](crate::gc::GcLock::shared) until the image is recorded, so a collection
/// cannot remove a blob this reads from the store. Blocking: runs its own runtime, so it must
/// not be called from inside an async runtime.
pub fn pull_unpack(
    reference: &Reference,
    store: &Store,
    dest: &Path,
    opts: &PullOptions,
    preserve_owner: bool,
) -> Result<(Image, UnpackStats), PullUnpackError> {
    let rootfs_err = |source| PullUnpackError::Rootfs {
        reference: Box::new(reference.clone()),
        source,
    };
    // Before any download: an existing destination is refused at once.
    let staging = Staging::new(dest).map_err(rootfs_err)?;
    let runtime = runtime(reference)?;
    let target = Target::Rootfs {
        dir: staging.path().to_owned(),
        preserve_owner,
    };
    let result = runtime.block_on(run(reference, store, target, opts));
    let result = result.map(|(image, layers)| (image, total(&layers)));
    // Waits for the blocking threads (ingests, the unpacker), so nothing writes into the
    // staging directory or the store's ingest/ once this returns; then, on error, dropping
    // `staging` removes the directory.
    drop(runtime);
    let (image, stats) = result?;
    staging.commit().map_err(rootfs_err)?;
    Ok((image, stats))
}

/// Pulls `reference` into `store` and unpacks each layer not yet unpacked into its committed
/// snapshot, the two overlapped as in [`pull_unpack`]. A layer whose snapshot existed is
/// downloaded (the store keeps every blob) but not unpacked.
/// The caller holds [`GcLock::shared`](crate::gc::GcLock::shared) until the image is recorded.
pub fn pull_snapshots(
    reference: &Reference,
    store: &Store,
    snapshots: &Snapshots,
    opts: &PullOptions,
    extract_progress: Option<Progress>,
) -> Result<Pulled, PullUnpackError> {
    let runtime = runtime(reference)?;
    let result = runtime.block_on(run(
        reference,
        store,
        Target::Snapshots(snapshots.clone(), extract_progress),
        opts,
    ));
    drop(runtime);
    let (image, layers) = result?;
    let chain = snapshot::chain_ids(image.layers.iter().map(|l| &l.diff_id));
    Ok(Pulled {
        image,
        chain,
        layers,
    })
}

/// What [`pull_snapshots`] pulled.
#[derive(Debug)]
pub struct Pulled {
    pub image: Image,
    /// The layers' chain IDs, base first.
    pub chain: Vec<Digest>,
    /// What each layer unpacked; `None` where its snapshot existed already.
    pub layers: Vec<Option<UnpackStats>>,
}

/// Where the layers go.
enum Target {
    /// Applied in order onto one directory.
    Rootfs { dir: PathBuf, preserve_owner: bool },
    /// Each into its committed snapshot; layers unpacked from the store (not streamed, whose
    /// download progress is their extraction's) reported to the progress callback.
    Snapshots(Snapshots, Option<Progress>),
}

/// Where the unpacker gets a layer's compressed bytes.
enum Source {
    /// The verified blob in the store.
    Stored,
    /// The download's copy, as it arrives.
    Stream(mpsc::Receiver<std::io::Result<bytes::Bytes>>),
}

/// Why the unpacker stopped short.
enum Stop {
    /// A layer's source never came: a download failed, which is the error to report.
    Cancelled,
    Failed(RootfsError),
    Snapshot(SnapshotError),
}

/// Hands each layer's [`Source`] to the unpacker: one slot per layer, filled once.
struct Handoff {
    digests: Vec<Digest>,
    slots: Mutex<Vec<Option<oneshot::Sender<Source>>>>,
    /// Layers the unpacker has finished (so it is waiting for or working on this index).
    finished: Arc<AtomicUsize>,
}

impl Handoff {
    fn fill(&self, matches: impl Fn(&Digest) -> bool) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        for (slot, d) in slots.iter_mut().zip(&self.digests) {
            if matches(d) {
                if let Some(tx) = slot.take() {
                    // The unpacker may have stopped already; its result says why.
                    let _ = tx.send(Source::Stored);
                }
            }
        }
    }

    /// Drops every unfilled slot: an unpacker waiting on one stops ([`Stop::Cancelled`]).
    fn close(&self) {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Hooks for Handoff {
    fn start(&self, digest: &Digest) -> Option<Tee> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        // A digest listed twice is downloaded once; its first use is the one that can stream.
        let i = self.digests.iter().position(|d| d == digest)?;
        // Under the lock, so the unpacker cannot be handed the store file for this layer in
        // between. Not its turn yet: store only, unpacked from the file later.
        if self.finished.load(Ordering::SeqCst) != i {
            return None;
        }
        let tx = slots.get_mut(i)?.take()?;
        let (tee, rx) = mpsc::channel(TEE_DEPTH);
        tx.send(Source::Stream(rx)).ok()?;
        Some(tee)
    }

    fn stored(&self, digest: &Digest) {
        self.fill(|d| d == digest);
    }
}

async fn run(
    reference: &Reference,
    store: &Store,
    target: Target,
    opts: &PullOptions,
) -> Result<(Image, Vec<Option<UnpackStats>>), PullUnpackError> {
    let remote = remote::Remote::new(reference, opts);
    remote.authenticate().await?;
    let (image, raw_manifest) = fetch_image(&remote, store, opts).await?;

    let (senders, receivers): (Vec<_>, Vec<_>) =
        image.layers.iter().map(|_| oneshot::channel()).unzip();
    let handoff = Handoff {
        digests: image.layers.iter().map(|l| l.digest.clone()).collect(),
        slots: Mutex::new(senders.into_iter().map(Some).collect()),
        finished: Arc::new(AtomicUsize::new(0)),
    };
    // Layers the store already holds are not downloaded: unpacked from the file in turn.
    handoff.fill(|d| store.has(d));
    let unpacker = {
        let store = store.clone();
        let layers = image.layers.clone();
        let finished = handoff.finished.clone();
        tokio::task::spawn_blocking(move || {
            unpack_all(&store, &layers, receivers, &target, &finished)
        })
    };

    let wanted: Vec<(Digest, u64)> = image
        .layers
        .iter()
        .map(|l| (l.digest.clone(), l.size))
        .collect();
    let fetched = blobs::fetch_with(
        &remote,
        store,
        &wanted,
        opts.parallel,
        opts.progress.as_ref(),
        &handoff,
    )
    .await;
    match &fetched {
        // Everything is in the store now, including blobs a concurrent pull published while
        // we were not looking (fetch skipped them without a `stored` call).
        Ok(_) => handoff.fill(|_| true),
        Err(_) => handoff.close(),
    }
    // Always joined, even after a failed download: the staging directory must not be removed
    // under a thread still writing into it.
    let unpacked = unpacker.await;
    fetched?;
    let unpacker_err = |detail: String| PullUnpackError::Unpacker {
        reference: Box::new(reference.clone()),
        detail,
    };
    let stats = match unpacked {
        Ok(Ok(stats)) => stats,
        Ok(Err(Stop::Failed(source))) => {
            return Err(PullUnpackError::Rootfs {
                reference: Box::new(reference.clone()),
                source,
            })
        }
        Ok(Err(Stop::Snapshot(source))) => {
            return Err(PullUnpackError::Snapshot {
                reference: Box::new(reference.clone()),
                source,
            })
        }
        Ok(Err(Stop::Cancelled)) => {
            return Err(unpacker_err(
                "a layer was never handed over although every download succeeded".to_owned(),
            ))
        }
        Err(join) => return Err(unpacker_err(join.to_string())),
    };
    // Every layer verified twice over (compressed in the store, uncompressed by diff_id).
    store_manifest(reference, store, &image, &raw_manifest)?;
    Ok((image, stats))
}

/// The unpacker thread: each layer in order, from wherever its [`Source`] says. A layer
/// whose snapshot exists is skipped without waiting for its download (dropping its slot
/// also tells the downloader not to stream it).
fn unpack_all(
    store: &Store,
    layers: &[Layer],
    slots: Vec<oneshot::Receiver<Source>>,
    target: &Target,
    finished: &AtomicUsize,
) -> Result<Vec<Option<UnpackStats>>, Stop> {
    let chain = snapshot::chain_ids(layers.iter().map(|l| &l.diff_id));
    let mut out = Vec::with_capacity(layers.len());
    for (i, (layer, slot)) in layers.iter().zip(slots).enumerate() {
        if let Target::Snapshots(snaps, _) = target {
            if snaps.has(&chain[i]) {
                drop(slot);
                out.push(None);
                finished.store(i + 1, Ordering::SeqCst);
                continue;
            }
        }
        let source = slot.blocking_recv().map_err(|_| Stop::Cancelled)?;
        let stats = match source {
            Source::Stored => {
                let blob = store
                    .open_blob(&layer.digest)
                    .map_err(|source| RootfsError::Blob {
                        digest: layer.digest.clone(),
                        source,
                    })
                    .map_err(Stop::Failed)?;
                let blob = BufReader::with_capacity(STORE_READ_BUFFER, blob);
                let progress = match target {
                    Target::Snapshots(_, p) => p.as_ref(),
                    Target::Rootfs { .. } => None,
                };
                let blob = crate::snapshot::Counting {
                    inner: blob,
                    done: 0,
                    total: layer.size,
                    digest: &layer.digest,
                    progress,
                };
                unpack_one(target, &chain, i, layer, blob)
            }
            Source::Stream(rx) => {
                let blob = ChannelReader::plain(rx, layer.digest.clone());
                unpack_one(target, &chain, i, layer, blob)
            }
        }?;
        out.push(stats);
        finished.store(i + 1, Ordering::SeqCst);
    }
    Ok(out)
}

/// Every layer's figures added up.
fn total(layers: &[Option<UnpackStats>]) -> UnpackStats {
    let mut t = UnpackStats::default();
    for s in layers.iter().flatten() {
        t.entries += s.entries;
        t.bytes += s.bytes;
    }
    t
}

fn unpack_one(
    target: &Target,
    chain: &[Digest],
    i: usize,
    layer: &Layer,
    blob: impl std::io::Read + Send,
) -> Result<Option<UnpackStats>, Stop> {
    match target {
        Target::Rootfs {
            dir,
            preserve_owner,
        } => rootfs::unpack_layer(layer, blob, dir, &rootfs::layer_options(*preserve_owner))
            .map(Some)
            .map_err(Stop::Failed),
        Target::Snapshots(snaps, _) => {
            let parent = i.checked_sub(1).map(|p| &chain[p]);
            match snaps.unpack_layer(parent, &chain[i], layer, blob) {
                Ok(Unpacked::Now(stats)) => Ok(Some(stats)),
                Ok(Unpacked::Present) => Ok(None),
                Err(e) => Err(Stop::Snapshot(e)),
            }
        }
    }
}
