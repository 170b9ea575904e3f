//! From a reference to one image manifest: fetch what the tag or digest names, verify it,
//! and walk indexes down to the manifest for the wanted platform.

use oci_spec::image::ImageIndex;

use super::remote::Remote;
use super::PullError;
use crate::digest::Digest;
use crate::layout::{choose_platform, PlatformSpec, MAX_JSON_SIZE};
use crate::media::types;

/// As for layouts: an index may point at an index; the bound stops a cycle.
const MAX_DEPTH: usize = 8;

/// The chosen manifest's digest and exact bytes (those the digest was checked against).
pub(super) struct Resolved {
    pub digest: Digest,
    pub raw: bytes::Bytes,
}

/// What a manifest document says it is. `mediaType` is optional in OCI documents; then the
/// fields present decide, as containerd does.
fn kind(raw: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(raw).ok()?;
    match probe {
        Probe {
            media_type: Some(t),
            ..
        } => Some(t),
        Probe {
            manifests: Some(_), ..
        } => Some(types::OCI_INDEX.to_owned()),
        Probe {
            config: Some(_), ..
        } => Some(types::OCI_MANIFEST.to_owned()),
        _ => None,
    }
}

pub(super) async fn resolve(
    remote: &Remote<'_>,
    platform: &PlatformSpec,
) -> Result<Resolved, PullError> {
    let reference = remote.reference;
    // `None`: what the reference names (its digest if it has one, else its tag).
    let mut target: Option<(Digest, u64)> = None;
    for _ in 0..MAX_DEPTH {
        let (raw, stated) = remote.manifest(target.as_ref().map(|(d, _)| d)).await?;
        let what = match &target {
            Some((d, _)) => format!("manifest {d}"),
            None => format!("manifest of {reference}"),
        };
        if raw.len() as u64 > MAX_JSON_SIZE {
            return Err(PullError::TooLarge {
                reference: Box::new(reference.clone()),
                what,
                size: raw.len() as u64,
                limit: MAX_JSON_SIZE,
            });
        }
        let actual = Digest::sha256_of(&raw);
        // By digest (the reference's or an index entry's): exactly that. By tag: what the
        // registry stated, which must be the digest of these very bytes.
        let expected = match (&target, reference.digest()) {
            (Some((d, _)), _) | (None, Some(d)) => d.to_string(),
            (None, None) => stated,
        };
        if expected != actual.to_string() {
            return Err(PullError::DigestMismatch {
                reference: Box::new(reference.clone()),
                expected,
                actual: actual.to_string(),
            });
        }
        if let Some((digest, size)) = &target {
            if *size != raw.len() as u64 {
                return Err(PullError::SizeMismatch {
                    reference: Box::new(reference.clone()),
                    digest: digest.clone(),
                    expected: *size,
                    actual: raw.len() as u64,
                });
            }
        }

        let media_type = kind(&raw).unwrap_or_default();
        if types::is_manifest(&media_type) {
            return Ok(Resolved {
                digest: actual,
                raw,
            });
        }
        if !types::is_index(&media_type) {
            return Err(PullError::MediaType {
                reference: Box::new(reference.clone()),
                what: format!("{what} ({actual})"),
                media_type,
            });
        }
        let at = format!("index {actual}");
        let index: ImageIndex =
            serde_json::from_slice(&raw).map_err(|source| PullError::Document {
                reference: Box::new(reference.clone()),
                source: crate::layout::LayoutError::Json {
                    at: at.clone(),
                    source,
                },
            })?;
        let entries: Vec<_> = index.manifests().iter().enumerate().collect();
        let (i, chosen) =
            choose_platform(&entries, platform).map_err(|available| PullError::NoPlatform {
                reference: Box::new(reference.clone()),
                index: actual.clone(),
                wanted: platform.to_string(),
                available,
            })?;
        let digest = Digest::try_from(chosen.digest()).map_err(|source| PullError::Document {
            reference: Box::new(reference.clone()),
            source: crate::layout::LayoutError::Digest {
                at: format!("{at}: manifests[{i}].digest"),
                source,
            },
        })?;
        if chosen.size() > MAX_JSON_SIZE {
            return Err(PullError::TooLarge {
                reference: Box::new(reference.clone()),
                what: format!("{at}: manifests[{i}]"),
                size: chosen.size(),
                limit: MAX_JSON_SIZE,
            });
        }
        target = Some((digest, chosen.size()));
    }
    Err(PullError::TooDeep {
        reference: Box::new(reference.clone()),
        depth: MAX_DEPTH,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_from_media_type_or_fields() {
        assert_eq!(
            kind(br#"{"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#)
                .as_deref(),
            Some(types::DOCKER_MANIFEST)
        );
        assert_eq!(
            kind(br#"{"schemaVersion":2,"manifests":[]}"#).as_deref(),
            Some(types::OCI_INDEX)
        );
        assert_eq!(
            kind(br#"{"schemaVersion":2,"config":{}}"#).as_deref(),
            Some(types::OCI_MANIFEST)
        );
        assert_eq!(kind(b"not json"), None);
    }
}
