//! `docker import`: a tarball of a root filesystem becomes a one-layer image.
//!
//! The tarball may be plain, gzip or zstd (told apart by magic bytes, as Docker does, since
//! its name says nothing reliable). It is streamed once: decompressed, hashed (the diff_id,
//! over the uncompressed tar), recompressed with gzip and written to the store under the
//! digest that turns out to be its own ([`Store::write`]), so a layer is never held in memory
//! nor staged twice. The config records this host's (or `--platform`'s) os and architecture,
//! `created`, the `--change` instructions (see [`change`]) and the message as the history's
//! comment; config and manifest are then stored like any other blob and the image is
//! assembled by the code every other source uses, so an imported image means the same thing.

mod change;
mod detect;

use std::io::{self, Read};

use flate2::read::GzEncoder;
use serde_json::{json, Map, Value};

use crate::digest::{Digest, HashingReader};
use crate::layout::{assemble, oci_manifest, parse_manifest, Image, LayoutError, PlatformSpec};
use crate::media::types;
use crate::store::{Store, StoreError};

/// What `arca import` was asked for besides the tarball.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Dockerfile instructions (`CMD ["/bin/sh"]`, `ENV A=b`, …), applied in order.
    pub changes: Vec<String>,
    /// The history comment (Docker's default, `Imported from -`, when `None`).
    pub message: Option<String>,
    /// The os/architecture/variant the config claims.
    pub platform: PlatformSpec,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            changes: Vec::new(),
            message: None,
            platform: PlatformSpec::host(),
        }
    }
}

/// `name` is the tarball as the user named it (a file, or `-` for stdin).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{name}: {source}")]
    Read { name: String, source: io::Error },
    #[error("{name}: not a tar archive (nor a gzip- or zstd-compressed one): {reason}")]
    NotTar { name: String, reason: String },
    #[error(
        "{name}: {compression}-compressed tarballs are not supported (use plain, gzip or zstd)"
    )]
    Compression {
        name: String,
        compression: &'static str,
    },
    #[error("--change {change:?}: {reason}")]
    Change { change: String, reason: String },
    #[error("{name}: storing the {what}: {source}")]
    Store {
        name: String,
        what: &'static str,
        source: StoreError,
    },
    #[error("{name}: building the image: {source}")]
    Build { name: String, source: LayoutError },
}

/// Builds the image from the tarball `source` (shown as `name`) into `store` and returns it,
/// not yet named: the caller records it in the catalog, holding the GC lock shared throughout
/// since the blobs written here are no root until then.
pub fn import(
    store: &Store,
    source: impl Read,
    name: &str,
    opts: &ImportOptions,
) -> Result<Image, ImportError> {
    // Changes first: a typo in one should cost nothing, not a whole layer's compression.
    let mut config = Map::new();
    for c in &opts.changes {
        change::apply(&mut config, c).map_err(|reason| ImportError::Change {
            change: c.clone(),
            reason,
        })?;
    }
    let tar = detect::open_tar(source, name)?;
    let mut hashing = HashingReader::new(tar);
    let mut gzip = GzEncoder::new(&mut hashing, flate2::Compression::default());
    let (layer_digest, layer_size) = store.write(&mut gzip).map_err(|e| match e {
        StoreError::Content { source } => ImportError::Read {
            name: name.to_owned(),
            source,
        },
        source => ImportError::Store {
            name: name.to_owned(),
            what: "layer",
            source,
        },
    })?;
    drop(gzip);
    let (diff_id, _) = hashing.finish();

    let created = crate::time::format_rfc3339_nano(std::time::SystemTime::now());
    let comment = opts
        .message
        .clone()
        .unwrap_or_else(|| "Imported from -".to_owned());
    let mut image_config = json!({
        "created": created,
        "architecture": opts.platform.architecture,
        "os": opts.platform.os,
        "config": config,
        "rootfs": { "type": "layers", "diff_ids": [diff_id.to_string()] },
        "history": [{ "created": created, "comment": comment }],
    });
    if let Some(v) = &opts.platform.variant {
        image_config["variant"] = Value::from(v.as_str());
    }
    let config_raw = to_json(&image_config);
    let (config_digest, config_size) = put(store, &config_raw, name, "config")?;
    let manifest = oci_manifest(
        &config_digest,
        config_size,
        [(types::OCI_LAYER_GZIP, &layer_digest, layer_size)],
    );
    let manifest_raw = to_json(&manifest);
    let (manifest_digest, manifest_size) = put(store, &manifest_raw, name, "manifest")?;
    let build = |source| ImportError::Build {
        name: name.to_owned(),
        source,
    };
    let at = format!("{name}: manifest {manifest_digest}");
    let (parsed, _) = parse_manifest(&manifest_raw, &at).map_err(build)?;
    assemble(
        (manifest_digest, manifest_size, parsed),
        (config_digest.clone(), &config_raw),
        &at,
        &format!("{name}: config {config_digest}"),
    )
    .map_err(build)
}

fn to_json(v: &Value) -> Vec<u8> {
    // A Value of strings, numbers, arrays and maps always serialises.
    serde_json::to_vec(v).unwrap_or_default()
}

fn put(
    store: &Store,
    raw: &[u8],
    name: &str,
    what: &'static str,
) -> Result<(Digest, u64), ImportError> {
    let digest = Digest::sha256_of(raw);
    store
        .ingest(&digest, raw.len() as u64, raw)
        .map_err(|source| ImportError::Store {
            name: name.to_owned(),
            what,
            source,
        })?;
    Ok((digest, raw.len() as u64))
}
