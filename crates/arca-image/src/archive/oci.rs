//! `oci-archive`: a tar of an OCI image layout, as `podman save --format oci-archive` writes
//! it: `oci-layout`, `index.json` with one manifest descriptor per name, its
//! `org.opencontainers.image.ref.name` the full name (`docker.io/library/busybox:latest`, not
//! just the tag as skopeo's `oci-archive:FILE:TAG` writes), and `blobs/sha256/<hex>`, every
//! blob as the store holds it (layers stay compressed).

use std::collections::HashSet;
use std::io::Write;

use oci_spec::image::ANNOTATION_REF_NAME;
use serde_json::json;

use super::reader::TempDir;
use super::tar_out::TarOut;
use super::{Loaded, SaveImage};
use crate::digest::Digest;
use crate::layout::{Layout, LayoutError, PlatformSpec};
use crate::media::types;
use crate::reference::Reference;
use crate::store::Store;

pub(super) fn save(
    store: &Store,
    images: &[SaveImage],
    out: impl Write,
) -> Result<(), LayoutError> {
    let mut tar = TarOut::new(out, "oci-archive");
    let mut manifests = Vec::new();
    for SaveImage { image, names } in images {
        let media_type = image
            .manifest
            .media_type()
            .as_ref()
            .map_or(types::OCI_MANIFEST.to_owned(), |m| m.to_string());
        let descriptor = |name: Option<&String>| {
            let mut d = json!({
                "mediaType": media_type,
                "digest": image.manifest_digest.to_string(),
                "size": image.manifest_size,
            });
            if let Some(name) = name {
                d["annotations"] = json!({ ANNOTATION_REF_NAME: name });
            }
            d
        };
        if names.is_empty() {
            manifests.push(descriptor(None));
        }
        manifests.extend(names.iter().map(|n| descriptor(Some(n))));
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": types::OCI_INDEX,
        "manifests": manifests,
    });
    let at = |what: &str| format!("oci-archive: {what}");
    tar.bytes("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let raw = serde_json::to_vec(&index).map_err(|source| LayoutError::Json {
        at: at("index.json"),
        source,
    })?;
    tar.bytes("index.json", &raw)?;
    let mut written = HashSet::new();
    for SaveImage { image, .. } in images {
        let blobs = [&image.manifest_digest, &image.config_digest]
            .into_iter()
            .chain(image.layers.iter().map(|l| &l.digest));
        for digest in blobs {
            if written.insert(digest.clone()) {
                write_blob(store, &mut tar, digest)?;
            }
        }
    }
    tar.finish()
}

fn write_blob(
    store: &Store,
    tar: &mut TarOut<impl Write>,
    digest: &Digest,
) -> Result<(), LayoutError> {
    let at = format!("oci-archive: blob {digest}");
    let file = store
        .open_blob(digest)
        .map_err(|source| LayoutError::Store {
            at: at.clone(),
            source,
        })?;
    let size = file
        .metadata()
        .map_err(|source| LayoutError::Io { at, source })?
        .len();
    tar.file(&format!("blobs/sha256/{}", digest.hex()), size, file)
}

/// The name Podman gives an image loaded from an oci-archive whose ref is `reference`: a full
/// reference is kept (`docker.io/library/busybox` normalised with `:latest`), anything without a
/// registry goes under `localhost/`, and the ref is a *name*, not a tag: skopeo's
/// `oci-archive:FILE:v1` ref `v1` loads as `localhost/v1:latest` (Podman 4 does exactly that).
/// `None` when the ref is not a valid name (then the image stays unnamed, shown by id).
pub fn oci_ref_name(reference: &str) -> Option<String> {
    let first = reference.split('/').next().unwrap_or_default();
    let has_registry = reference.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_registry {
        reference.to_owned()
    } else {
        format!("localhost/{reference}")
    };
    let r = Reference::parse(&full).ok()?;
    if r.digest().is_some() && r.tag().is_none() {
        return None;
    }
    Some(format!(
        "{}/{}:{}",
        r.registry(),
        r.repository(),
        r.tag().unwrap_or("latest")
    ))
}

pub(super) fn load(
    store: &Store,
    tmp: TempDir,
    name: &str,
    platform: &PlatformSpec,
) -> Result<Vec<Loaded>, LayoutError> {
    let layout = Layout::open_extracted(tmp, format!("oci-archive:{name}"))?;
    let mut refs = layout.refs();
    let mut seen = HashSet::new();
    refs.retain(|r| seen.insert(r.clone()));
    let mut loaded: Vec<Loaded> = Vec::new();
    if refs.is_empty() {
        // One unnamed manifest (or index) is the image; several without refs are ambiguous.
        let image = layout.image(None, platform)?;
        loaded.push(Loaded {
            image,
            names: Vec::new(),
        });
    }
    for r in &refs {
        let image = layout.image(Some(r), platform)?;
        let name = oci_ref_name(r);
        if name.is_none() {
            tracing::warn!(
                "{}: ref {r:?} is not an image name; left unnamed",
                layout.name()
            );
        }
        match loaded
            .iter_mut()
            .find(|l| l.image.manifest_digest == image.manifest_digest)
        {
            Some(l) => l.names.extend(name),
            None => loaded.push(Loaded {
                image,
                names: name.into_iter().collect(),
            }),
        }
    }
    // Everything resolved and verified (manifests, configs); only now is anything stored.
    for l in &loaded {
        layout.import_into(store, &l.image)?;
    }
    Ok(loaded)
}
