//! Reading `dir:DIR`: manifest (or list, then the platform's instance), config, layers.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex};

use super::{invalid, version_supported};
use crate::digest::Digest;
use crate::layout::{
    assemble, choose_platform, parse_manifest, read_small_file, read_verified_json, Image,
    LayoutError, PlatformSpec,
};
use crate::media::types;
use crate::store::Store;

/// An opened `dir:DIR`: its `version` checked and `manifest.json` read (and hashed: nothing
/// describes it, so its digest is what its bytes hash to, as for a registry's manifest by tag).
#[derive(Debug)]
pub struct DirSource {
    dir: PathBuf,
    /// `dir:DIR`, the prefix of every error message.
    name: String,
    top: Vec<u8>,
    top_digest: Digest,
}

impl DirSource {
    pub fn open(dir: impl AsRef<Path>) -> Result<DirSource, LayoutError> {
        let dir = dir.as_ref().to_path_buf();
        let name = format!("dir:{}", dir.display());
        // containers/image reads a directory without looking at `version`; a missing one is
        // therefore accepted, a foreign one is not (it would be another format).
        let at = format!("{name}: version");
        match read_small_file(&dir.join("version"), &at) {
            Ok(raw) => {
                let text = String::from_utf8_lossy(&raw);
                if !version_supported(&text) {
                    return Err(invalid(
                        at,
                        format!(
                            "{:?} is not a supported version (want 1.1)",
                            text.trim_end()
                        ),
                    ));
                }
            }
            Err(LayoutError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let top = read_small_file(
            &dir.join("manifest.json"),
            &format!("{name}: manifest.json"),
        )?;
        let top_digest = Digest::sha256_of(&top);
        Ok(DirSource {
            dir,
            name,
            top,
            top_digest,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The image `manifest.json` describes; from a manifest list, the instance `platform`
    /// chooses (as `--platform` chooses from an index anywhere else).
    pub fn image(&self, platform: &PlatformSpec) -> Result<Image, LayoutError> {
        let top_at = format!("{}: manifest.json", self.name);
        let media_type = guess_media_type(&self.top, &top_at)?;
        let (digest, raw, at) = if types::is_index(&media_type) {
            let index: ImageIndex =
                serde_json::from_slice(&self.top).map_err(|source| LayoutError::Json {
                    at: top_at.clone(),
                    source,
                })?;
            let entries: Vec<(usize, &Descriptor)> = index.manifests().iter().enumerate().collect();
            let (i, chosen) = choose_platform(&entries, platform).map_err(|available| {
                LayoutError::NoPlatform {
                    at: top_at.clone(),
                    wanted: platform.to_string(),
                    available,
                }
            })?;
            let at = format!("{top_at}: manifests[{i}]");
            let chosen_type = chosen.media_type().to_string();
            // The transport stores one level of list: an instance is always a manifest.
            if !types::is_manifest(&chosen_type) {
                return Err(LayoutError::MediaType {
                    at: format!("{at}.mediaType"),
                    media_type: chosen_type,
                    want: "an image manifest",
                });
            }
            let digest =
                Digest::try_from(chosen.digest()).map_err(|source| LayoutError::Digest {
                    at: format!("{at}.digest"),
                    source,
                })?;
            let path = self.manifest_path(&digest);
            let raw = self.read_verified(&path, &digest, chosen.size(), &at)?;
            let at = format!("{}: {}.manifest.json", self.name, digest.hex());
            (digest, raw, at)
        } else if types::is_manifest(&media_type) {
            (self.top_digest.clone(), self.top.clone(), top_at)
        } else {
            return Err(LayoutError::MediaType {
                at: format!("{top_at}: mediaType"),
                media_type,
                want: "an image manifest or manifest list",
            });
        };
        let (manifest, config_digest) = parse_manifest(&raw, &at)?;
        let config_raw = self.read_verified(
            &self.blob_path(&config_digest),
            &config_digest,
            manifest.config().size(),
            &format!("{at}: config"),
        )?;
        let config_at = format!("{}: config {config_digest}", self.name);
        assemble(
            (digest, raw.len() as u64, manifest),
            (config_digest, &config_raw),
            &at,
            &config_at,
        )
    }

    /// Copies the image's manifest, config and layers into `store`, each verified by the
    /// store's ingest against the digest and size the (verified) manifest gives. Blobs the
    /// store holds already are not read.
    pub fn import_into(&self, store: &Store, image: &Image) -> Result<(), LayoutError> {
        let manifest: Box<dyn Read> = if image.manifest_digest == self.top_digest {
            Box::new(self.top.as_slice())
        } else {
            let path = self.manifest_path(&image.manifest_digest);
            Box::new(self.open_file(&path, &image.manifest_digest)?)
        };
        self.ingest(store, &image.manifest_digest, image.manifest_size, manifest)?;
        let blobs = std::iter::once((&image.config_digest, image.config_size))
            .chain(image.layers.iter().map(|l| (&l.digest, l.size)));
        for (digest, size) in blobs {
            if store.has(digest) {
                continue;
            }
            let file = self.open_file(&self.blob_path(digest), digest)?;
            self.ingest(store, digest, size, file)?;
        }
        Ok(())
    }

    fn ingest(
        &self,
        store: &Store,
        digest: &Digest,
        size: u64,
        reader: impl Read,
    ) -> Result<(), LayoutError> {
        store
            .ingest(digest, size, reader)
            .map_err(|source| LayoutError::Store {
                at: format!("{}: blob {digest}", self.name),
                source,
            })?;
        Ok(())
    }

    /// Built from the validated hex digits only, so it names a file directly inside DIR.
    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    fn manifest_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!("{}.manifest.json", digest.hex()))
    }

    fn open_file(&self, path: &Path, digest: &Digest) -> Result<File, LayoutError> {
        File::open(path).map_err(|source| LayoutError::Io {
            at: format!("{}: blob {digest}", self.name),
            source,
        })
    }

    /// A JSON document read whole, checked against the descriptor (`at`) that named it.
    fn read_verified(
        &self,
        path: &Path,
        digest: &Digest,
        size: u64,
        at: &str,
    ) -> Result<Vec<u8>, LayoutError> {
        read_verified_json(digest, size, at, || self.open_file(path, digest))
    }
}

/// The document's `mediaType`, or, since OCI manifests and indexes may omit it (skopeo keeps
/// umoci's manifests byte for byte, without one), what its shape says, as containers/image's
/// `GuessMIMEType` does.
fn guess_media_type(raw: &[u8], at: &str) -> Result<String, LayoutError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Shape {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    let shape: Shape = serde_json::from_slice(raw).map_err(|source| LayoutError::Json {
        at: at.to_owned(),
        source,
    })?;
    match shape {
        Shape {
            media_type: Some(m),
            ..
        } => Ok(m),
        Shape {
            manifests: Some(_), ..
        } => Ok(types::OCI_INDEX.to_owned()),
        Shape {
            config: Some(_), ..
        } => Ok(types::OCI_MANIFEST.to_owned()),
        _ => Err(invalid(
            at,
            "neither an image manifest nor a manifest list (no mediaType, config or manifests)",
        )),
    }
}
