//! `save` and `load`: images in the store to and from the two archive formats other engines
//! exchange, `docker-archive` (Docker's `docker save`, Podman's default) and `oci-archive` (a
//! tar of an OCI layout, `podman save --format oci-archive`).
//!
//! Writing streams one tar straight to its destination (a file, a pipe): blobs are read from
//! the store as they are written, never staged. Reading treats the archive as hostile: it is
//! first extracted by [`reader`] (the code `pull oci-archive:` uses too), which refuses
//! `..`/absolute names and links and only creates files at names it rebuilt itself; then every
//! blob is hashed, checked against what the manifest or config says, and only after the whole
//! archive checked out is anything ingested (where the store verifies each digest again).
//! Errors are [`LayoutError`](crate::layout::LayoutError)s: an archive is a layout's sibling
//! and its faults are located the same way (`file: member: field`).

mod docker;
pub(crate) mod names;
mod oci;
pub(crate) mod reader;
mod stored;
mod tar_out;

pub use docker::docker_name;
pub use oci::oci_ref_name;
pub use stored::stored_image;

use std::io::{Read, Write};

use crate::layout::{Image, LayoutError, PlatformSpec};
use crate::store::Store;

/// The two archive formats, named as Docker and Podman's `--format` name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    DockerArchive,
    OciArchive,
}

/// One image to save and the names it is saved under (`RepoTags`, or one
/// `org.opencontainers.image.ref.name` each); no names saves it untagged.
#[derive(Clone, Debug)]
pub struct SaveImage {
    pub image: Image,
    pub names: Vec<String>,
}

/// Writes `images` from `store` to `out` as one archive in `format`.
pub fn save(
    store: &Store,
    images: &[SaveImage],
    format: Format,
    out: impl Write,
) -> Result<(), LayoutError> {
    match format {
        Format::DockerArchive => docker::save(store, images, out),
        Format::OciArchive => oci::save(store, images, out),
    }
}

/// One image imported by [`load`], with the names the archive gives it (already normalised to
/// full references: `docker.io/library/busybox:latest`, `localhost/app:v1`).
#[derive(Clone, Debug)]
pub struct Loaded {
    pub image: Image,
    pub names: Vec<String>,
}

/// Reads an archive of either format from `archive` (shown as `name` in errors) and imports
/// every image in it into `store`; the caller names them in the catalog. An archive carrying
/// Docker's `manifest.json` is read as a `docker-archive` (as `docker load` does, Docker 25's
/// OCI-layout-plus-manifest.json included), otherwise one with `oci-layout` as an
/// `oci-archive`, choosing `platform` from multi-platform indexes. Nothing is ingested unless
/// the whole archive was read and checked.
pub fn load(
    store: &Store,
    archive: impl Read,
    name: &str,
    platform: &PlatformSpec,
) -> Result<Vec<Loaded>, LayoutError> {
    let tmp = reader::extract(archive, name, &names::ANY_IMAGE)?;
    if tmp.path().join("manifest.json").is_file() {
        docker::load(store, &tmp, name)
    } else if tmp.path().join("oci-layout").is_file() {
        oci::load(store, tmp, name, platform)
    } else {
        Err(LayoutError::Invalid {
            at: name.to_owned(),
            reason: "neither a docker-archive (no manifest.json) nor an oci-archive \
                     (no oci-layout)"
                .to_owned(),
        })
    }
}
