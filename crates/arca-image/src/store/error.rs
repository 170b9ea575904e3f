use std::io;
use std::path::PathBuf;

use crate::digest::{Digest, DigestError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{op} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
    #[error("blob {digest} not found in the store")]
    NotFound { digest: Digest },
    #[error("ingest of {digest} refused: {source}")]
    Verify { digest: Digest, source: DigestError },
    #[error("reading content for {digest}: {source}")]
    Source { digest: Digest, source: io::Error },
    /// The source failed during [`Store::write`](super::Store::write), whose digest is not
    /// known yet.
    #[error("reading content to store: {source}")]
    Content { source: io::Error },
    #[error("blob {digest} is corrupt on disk: its content hashes to {actual}")]
    Corrupt { digest: Digest, actual: Digest },
    #[error(transparent)]
    Digest(#[from] DigestError),
}
