//! An [`Image`] read back from the store, for `save` (the catalog keeps only digests).

use std::io::Read;

use crate::digest::Digest;
use crate::layout::{assemble, parse_manifest, Image, LayoutError, MAX_JSON_SIZE};
use crate::store::Store;

/// The image whose manifest is `manifest_digest`, with its config, both from `store`. The
/// store only holds verified content, so no digest is recomputed; the size cap still applies
/// since a blob named as a manifest could be anything.
pub fn stored_image(store: &Store, manifest_digest: &Digest) -> Result<Image, LayoutError> {
    let at = format!("store: manifest {manifest_digest}");
    let manifest_raw = read_json(store, manifest_digest, &at)?;
    let (manifest, config_digest) = parse_manifest(&manifest_raw, &at)?;
    let config_at = format!("store: config {config_digest}");
    let config_raw = read_json(store, &config_digest, &config_at)?;
    assemble(
        (manifest_digest.clone(), manifest_raw.len() as u64, manifest),
        (config_digest, &config_raw),
        &at,
        &config_at,
    )
}

pub(super) fn read_json(store: &Store, digest: &Digest, at: &str) -> Result<Vec<u8>, LayoutError> {
    let file = store
        .open_blob(digest)
        .map_err(|source| LayoutError::Store {
            at: at.to_owned(),
            source,
        })?;
    let mut buf = Vec::new();
    file.take(MAX_JSON_SIZE + 1)
        .read_to_end(&mut buf)
        .map_err(|source| LayoutError::Io {
            at: at.to_owned(),
            source,
        })?;
    if buf.len() as u64 > MAX_JSON_SIZE {
        return Err(LayoutError::TooLarge {
            at: at.to_owned(),
            size: buf.len() as u64,
            limit: MAX_JSON_SIZE,
        });
    }
    Ok(buf)
}
