//! A store file as the byte stream an upload sends: read on a blocking thread (the runtime
//! has no async file I/O, and a disk read must not stall the network side), handed over
//! through a one-slot channel, so at most a couple of chunks of a blob are in memory however
//! large it is.

use std::fs::File;
use std::io::{self, Read};

use bytes::Bytes;
use futures_util::Stream;
use oci_client::errors::OciDistributionError;
use tokio::sync::mpsc;

/// oci-client sends each stream item as one or more `PATCH` requests of at most 4 MiB (its
/// chunk size) and never merges items; items of exactly that size make one request per
/// 4 MiB instead of one per small read.
const CHUNK: usize = 4 << 20;

/// `size` bytes of `file` (the descriptor's size; a file that ends early is an error, and
/// bytes past `size` are not sent, so the registry's digest check decides).
pub(super) fn stream(
    file: File,
    size: u64,
) -> impl Stream<Item = Result<Bytes, OciDistributionError>> + Send + 'static {
    let (tx, rx) = mpsc::channel::<Result<Bytes, OciDistributionError>>(1);
    tokio::task::spawn_blocking(move || {
        let mut file = file.take(size);
        let mut left = size;
        while left > 0 {
            let want = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
            let item = read_chunk(&mut file, want).map_err(OciDistributionError::IoError);
            let failed = item.is_err();
            if let Ok(chunk) = &item {
                left -= chunk.len() as u64;
            }
            // The upload is gone (failed or cancelled): stop reading.
            if tx.blocking_send(item).is_err() || failed {
                return;
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

/// Exactly `want` bytes, or an error if the file ends first.
fn read_chunk(file: &mut impl Read, want: usize) -> io::Result<Bytes> {
    let mut buf = vec![0; want];
    file.read_exact(&mut buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(e.kind(), "blob file is shorter than its descriptor says")
        } else {
            e
        }
    })?;
    Ok(Bytes::from(buf))
}
