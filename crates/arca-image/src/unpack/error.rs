//! Errors of layer extraction. Every message names the entry (as cleaned, relative to the
//! destination) and the operation, because a layer is thousands of entries and "Permission
//! denied" alone would not say which one failed.

use std::io;
use std::path::PathBuf;

/// Why a layer could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The destination directory itself could not be opened.
    #[error("open destination {}: {source}", dest.display())]
    OpenDest {
        /// The destination as given.
        dest: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The tar stream could not be parsed or read (outside any entry's content).
    #[error("read layer stream: {0}")]
    Stream(#[source] io::Error),
    /// A filesystem operation on one entry failed.
    #[error("{op} {}: {source}", path.display())]
    Entry {
        /// The entry's path, cleaned, relative to the destination.
        path: PathBuf,
        /// The operation that failed ("create file", "chown", "set xattr user.x", ...).
        op: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The entry is well-formed tar but not acceptable in a layer.
    #[error("refuse {}: {reason}", path.display())]
    Refused {
        /// The entry's path, cleaned, relative to the destination.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
}

impl UnpackError {
    pub(super) fn entry(
        path: &std::path::Path,
        op: impl Into<String>,
        source: impl Into<io::Error>,
    ) -> Self {
        Self::Entry {
            path: path.to_path_buf(),
            op: op.into(),
            source: source.into(),
        }
    }

    pub(super) fn refused(path: &std::path::Path, reason: impl Into<String>) -> Self {
        Self::Refused {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}
