//! Blobs from the registry into the store, a few at a time, each streamed (never held whole in
//! memory) through [`Store::ingest`], which verifies size and digest before anything becomes
//! visible. The network side is async; the ingest (hashing, writing, fsync) runs on a blocking
//! thread fed by a small channel, so a slow disk slows the download instead of filling memory.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::mpsc;

use super::remote::{stream_digest_error, Remote};
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
                let r = fetch_one(remote, store, digest, *size, progress, &stop).await;
                if r.is_err() {
                    stop.store(true, Ordering::Relaxed);
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
) -> Result<(), Fail> {
    if stop.load(Ordering::Relaxed) {
        return Err(Fail::Cancelled);
    }
    let mut stream = remote.blob(digest).await?;
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
    loop {
        if stop.load(Ordering::Relaxed) {
            cancelled = true;
            break;
        }
        let item = match stream.try_next().await {
            Ok(Some(chunk)) => Ok(chunk),
            Ok(None) => break,
            Err(e) => Err(e),
        };
        let last = item.is_err();
        // The ingest stopped reading (it refused the blob): its result says why.
        if tx.send(item).await.is_err() || last {
            break;
        }
    }
    drop(tx);
    let result = ingest.await.unwrap_or_else(|join| {
        Err(StoreError::Source {
            digest: digest.clone(),
            source: io::Error::other(format!("ingest thread failed: {join}")),
        })
    });
    match result {
        Ok(_) if cancelled => Err(Fail::Cancelled),
        Ok(_) => Ok(()),
        Err(_) if cancelled => Err(Fail::Cancelled),
        Err(e) => Err(Fail::Error(classify(remote, digest, e))),
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
        StoreError::Source { source, .. } if stream_digest_error(&source).is_some() => {
            PullError::DigestMismatch {
                reference,
                expected: digest.to_string(),
                actual: stream_digest_error(&source).unwrap_or_default(),
            }
        }
        source => PullError::Store { reference, source },
    }
}

/// The blocking side of the channel, as the `Read` that [`Store::ingest`] takes. Reports
/// progress as the store consumes bytes, so "done" means "hashed and written".
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    chunk: Bytes,
    digest: Digest,
    size: u64,
    done: u64,
    progress: Option<Progress>,
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
