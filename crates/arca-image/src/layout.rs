//! OCI image layouts on disk, read the way Podman and skopeo read `oci:DIR[:REF]` and
//! `oci-archive:FILE[:REF]` (and written for `push oci:DIR[:REF]`, see [`write_layout`]).
//!
//! A layout is input we did not write: every blob read from it is checked against the digest
//! *and* size of the descriptor that led to it, and JSON documents are read only up to
//! [`MAX_JSON_SIZE`], so a lying descriptor can make us neither accept other content nor read
//! without bound. Layers are not read here; [`Layout::open_layer`] hands out a reader that
//! verifies as it streams.

mod error;
mod image;
mod import;
mod platform;
mod select;
mod transport;
mod write;

pub use error::LayoutError;
pub use image::{Image, Layer};
pub use platform::PlatformSpec;
pub use transport::ImageReference;
pub use write::write_layout;

// Shared with the registry client: one definition of "an image" and of platform choice.
pub(crate) use image::{assemble, oci_manifest, parse_manifest};
pub(crate) use platform::choose as choose_platform;
pub(crate) use write::copy_store_blob;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::{ImageIndex, ANNOTATION_REF_NAME};

use crate::archive::names;
use crate::archive::reader::{self, TempDir};
use crate::digest::{verify, Digest, HashingReader, VerifyingReader};

/// Manifests, indexes and configs are a few KiB; 4 MiB is containerd's limit for the same
/// documents and bounds what a hostile descriptor can make us buffer.
pub const MAX_JSON_SIZE: u64 = 4 << 20;

const LAYOUT_VERSION: &str = "1.0.0";

/// An opened layout: `oci-layout` checked and `index.json` parsed. For an `oci-archive` the
/// extracted copy lives as long as this value.
#[derive(Debug)]
pub struct Layout {
    dir: PathBuf,
    /// `oci:DIR` or `oci-archive:FILE`, the prefix of every error message.
    name: String,
    index: ImageIndex,
    _extracted: Option<TempDir>,
}

impl Layout {
    pub fn open(dir: impl AsRef<Path>) -> Result<Layout, LayoutError> {
        let dir = dir.as_ref();
        Layout::open_named(dir.to_path_buf(), format!("oci:{}", dir.display()), None)
    }

    /// Extracts the archive's layout files (and nothing else) into a private temporary
    /// directory, removed when the `Layout` is dropped.
    pub fn open_archive(file: impl AsRef<Path>) -> Result<Layout, LayoutError> {
        let file = file.as_ref();
        let name = format!("oci-archive:{}", file.display());
        let archive = File::open(file).map_err(|source| LayoutError::Io {
            at: name.clone(),
            source,
        })?;
        let tmp = reader::extract(archive, &name, &names::OCI_LAYOUT)?;
        Layout::open_extracted(tmp, name)
    }

    /// A layout already extracted by the shared archive reader (which owns `tmp`).
    pub(crate) fn open_extracted(tmp: TempDir, name: String) -> Result<Layout, LayoutError> {
        Layout::open_named(tmp.path().to_path_buf(), name, Some(tmp))
    }

    pub(crate) fn open_named(
        dir: PathBuf,
        name: String,
        extracted: Option<TempDir>,
    ) -> Result<Layout, LayoutError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct OciLayout {
            image_layout_version: String,
        }
        let at = format!("{name}: oci-layout");
        let raw = read_small_file(&dir.join("oci-layout"), &at)?;
        let header: OciLayout =
            serde_json::from_slice(&raw).map_err(|source| LayoutError::Json {
                at: at.clone(),
                source,
            })?;
        if header.image_layout_version != LAYOUT_VERSION {
            return Err(LayoutError::Version {
                at,
                found: header.image_layout_version,
            });
        }
        let at = format!("{name}: index.json");
        let raw = read_small_file(&dir.join("index.json"), &at)?;
        let index: ImageIndex =
            serde_json::from_slice(&raw).map_err(|source| LayoutError::Json { at, source })?;
        Ok(Layout {
            dir,
            name,
            index,
            _extracted: extracted,
        })
    }

    /// The directory holding `oci-layout` (for an archive, the temporary extraction).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn index(&self) -> &ImageIndex {
        &self.index
    }

    /// The `org.opencontainers.image.ref.name` of every top-level descriptor, in order.
    pub fn refs(&self) -> Vec<String> {
        self.index
            .manifests()
            .iter()
            .filter_map(|d| d.annotations().as_ref()?.get(ANNOTATION_REF_NAME).cloned())
            .collect()
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(digest.hex())
    }

    /// The raw (still compressed) layer, verified while it streams: the read that reaches the
    /// end fails unless size and digest match.
    pub fn open_layer(&self, layer: &Layer) -> Result<VerifyingReader<File>, LayoutError> {
        let file = self.open_blob_file(&layer.digest, &self.name)?;
        Ok(VerifyingReader::new(file, layer.digest.clone(), layer.size))
    }

    fn open_blob_file(&self, digest: &Digest, at: &str) -> Result<File, LayoutError> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|source| LayoutError::Io {
            at: format!("{at}: blob {digest}"),
            source,
        })
    }

    /// Reads a JSON blob fully, checked against its descriptor; `at` names that descriptor.
    fn read_json_blob(&self, digest: &Digest, size: u64, at: &str) -> Result<Vec<u8>, LayoutError> {
        read_verified_json(digest, size, at, || self.open_blob_file(digest, at))
    }
}

/// A JSON document read whole from the file `open` opens (not opened when the descriptor's
/// size is over [`MAX_JSON_SIZE`]), checked against that descriptor's `digest` and `size`;
/// `at` names the descriptor. Shared with `dir:` sources.
pub(crate) fn read_verified_json(
    digest: &Digest,
    size: u64,
    at: &str,
    open: impl FnOnce() -> Result<File, LayoutError>,
) -> Result<Vec<u8>, LayoutError> {
    if size > MAX_JSON_SIZE {
        return Err(LayoutError::TooLarge {
            at: format!("{at}.size"),
            size,
            limit: MAX_JSON_SIZE,
        });
    }
    let mut reader = HashingReader::new(open()?.take(size + 1));
    let mut buf = Vec::new();
    reader
        .read_to_end(&mut buf)
        .map_err(|source| LayoutError::Io {
            at: format!("{at}: blob {digest}"),
            source,
        })?;
    verify(digest, Some(size), reader.finish()).map_err(|source| LayoutError::Digest {
        at: format!("{at}: blob {digest}"),
        source,
    })?;
    Ok(buf)
}

/// `oci-layout` and `index.json` carry no descriptor, so only the size cap protects us.
pub(crate) fn read_small_file(path: &Path, at: &str) -> Result<Vec<u8>, LayoutError> {
    let io_err = |source| LayoutError::Io {
        at: at.to_owned(),
        source,
    };
    let mut buf = Vec::new();
    File::open(path)
        .map_err(io_err)?
        .take(MAX_JSON_SIZE + 1)
        .read_to_end(&mut buf)
        .map_err(io_err)?;
    if buf.len() as u64 > MAX_JSON_SIZE {
        return Err(LayoutError::TooLarge {
            at: at.to_owned(),
            size: buf.len() as u64,
            limit: MAX_JSON_SIZE,
        });
    }
    Ok(buf)
}
