//! A resolved image: its manifest and config, parsed and verified, and its layers described.

use oci_spec::image::{ImageConfiguration, ImageManifest};

use super::platform::PlatformSpec;
use super::{Layout, LayoutError};
use crate::digest::Digest;
use crate::media::{types, Compression};

/// One layer as the unpacker needs it: `digest`/`size` check the compressed blob,
/// `diff_id` checks the uncompressed tar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
    pub compression: Compression,
    pub diff_id: Digest,
}

#[derive(Clone, Debug)]
pub struct Image {
    pub manifest_digest: Digest,
    pub manifest_size: u64,
    pub manifest: ImageManifest,
    pub config_digest: Digest,
    pub config_size: u64,
    pub config: ImageConfiguration,
    /// Base layer first.
    pub layers: Vec<Layer>,
}

impl Layout {
    /// Resolves `reference` (the `org.opencontainers.image.ref.name` annotation; `None`: the
    /// layout's only manifest) to one image for `platform`, as `oci:DIR[:REF]` does.
    pub fn image(
        &self,
        reference: Option<&str>,
        platform: &PlatformSpec,
    ) -> Result<Image, LayoutError> {
        let prefix = match reference {
            Some(r) => format!("{}:{r}", self.name),
            None => self.name.clone(),
        };
        let chosen = self.select(&prefix, reference, platform)?;
        let manifest_digest = chosen.digest;
        let manifest_size = chosen.descriptor.size();
        let raw = self.read_json_blob(&manifest_digest, manifest_size, &chosen.at)?;
        let at = format!("{prefix}: manifest {manifest_digest}");
        let (manifest, config_digest) = parse_manifest(&raw, &at)?;
        let config_size = manifest.config().size();
        let raw = self.read_json_blob(&config_digest, config_size, &format!("{at}: config"))?;
        let config_at = format!("{prefix}: config {config_digest}");
        assemble(
            (manifest_digest, manifest_size, manifest),
            (config_digest, &raw),
            &at,
            &config_at,
        )
    }
}

/// Parses a single-platform image manifest (already verified against its digest) and checks
/// what every source of images must refuse alike: another schema, a config that is not an
/// image config (an artifact), a malformed config digest. Shared with the registry client so
/// an image means the same thing wherever it came from. Returns the config's digest.
pub(crate) fn parse_manifest(raw: &[u8], at: &str) -> Result<(ImageManifest, Digest), LayoutError> {
    let manifest: ImageManifest =
        serde_json::from_slice(raw).map_err(|source| LayoutError::Json {
            at: at.to_owned(),
            source,
        })?;
    if manifest.schema_version() != 2 {
        return Err(LayoutError::Invalid {
            at: format!("{at}: schemaVersion"),
            reason: format!("{} is not supported (want 2)", manifest.schema_version()),
        });
    }
    let config_desc = manifest.config();
    let config_media = config_desc.media_type().to_string();
    if !types::is_config(&config_media) {
        return Err(LayoutError::MediaType {
            at: format!("{at}: config.mediaType"),
            media_type: config_media,
            want: "an OCI or Docker image config (this manifest is not a container image)",
        });
    }
    let config_digest =
        Digest::try_from(config_desc.digest()).map_err(|source| LayoutError::Digest {
            at: format!("{at}: config.digest"),
            source,
        })?;
    Ok((manifest, config_digest))
}

/// An OCI image manifest for a config of `config_size` bytes and `layers` (media type,
/// digest, size), as the sources that make one up write it (an import, a docker-archive).
pub(crate) fn oci_manifest<'a>(
    config_digest: &Digest,
    config_size: u64,
    layers: impl IntoIterator<Item = (&'a str, &'a Digest, u64)>,
) -> serde_json::Value {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": types::OCI_MANIFEST,
        "config": {
            "mediaType": types::OCI_CONFIG,
            "digest": config_digest.to_string(),
            "size": config_size,
        },
        "layers": layers.into_iter().map(|(media_type, digest, size)| serde_json::json!({
            "mediaType": media_type,
            "digest": digest.to_string(),
            "size": size,
        })).collect::<Vec<_>>(),
    })
}

/// The [`Image`] from a parsed manifest and its config's bytes (verified against the
/// manifest's config descriptor by the caller): layers paired with the config's diff_ids.
pub(crate) fn assemble(
    (manifest_digest, manifest_size, manifest): (Digest, u64, ImageManifest),
    (config_digest, config_raw): (Digest, &[u8]),
    at: &str,
    config_at: &str,
) -> Result<Image, LayoutError> {
    let config_size = manifest.config().size();
    let config: ImageConfiguration =
        serde_json::from_slice(config_raw).map_err(|source| LayoutError::Json {
            at: config_at.to_owned(),
            source,
        })?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err(LayoutError::DiffIdCount {
            at: at.to_owned(),
            layers: manifest.layers().len(),
            diff_ids: diff_ids.len(),
        });
    }
    let mut layers = Vec::with_capacity(diff_ids.len());
    for (i, (desc, diff_id)) in manifest.layers().iter().zip(diff_ids).enumerate() {
        let digest = Digest::try_from(desc.digest()).map_err(|source| LayoutError::Digest {
            at: format!("{at}: layers[{i}].digest"),
            source,
        })?;
        let media_type = desc.media_type().to_string();
        let compression =
            Compression::from_media_type(&media_type).map_err(|source| LayoutError::Media {
                at: format!("{at}: layers[{i}].mediaType"),
                source,
            })?;
        let diff_id = Digest::parse(diff_id).map_err(|source| LayoutError::Digest {
            at: format!("{config_at}: rootfs.diff_ids[{i}]"),
            source,
        })?;
        layers.push(Layer {
            digest,
            size: desc.size(),
            media_type,
            compression,
            diff_id,
        });
    }
    Ok(Image {
        manifest_digest,
        manifest_size,
        manifest,
        config_digest,
        config_size,
        config,
        layers,
    })
}
