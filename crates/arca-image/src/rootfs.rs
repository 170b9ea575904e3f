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
use crate::layout::Image;
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
    if dest.symlink_metadata().is_ok() {
        return Err(RootfsError::Exists(dest.to_owned()));
    }
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dest.with_file_name(format!(
        ".{}.unpacking-{}",
        name.unwrap_or_default(),
        std::process::id()
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
    let result = build_into(store, image, &tmp, preserve_owner);
    match result {
        Ok(stats) => {
            std::fs::rename(&tmp, dest).map_err(|source| {
                let _ = std::fs::remove_dir_all(&tmp);
                RootfsError::Commit {
                    path: dest.to_owned(),
                    source,
                }
            })?;
            Ok(stats)
        }
        Err(e) => {
            if let Err(rm) = std::fs::remove_dir_all(&tmp) {
                tracing::warn!("removing {} after a failed unpack: {rm}", tmp.display());
            }
            Err(e)
        }
    }
}

fn build_into(
    store: &Store,
    image: &Image,
    dir: &Path,
    preserve_owner: bool,
) -> Result<UnpackStats, RootfsError> {
    let opts = UnpackOptions {
        whiteouts: Whiteouts::Apply,
        preserve_owner,
    };
    let mut total = UnpackStats::default();
    for layer in &image.layers {
        let digest = &layer.digest;
        let blob = store
            .open_blob(digest)
            .map_err(|source| RootfsError::Blob {
                digest: digest.clone(),
                source,
            })?;
        let plain = media::decompress(layer.compression, std::io::BufReader::new(blob)).map_err(
            |source| RootfsError::Decompress {
                digest: digest.clone(),
                source,
            },
        )?;
        let mut hashed = HashingReader::new(plain);
        let stats =
            unpack::unpack(&mut hashed, dir, &opts).map_err(|source| RootfsError::Unpack {
                digest: digest.clone(),
                source,
            })?;
        // The unpacker drains the tar's padding; anything after it still belongs to the blob.
        std::io::copy(&mut hashed.by_ref(), &mut std::io::sink()).map_err(|source| {
            RootfsError::Decompress {
                digest: digest.clone(),
                source,
            }
        })?;
        let (actual, _) = hashed.finish();
        if actual != layer.diff_id {
            return Err(RootfsError::DiffId {
                digest: digest.clone(),
                expected: layer.diff_id.clone(),
                actual,
            });
        }
        total.entries += stats.entries;
        total.bytes += stats.bytes;
    }
    Ok(total)
}
