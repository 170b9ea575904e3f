//! `docker-archive`: Docker's `docker save` format as Podman writes it, and as Docker before 25
//! wrote it (Docker 25's OCI layout with `manifest.json` is read too):
//!
//! ```text
//! manifest.json        [{"Config": "<config hex>.json", "RepoTags": [...], "Layers": ["<diff_id hex>.tar", ...]}]
//! <config hex>.json    the image config, byte for byte (so the image id survives)
//! <diff_id hex>.tar    each layer, uncompressed (the format has no media types)
//! ```
//!
//! Saving decompresses gzip/zstd layers on the fly, twice: a first pass counts the bytes (the
//! tar header needs the size before the content) and checks they hash to the config's diff_id,
//! the second writes them. No `repositories` file is written: it names Docker 1.0 layer ids
//! that nothing reads any more. Loading synthesises an OCI manifest (layers
//! `application/vnd.oci.image.layer.v1.tar`, digest = diff_id) and stores it with the config
//! and layers.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Cursor, Read, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;

use super::names::ANY_IMAGE;
use super::reader::{destination, TempDir};
use super::tar_out::TarOut;
use super::{Loaded, SaveImage};
use crate::digest::{Digest, HashingReader};
use crate::layout::{assemble, oci_manifest, parse_manifest, read_small_file, Layer, LayoutError};
use crate::media::{decompress, types, Compression};
use crate::reference::Reference;
use crate::store::Store;

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

pub(super) fn save(
    store: &Store,
    images: &[SaveImage],
    out: impl Write,
) -> Result<(), LayoutError> {
    let mut tar = TarOut::new(out, "docker-archive");
    let mut written = HashSet::new();
    let mut manifest = Vec::new();
    for SaveImage { image, names } in images {
        let config = format!("{}.json", image.config_digest.hex());
        if written.insert(config.clone()) {
            let raw = super::stored::read_json(store, &image.config_digest, &config)?;
            tar.bytes(&config, &raw)?;
        }
        let mut layers = Vec::new();
        for layer in &image.layers {
            let path = format!("{}.tar", layer.diff_id.hex());
            if written.insert(path.clone()) {
                write_layer(store, &mut tar, layer, &path)?;
            }
            layers.push(path);
        }
        manifest.push(Entry {
            config,
            repo_tags: (!names.is_empty()).then(|| names.clone()),
            layers,
        });
    }
    let raw = serde_json::to_vec(&manifest).map_err(|source| LayoutError::Json {
        at: "docker-archive: manifest.json".to_owned(),
        source,
    })?;
    tar.bytes("manifest.json", &raw)?;
    tar.finish()
}

fn open(store: &Store, layer: &Layer, at: &str) -> Result<Box<dyn Read>, LayoutError> {
    let file = store
        .open_blob(&layer.digest)
        .map_err(|source| LayoutError::Store {
            at: at.to_owned(),
            source,
        })?;
    decompress(layer.compression, file).map_err(|source| LayoutError::Io {
        at: at.to_owned(),
        source,
    })
}

fn write_layer(
    store: &Store,
    tar: &mut TarOut<impl Write>,
    layer: &Layer,
    path: &str,
) -> Result<(), LayoutError> {
    let at = format!("docker-archive: layer {}", layer.digest);
    let io_err = |source| LayoutError::Io {
        at: at.clone(),
        source,
    };
    let mut hashing = HashingReader::new(open(store, layer, &at)?);
    io::copy(&mut hashing, &mut io::sink()).map_err(io_err)?;
    let (diff_id, size) = hashing.finish();
    if diff_id != layer.diff_id {
        return Err(LayoutError::Invalid {
            at,
            reason: format!(
                "uncompressed content is {diff_id}, the config's diff_id says {}",
                layer.diff_id
            ),
        });
    }
    tar.file(path, size, open(store, layer, &at)?)
}

/// Docker's normalisation of a `RepoTags` entry: `busybox` is
/// `docker.io/library/busybox:latest`, as arca names pulled images.
pub fn docker_name(tag: &str) -> Result<String, LayoutError> {
    let r = Reference::parse(tag).map_err(|e| LayoutError::Invalid {
        at: format!("RepoTags {tag:?}"),
        reason: e.to_string(),
    })?;
    Ok(format!(
        "{}/{}:{}",
        r.registry(),
        r.repository(),
        r.tag().unwrap_or("latest")
    ))
}

/// An image of the archive, checked and ready to ingest.
struct Prepared {
    config: Vec<u8>,
    config_digest: Digest,
    layers: Vec<(PathBuf, Layer)>,
    manifest: Vec<u8>,
    manifest_digest: Digest,
    names: Vec<String>,
}

pub(super) fn load(store: &Store, tmp: &TempDir, name: &str) -> Result<Vec<Loaded>, LayoutError> {
    let at = format!("{name}: manifest.json");
    let raw = read_small_file(&tmp.path().join("manifest.json"), &at)?;
    let entries: Vec<Entry> =
        serde_json::from_slice(&raw).map_err(|source| LayoutError::Json { at, source })?;
    let prepared = entries
        .iter()
        .enumerate()
        .map(|(i, e)| prepare(tmp.path(), name, i, e))
        .collect::<Result<Vec<_>, _>>()?;
    let mut loaded = Vec::new();
    for p in prepared {
        let ingest = |digest: &Digest, size: u64, r: &mut dyn Read| {
            store
                .ingest(digest, size, r)
                .map(drop)
                .map_err(|source| LayoutError::Store {
                    at: format!("{name}: blob {digest}"),
                    source,
                })
        };
        ingest(
            &p.config_digest,
            p.config.len() as u64,
            &mut Cursor::new(&p.config),
        )?;
        for (path, layer) in &p.layers {
            let mut file = File::open(path).map_err(|source| LayoutError::Io {
                at: format!("{name}: layer {}", layer.digest),
                source,
            })?;
            ingest(&layer.digest, layer.size, &mut file)?;
        }
        ingest(
            &p.manifest_digest,
            p.manifest.len() as u64,
            &mut Cursor::new(&p.manifest),
        )?;
        let at = format!("{name}: manifest {}", p.manifest_digest);
        let parsed = parse_manifest(&p.manifest, &at)?;
        let image = assemble(
            (p.manifest_digest, p.manifest.len() as u64, parsed.0),
            (p.config_digest, &p.config),
            &at,
            &format!("{name}: config"),
        )?;
        loaded.push(Loaded {
            image,
            names: p.names,
        });
    }
    Ok(loaded)
}

fn member(dir: &Path, name: &str, at: &str, path: &str) -> Result<PathBuf, LayoutError> {
    let at = format!("{at}: {path:?}");
    let dest =
        destination(&ANY_IMAGE, Path::new(path), &at)?.ok_or_else(|| LayoutError::Invalid {
            at: at.clone(),
            reason: format!("{name} cannot hold such a member"),
        })?;
    let full = dir.join(dest);
    if !full.is_file() {
        return Err(LayoutError::Invalid {
            at,
            reason: "not in the archive (or not a regular file there)".to_owned(),
        });
    }
    Ok(full)
}

fn prepare(dir: &Path, name: &str, i: usize, e: &Entry) -> Result<Prepared, LayoutError> {
    let at = format!("{name}: manifest.json[{i}]");
    let config_path = member(dir, name, &format!("{at}.Config"), &e.config)?;
    let config_at = format!("{at}.Config");
    let config = read_small_file(&config_path, &config_at)?;
    let config_digest = Digest::sha256_of(&config);
    let parsed: ImageConfiguration =
        serde_json::from_slice(&config).map_err(|source| LayoutError::Json {
            at: config_at.clone(),
            source,
        })?;
    let diff_ids = parsed.rootfs().diff_ids();
    if diff_ids.len() != e.layers.len() {
        return Err(LayoutError::DiffIdCount {
            at,
            layers: e.layers.len(),
            diff_ids: diff_ids.len(),
        });
    }
    let mut layers = Vec::new();
    for (j, (path, diff_id)) in e.layers.iter().zip(diff_ids).enumerate() {
        let layer_at = format!("{at}.Layers[{j}]");
        let diff_id = Digest::parse(diff_id).map_err(|source| LayoutError::Digest {
            at: format!("{config_at}: rootfs.diff_ids[{j}]"),
            source,
        })?;
        let file = member(dir, name, &layer_at, path)?;
        let layer = identify(&file, diff_id, &layer_at)?;
        layers.push((file, layer));
    }
    let manifest = oci_manifest(
        &config_digest,
        config.len() as u64,
        layers
            .iter()
            .map(|(_, l)| (l.media_type.as_str(), &l.digest, l.size)),
    );
    let manifest = serde_json::to_vec(&manifest).map_err(|source| LayoutError::Json {
        at: at.clone(),
        source,
    })?;
    let names = e
        .repo_tags
        .iter()
        .flatten()
        .map(|t| docker_name(t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Prepared {
        manifest_digest: Digest::sha256_of(&manifest),
        manifest,
        config,
        config_digest,
        layers,
        names,
    })
}

/// What a layer file is: the uncompressed tar Docker and Podman write (its digest is the
/// diff_id), or a gzip of it (some tools compress). Anything else does not belong to the
/// config and is refused.
fn identify(file: &Path, diff_id: Digest, at: &str) -> Result<Layer, LayoutError> {
    let io_err = |source| LayoutError::Io {
        at: at.to_owned(),
        source,
    };
    let mut hashing = HashingReader::new(File::open(file).map_err(io_err)?);
    let mut magic = [0u8; 2];
    let n = hashing.read(&mut magic).map_err(io_err)?;
    io::copy(&mut hashing, &mut io::sink()).map_err(io_err)?;
    let (digest, size) = hashing.finish();
    let (media_type, compression) = if digest == diff_id {
        (types::OCI_LAYER, Compression::None)
    } else if n == 2 && magic == [0x1f, 0x8b] {
        let reader =
            decompress(Compression::Gzip, File::open(file).map_err(io_err)?).map_err(io_err)?;
        let mut hashing = HashingReader::new(reader);
        io::copy(&mut hashing, &mut io::sink()).map_err(io_err)?;
        if hashing.finish().0 != diff_id {
            return Err(mismatch(at, &diff_id));
        }
        (types::OCI_LAYER_GZIP, Compression::Gzip)
    } else {
        return Err(mismatch(at, &diff_id));
    };
    Ok(Layer {
        digest,
        size,
        media_type: media_type.to_owned(),
        compression,
        diff_id,
    })
}

fn mismatch(at: &str, diff_id: &Digest) -> LayoutError {
    LayoutError::Invalid {
        at: at.to_owned(),
        reason: format!("the layer's content does not hash to the config's diff_id {diff_id}"),
    }
}
