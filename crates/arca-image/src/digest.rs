//! Content digests (`sha256:<hex>`), the only thing that makes a blob trustworthy.
//!
//! Parsing is strict on purpose: a digest is used as a file name under `blobs/sha256/`, so any
//! form other than exactly 64 lowercase hex characters is refused rather than normalised (an
//! uppercase digest would name a different file than the one the hash produces).

mod error;
mod hashing;
mod verifying;

pub use error::DigestError;
pub use hashing::{HashingReader, HashingWriter};
pub use verifying::VerifyingReader;

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// Hash algorithms a digest string may name.
///
/// `sha512` (and `sha384`) are recognised so the refusal can say "unsupported" rather than
/// "malformed": they are valid OCI digests that this store cannot yet hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated content digest. The hex part is guaranteed to be lowercase hex of the
/// algorithm's length, which is what makes it safe to use as a path component.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: Box<str>,
}

impl Digest {
    /// Parses strictly; see the module documentation for why nothing is normalised.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let malformed = |reason: &str| DigestError::Malformed {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| malformed("missing ':' between algorithm and hex"))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha384" | "sha512" => {
                return Err(DigestError::UnsupportedAlgorithm {
                    input: s.to_owned(),
                    algorithm: alg.to_owned(),
                })
            }
            "" => return Err(malformed("empty algorithm")),
            _ => {
                return Err(DigestError::UnknownAlgorithm {
                    input: s.to_owned(),
                    algorithm: alg.to_owned(),
                })
            }
        };
        if hex.len() != algorithm.hex_len() {
            return Err(malformed(&format!(
                "{} hex characters, {} needs {}",
                hex.len(),
                algorithm,
                algorithm.hex_len()
            )));
        }
        if let Some(c) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(malformed(&format!(
                "{c:?} is not a lowercase hex character"
            )));
        }
        Ok(Digest {
            algorithm,
            hex: hex.into(),
        })
    }

    /// The digest of an in-memory buffer (JSON documents, tests).
    pub fn sha256_of(data: &[u8]) -> Digest {
        Digest::from_sha256(Sha256::digest(data).into())
    }

    pub(crate) fn from_sha256(bytes: [u8; 32]) -> Digest {
        use fmt::Write as _;
        let mut hex = String::with_capacity(64);
        for b in bytes {
            let _ = write!(hex, "{b:02x}");
        }
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex.into(),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded part: validated, so callers may use it as a file name.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

// Debug as the plain string: digests show up in error chains and test failures, where the
// struct form would only add noise.
impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

/// oci-spec accepts any registered algorithm (and its own normalisation rules); descriptors
/// from it are re-checked here before their digest is used as a path.
impl TryFrom<&oci_spec::image::Digest> for Digest {
    type Error = DigestError;
    fn try_from(d: &oci_spec::image::Digest) -> Result<Self, Self::Error> {
        Digest::parse(d.as_ref())
    }
}

impl From<&Digest> for oci_spec::image::Digest {
    fn from(d: &Digest) -> Self {
        // Every Digest we hold is a valid sha256 digest, which oci-spec always accepts.
        oci_spec::image::Digest::from_str(&d.to_string())
            .unwrap_or_else(|e| unreachable!("oci-spec refused {d}: {e}"))
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Checks what was read against what a descriptor promised. The size is optional because
/// some sources (a diff_id, an index.json) carry no size; when present it is checked first,
/// since a size mismatch says more (truncated download) than a digest mismatch.
pub fn verify(
    expected: &Digest,
    expected_size: Option<u64>,
    got: (Digest, u64),
) -> Result<(), DigestError> {
    let (actual, size) = got;
    if let Some(want) = expected_size {
        if want != size {
            return Err(DigestError::SizeMismatch {
                digest: expected.clone(),
                expected: want,
                actual: size,
            });
        }
    }
    if *expected != actual {
        return Err(DigestError::Mismatch {
            expected: expected.clone(),
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
