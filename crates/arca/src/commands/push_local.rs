//! `arca push IMAGE dir:DIR|oci:DIR[:REF]|oci-archive:FILE[:REF]|docker-archive:FILE[:REF]`:
//! Podman's local destinations. The blobs are copied as the store holds them, so the manifest digest is the
//! one pulled; like a registry push, nothing is recorded locally.

use std::path::Path;

use anyhow::{Context, Result};
use arca_image::archive::{self, docker_name, Format, SaveImage};
use arca_image::catalog::ImageRecord;
use arca_image::dir;
use arca_image::gc::GcLock;
use arca_image::layout::write_layout;

use super::ImageState;

/// `Ok(None)` when `dest` names no local transport (it is then a registry reference).
/// `found_by` is the name the image was given by, which a docker-archive without a reference
/// is saved under, as Podman does.
pub(super) fn push(
    state: &ImageState,
    record: &ImageRecord,
    found_by: Option<&str>,
    dest: &str,
    quiet: bool,
) -> Result<Option<i32>> {
    let Some((transport, rest)) = dest.split_once(':') else {
        return Ok(None);
    };
    if !matches!(transport, "dir" | "oci" | "oci-archive" | "docker-archive") {
        return Ok(None);
    }
    // Shared, as for a pull: a concurrent `rmi`/`prune` must not delete blobs being copied.
    let _lock = GcLock::shared(state.store.root())?;
    let image = archive::stored_image(&state.store, &record.manifest_digest)?;
    let (digest, size) = (image.manifest_digest.clone(), image.manifest_size);
    let (path, reference) = match rest.split_once(':') {
        Some((p, r)) if transport != "dir" => (p, Some(r).filter(|r| !r.is_empty())),
        _ => (rest, None),
    };
    anyhow::ensure!(!path.is_empty(), "push: {dest:?}: empty path");
    let path = Path::new(path);
    let mut report = |digest: &arca_image::digest::Digest| {
        if !quiet {
            println!("copying blob {digest}");
        }
    };
    match transport {
        "dir" => dir::write(&state.store, &image, path, &mut report)?,
        "oci" => write_layout(&state.store, &image, path, reference, &mut report)?,
        _ => {
            let (format, names) = if transport == "oci-archive" {
                (Format::OciArchive, reference.map(str::to_owned))
            } else {
                let name = match reference {
                    Some(r) => Some(docker_name(r).with_context(|| format!("push: {dest:?}"))?),
                    None => found_by.map(str::to_owned),
                };
                (Format::DockerArchive, name)
            };
            let images = [SaveImage {
                image,
                names: names.into_iter().collect(),
            }];
            super::save::to_file(state, &images, format, path)
                .with_context(|| format!("push: {dest}"))?;
        }
    }
    println!("{dest}: digest: {digest} size: {size}");
    Ok(Some(0))
}
