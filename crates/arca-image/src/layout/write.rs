//! Writing an image into an OCI layout directory (`push IMAGE oci:DIR[:REF]`), as
//! containers/image does: the layout is created if missing, otherwise added to: blobs it lacks
//! are copied, and the image's descriptor joins `index.json`, replacing any other with the same
//! ref name. Every file appears by rename once complete, so a failed push leaves the layout as
//! it was, give or take unreferenced blobs.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use arca_sys::fs::Replace;
use oci_spec::image::ANNOTATION_REF_NAME;
use serde_json::{json, Value};

use super::{read_small_file, Layout, LayoutError, LAYOUT_VERSION};
use crate::digest::Digest;
use crate::layout::Image;
use crate::media::types;
use crate::store::Store;

/// Adds `image` (all of whose blobs are in `store`) to the layout at `dir` under `reference`
/// (none: an unnamed descriptor). `on_blob` hears of each blob copied.
pub fn write_layout(
    store: &Store,
    image: &Image,
    dir: &Path,
    reference: Option<&str>,
    on_blob: &mut dyn FnMut(&Digest),
) -> Result<(), LayoutError> {
    let name = format!("oci:{}", dir.display());
    let io_err = |what: String| move |source| LayoutError::Io { at: what, source };
    let empty = match fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(source) => return Err(LayoutError::Io { at: name, source }),
    };
    let mut manifests: Vec<Value> = if empty {
        Vec::new()
    } else {
        if !dir.join("oci-layout").is_file() {
            return Err(LayoutError::Invalid {
                at: name,
                reason: "is not empty and not an OCI layout (no oci-layout file); \
                         refusing to add to it"
                    .to_owned(),
            });
        }
        // Checks oci-layout's version too: never add to a layout of another version.
        Layout::open_named(dir.to_path_buf(), name.clone(), None)?;
        let at = format!("{name}: index.json");
        let raw = read_small_file(&dir.join("index.json"), &at)?;
        let index: Value =
            serde_json::from_slice(&raw).map_err(|source| LayoutError::Json { at, source })?;
        index["manifests"].as_array().cloned().unwrap_or_default()
    };
    let blobs_dir = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs_dir).map_err(io_err(format!("{name}: blobs/sha256")))?;
    let blobs = std::iter::once(&image.config_digest)
        .chain(image.layers.iter().map(|l| &l.digest))
        .chain([&image.manifest_digest]);
    for digest in blobs {
        let to = blobs_dir.join(digest.hex());
        if to.is_file() {
            continue;
        }
        on_blob(digest);
        copy_store_blob(store, digest, &name, |from| {
            replace(&blobs_dir, digest.hex(), |out| {
                io::copy(from, out).map(drop)
            })
        })?;
    }
    let media_type = image
        .manifest
        .media_type()
        .as_ref()
        .map_or(types::OCI_MANIFEST.to_owned(), |m| m.to_string());
    let mut descriptor = json!({
        "mediaType": media_type,
        "digest": image.manifest_digest.to_string(),
        "size": image.manifest_size,
    });
    match reference {
        Some(r) => {
            manifests.retain(|d| d["annotations"][ANNOTATION_REF_NAME] != r);
            descriptor["annotations"] = json!({ ANNOTATION_REF_NAME: r });
        }
        None => manifests.retain(|d| d != &descriptor),
    }
    manifests.push(descriptor);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": types::OCI_INDEX,
        "manifests": manifests,
    });
    let raw = serde_json::to_vec(&index).map_err(|source| LayoutError::Json {
        at: format!("{name}: index.json"),
        source,
    })?;
    let layout = json!({ "imageLayoutVersion": LAYOUT_VERSION }).to_string();
    replace(dir, "oci-layout", |out| out.write_all(layout.as_bytes()))
        .map_err(io_err(format!("{name}: oci-layout")))?;
    replace(dir, "index.json", |out| out.write_all(&raw))
        .map_err(io_err(format!("{name}: index.json")))?;
    Ok(())
}

/// Opens the blob `digest` in `store` and hands it to `copy`, which writes it to the
/// destination `name` (`oci:DIR`, `dir:DIR`); errors name the blob.
pub(crate) fn copy_store_blob(
    store: &Store,
    digest: &Digest,
    name: &str,
    copy: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), LayoutError> {
    let at = format!("{name}: blob {digest}");
    let mut from = store
        .open_blob(digest)
        .map_err(|source| LayoutError::Store {
            at: at.clone(),
            source,
        })?;
    copy(&mut from).map_err(|source| LayoutError::Io { at, source })
}

/// Writes `dir/file` whole and synced (a reader of the layout sees the old file or the new).
fn replace(
    dir: &Path,
    file: &str,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    Replace::new().durable().write_with(&dir.join(file), fill)
}
