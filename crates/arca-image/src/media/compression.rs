use std::fmt;
use std::io::{self, BufReader, Read};

use flate2::read::MultiGzDecoder;

use super::types::*;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("unsupported layer media type {0:?} (expected an OCI or Docker tar, tar+gzip or tar+zstd layer)")]
    UnknownLayer(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Refuses anything not known to be a layer: guessing from magic bytes would make a
    /// mislabelled blob (an artifact, a signature) look like a filesystem.
    pub fn from_media_type(media_type: &str) -> Result<Compression, MediaError> {
        match media_type {
            OCI_LAYER | OCI_LAYER_NONDISTRIBUTABLE | DOCKER_LAYER => Ok(Compression::None),
            OCI_LAYER_GZIP
            | OCI_LAYER_NONDISTRIBUTABLE_GZIP
            | DOCKER_LAYER_GZIP
            | DOCKER_LAYER_FOREIGN_GZIP => Ok(Compression::Gzip),
            OCI_LAYER_ZSTD | OCI_LAYER_NONDISTRIBUTABLE_ZSTD | DOCKER_LAYER_ZSTD => {
                Ok(Compression::Zstd)
            }
            other => Err(MediaError::UnknownLayer(other.to_owned())),
        }
    }
}

impl TryFrom<&oci_spec::image::MediaType> for Compression {
    type Error = MediaError;
    fn try_from(m: &oci_spec::image::MediaType) -> Result<Self, Self::Error> {
        Compression::from_media_type(m.as_ref())
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

/// A streaming decompressor. Gzip uses the multi-member decoder because layers written by
/// parallel compressors (pigz, BuildKit's estargz) are concatenated gzip members, and a
/// single-member decoder would silently stop after the first one — a truncated filesystem.
pub fn decompress<'a, R: Read + 'a>(
    compression: Compression,
    reader: R,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(MultiGzDecoder::new(BufReader::new(reader))),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(reader)?),
    })
}
