use std::io;

use crate::digest::DigestError;
use crate::media::MediaError;
use crate::store::StoreError;

/// `at` is a path to the fault, outermost first, e.g.
/// `oci:/x:latest: index.json: manifests[0].digest`: the layout, the document, the field.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{at}: {source}")]
    Io { at: String, source: io::Error },
    #[error("{at}: invalid JSON: {source}")]
    Json {
        at: String,
        source: serde_json::Error,
    },
    #[error("{at}: {source}")]
    Digest { at: String, source: DigestError },
    #[error("{at}: {source}")]
    Media { at: String, source: MediaError },
    #[error("{at}: {source}")]
    Store { at: String, source: StoreError },
    #[error("{at}: imageLayoutVersion {found:?} is not supported (want \"1.0.0\")")]
    Version { at: String, found: String },
    #[error("{at}: {size} bytes exceeds the {limit}-byte limit for JSON documents")]
    TooLarge { at: String, size: u64, limit: u64 },
    #[error("{at}: no manifest has ref name {wanted:?}; refs available: {available}")]
    RefNotFound {
        at: String,
        wanted: String,
        available: String,
    },
    #[error("{at}: {count} manifests and no ref given; name one of: {available}")]
    Ambiguous {
        at: String,
        count: usize,
        available: String,
    },
    #[error("{at}: no manifest for platform {wanted}; platforms available: {available}")]
    NoPlatform {
        at: String,
        wanted: String,
        available: String,
    },
    #[error("{at}: unsupported media type {media_type:?} (want {want})")]
    MediaType {
        at: String,
        media_type: String,
        want: &'static str,
    },
    #[error(
        "{at}: the manifest has {layers} layers but the config's rootfs.diff_ids has {diff_ids}"
    )]
    DiffIdCount {
        at: String,
        layers: usize,
        diff_ids: usize,
    },
    #[error("{at}: {reason}")]
    Invalid { at: String, reason: String },
}
