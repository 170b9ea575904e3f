use super::Digest;

/// Every variant names the offending string or digest: these errors surface to users who must
/// find the descriptor or blob at fault.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("digest {input:?}: {reason}")]
    Malformed { input: String, reason: String },
    #[error(
        "digest {input:?}: algorithm {algorithm:?} is valid OCI but not supported (only sha256)"
    )]
    UnsupportedAlgorithm { input: String, algorithm: String },
    #[error("digest {input:?}: unknown algorithm {algorithm:?} (only sha256 is supported)")]
    UnknownAlgorithm { input: String, algorithm: String },
    #[error("digest mismatch: expected {expected}, content hashes to {actual}")]
    Mismatch { expected: Digest, actual: Digest },
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("size mismatch for {digest}: more than the declared {expected} bytes")]
    TooLong { digest: Digest, expected: u64 },
}
