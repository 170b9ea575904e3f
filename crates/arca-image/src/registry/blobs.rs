//! Blobs from the registry into the store, a few at a time, each streamed (never held whole in
//! memory) through [`Store::ingest`], which verifies size and digest before anything becomes
//! visible. The network side is async; the ingest (hashing, writing, fsync) runs on a blocking
//! thread fed by a small channel, so a slow disk slows the download instead of filling memory.
//!
//! A body that breaks off is resumed: the same ingest keeps reading, and the bytes from where
//! it stopped come from a `Range` request (or, from a registry that ignores `Range`, from the
//! whole body with its known start skipped). The ingest's digest check covers every byte
//! however many responses brought them, so nothing unverified becomes visible.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::remote::{BlobBody, Remote};
use super::{Progress, PullError};
use crate::digest::{Digest, DigestError};
use crate::store::{Store, StoreError};

/// Chunks in flight between the network and the disk, per blob.
const CHANNEL_DEPTH: usize = 16;

/// Fetches every blob of `blobs` the store does not already hold, at most `parallel` at once.
/// Returns the digests actually downloaded. On the first failure the other downloads stop,
/// and every ingest has finished (its partial file removed) before this returns.
pub(super) async fn fetch(
    remote: &Remote<'_>,
    store: &Store,
    blobs: &[(Digest, u64)],
    parallel: usize,
    progress: Option<&Progress>,
) -> Result<Vec<Digest>, PullError> {
    fetch_with(remote, store, blobs, parallel, progress, &NoTee).await
}

/// A sender for a copy of a download's bytes as they arrive, besides the store (the streaming
/// unpack). The receiver sees an `Err` item if the download fails or is cancelled, and the
/// end of the channel once the body ended; only the ingest's result says the bytes were right.
pub(super) type Tee = mpsc::Sender<io::Result<Bytes>>;

/// What [`fetch_with`] tells its caller about each download.
pub(super) trait Hooks: Sync {
    /// A download starts: `Some` to have its bytes copied to that channel too.
    fn start(&self, digest: &Digest) -> Option<Tee>;
    /// The blob is in the store, verified.
    fn stored(&self, digest: &Digest);
}

struct NoTee;

impl Hooks for NoTee {
    fn start(&self, _: &Digest) -> Option<Tee> {
        None
    }
    fn stored(&self, _: &Digest) {}
}

/// [`fetch`], telling `hooks` as each download starts and ends.
pub(super) async fn fetch_with(
    remote: &Remote<'_>,
    store: &Store,
    blobs: &[(Digest, u64)],
    parallel: usize,
    progress: Option<&Progress>,
    hooks: &dyn Hooks,
) -> Result<Vec<Digest>, PullError> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut wanted: Vec<&(Digest, u64)> = Vec::new();
    for b in blobs {
        // A manifest may list one blob twice (an empty layer); fetch it once.
        if !store.has(&b.0) && !wanted.iter().any(|w| w.0 == b.0) {
            wanted.push(b);
        }
    }
    let results: Vec<Result<Digest, Fail>> = futures_util::stream::iter(wanted)
        .map(|(digest, size)| {
            let stop = stop.clone();
            async move {
                let r = fetch_one(remote, store, digest, *size, progress, &stop, hooks).await;
                match &r {
                    Ok(()) => hooks.stored(digest),
                    Err(_) => stop.store(true, Ordering::Relaxed),
                }
                r.map(|()| digest.clone())
            }
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    // The first error that is not merely "stopped because another failed".
    let mut fetched = Vec::new();
    let mut first_err = None;
    for r in results {
        match r {
            Ok(d) => fetched.push(d),
            Err(Fail::Cancelled) => {}
            Err(Fail::Error(e)) => {
                first_err.get_or_insert(e);
            }
        }
    }
    // Only a failure sets `stop`, so a cancelled download always comes with an error.
    first_err.map_or(Ok(fetched), Err)
}

enum Fail {
    /// Stopped because another download failed: not an error of its own.
    Cancelled,
    Error(PullError),
}

impl From<PullError> for Fail {
    fn from(e: PullError) -> Fail {
        Fail::Error(e)
    }
}

async fn fetch_one(
    remote: &Remote<'_>,
    store: &Store,
    digest: &Digest,
    size: u64,
    progress: Option<&Progress>,
    stop: &AtomicBool,
    hooks: &dyn Hooks,
) -> Result<(), Fail> {
    if stop.load(Ordering::Relaxed) {
        return Err(Fail::Cancelled);
    }
    // Another pull downloading the same blob: wait for it, then use what it stored.
    let locked = {
        let store = store.clone();
        let d = digest.clone();
        tokio::task::spawn_blocking(move || store.lock_download(&d)).await
    };
    let _lock = locked
        .unwrap_or_else(|join| {
            Err(crate::store::StoreError::Io {
                path: store.root().join("ingest"),
                op: "lock a download in",
                source: io::Error::other(join.to_string()),
            })
        })
        .map_err(|source| {
            Fail::Error(PullError::Store {
                reference: Box::new(remote.reference.clone()),
                source,
            })
        })?;
    if store.has(digest) {
        return Ok(());
    }
    let mut tee = hooks.start(digest);
    let body = match remote.blob(digest, 0).await {
        Ok(b) => b,
        Err(e) => {
            tee_fail(tee, "the download failed").await;
            return Err(e.into());
        }
    };
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(CHANNEL_DEPTH);
    let reader = ChannelReader {
        rx,
        chunk: Bytes::new(),
        digest: digest.clone(),
        size,
        done: 0,
        progress: progress.cloned(),
    };
    let ingest = {
        let store = store.clone();
        let digest = digest.clone();
        tokio::task::spawn_blocking(move || store.ingest(&digest, size, reader))
    };
    let mut cancelled = false;
    // Why the bytes stopped short, when it was the network's doing: reported rather than
    // the ingest's "source failed".
    let mut network: Option<PullError> = None;
    let mut body = Some(body);
    let mut sent: u64 = 0;
    let mut resume = Resume::default();
    while let Some(b) = body.as_mut() {
        if stop.load(Ordering::Relaxed) {
            cancelled = true;
            break;
        }
        let cut = match b.stream.next().await {
            Some(Ok(mut chunk)) => {
                // A registry that ignored `Range`: what we already have comes again.
                let skip = usize::try_from(b.skip).map_or(chunk.len(), |s| s.min(chunk.len()));
                b.skip -= skip as u64;
                let _ = chunk.split_to(skip);
                if chunk.is_empty() {
                    continue;
                }
                sent += chunk.len() as u64;
                let copy = chunk.clone();
                // The ingest stopped reading (it refused the blob): its result says why.
                if tx.send(Ok(chunk)).await.is_err() {
                    break;
                }
                // The store first, then the copy: a reader that gave up (the unpack failed)
                // does not stop the ingest, whose verdict is what the caller reports.
                if let Some(t) = &tee {
                    if t.send(Ok(copy)).await.is_err() {
                        tee = None;
                    }
                }
                continue;
            }
            // The whole blob (or more: the ingest refuses an over-long one), or the end.
            None if sent >= size => break,
            None => format!("the body ended after {sent} of {size} bytes"),
            Some(Err(e)) => format!("the body broke off after {sent} of {size} bytes: {e}"),
        };
        // Interrupted: continue from byte `sent` into the same ingest, which has hashed and
        // written exactly the bytes sent so far.
        let url = b.url.clone();
        match resume.next(remote, digest, sent, &url, cut).await {
            Ok(next) => body = Some(next),
            Err(e) => {
                network = Some(e);
                body = None;
            }
        }
    }
    if network.is_some() || cancelled {
        // Ends the ingest with an error: it removes its partial file.
        let _ = tx.send(Err(io::Error::other("the download failed"))).await;
    }
    drop(tx);
    let result = ingest.await.unwrap_or_else(|join| {
        Err(StoreError::Source {
            digest: digest.clone(),
            source: io::Error::other(format!("ingest thread failed: {join}")),
        })
    });
    if cancelled || network.is_some() || result.is_err() {
        tee_fail(tee, "the download failed").await;
    }
    // Otherwise the copy ends here, as the body did.
    if let Some(e) = network {
        return Err(Fail::Error(e));
    }
    match result {
        Ok(_) if cancelled => Err(Fail::Cancelled),
        Ok(_) => Ok(()),
        Err(_) if cancelled => Err(Fail::Cancelled),
        Err(e) => Err(Fail::Error(classify(remote, digest, e))),
    }
}

/// Bounds how often one download is resumed. Attempts count as for any request
/// ([`RetryPolicy::attempts`](super::RetryPolicy)), but start over once a resumed body brought
/// bytes: a long download over a flaky link may break many times and still finish. The
/// overall cap stops a registry that sends a byte and hangs up from keeping us forever.
#[derive(Default)]
struct Resume {
    retries: u32,
    total: u32,
    /// The offset of the last resume; progress past it resets `retries`.
    from: u64,
}

/// Resumes per download at most.
const MAX_RESUMES: u32 = 32;

impl Resume {
    async fn next(
        &mut self,
        remote: &Remote<'_>,
        digest: &Digest,
        sent: u64,
        url: &str,
        cut: String,
    ) -> Result<BlobBody, PullError> {
        if sent > self.from {
            self.retries = 0;
        }
        self.from = sent;
        let policy = remote.retry_policy();
        let failure = PullError::Interrupted {
            reference: Box::new(remote.reference.clone()),
            digest: digest.clone(),
            url: url.to_owned(),
            detail: cut,
        };
        if self.retries + 1 >= policy.attempts || self.total >= MAX_RESUMES {
            return Err(failure);
        }
        let wait = policy.backoff(self.retries);
        tracing::warn!(
            "{failure}; resuming from byte {sent} in {} ms",
            wait.as_millis()
        );
        tokio::time::sleep(wait).await;
        self.retries += 1;
        self.total += 1;
        remote.blob(digest, sent).await
    }
}

/// Ends a copy with an error, so its reader cannot mistake a cut-off body for a whole one.
async fn tee_fail(tee: Option<Tee>, why: &str) {
    if let Some(t) = tee {
        let _ = t.send(Err(io::Error::other(why.to_owned()))).await;
    }
}

/// Turns the store's refusal into what happened at the registry.
fn classify(remote: &Remote<'_>, digest: &Digest, e: StoreError) -> PullError {
    let reference = Box::new(remote.reference.clone());
    match e {
        StoreError::Verify {
            source: DigestError::Mismatch { expected, actual },
            ..
        } => PullError::DigestMismatch {
            reference,
            expected: expected.to_string(),
            actual: actual.to_string(),
        },
        StoreError::Verify {
            source: DigestError::SizeMismatch {
                expected, actual, ..
            },
            ..
        } => PullError::SizeMismatch {
            reference,
            digest: digest.clone(),
            expected,
            actual,
        },
        source => PullError::Store { reference, source },
    }
}

/// The blocking side of the channel, as the `Read` that [`Store::ingest`] takes. Reports
/// progress as the store consumes bytes, so "done" means "hashed and written".
pub(super) struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    chunk: Bytes,
    digest: Digest,
    size: u64,
    done: u64,
    progress: Option<Progress>,
}

impl ChannelReader {
    /// A reader of `rx` that reports no progress (the unpack's side of a [`Tee`]).
    pub(super) fn plain(rx: mpsc::Receiver<io::Result<Bytes>>, digest: Digest) -> ChannelReader {
        ChannelReader {
            rx,
            chunk: Bytes::new(),
            digest,
            size: 0,
            done: 0,
            progress: None,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        self.done += n as u64;
        if let Some(p) = &self.progress {
            p(&self.digest, self.done, self.size);
        }
        Ok(n)
    }
}
