//! From a ref and a platform to one image manifest descriptor, through nested indexes.

use oci_spec::image::{Descriptor, ImageIndex, ANNOTATION_REF_NAME};

use super::platform::{choose, PlatformSpec};
use super::{Layout, LayoutError};
use crate::digest::Digest;
use crate::media::types;

/// Indexes may nest (an index.json entry pointing at a multi-platform index is the usual
/// case); the bound stops a cycle of indexes from looping forever.
const MAX_DEPTH: usize = 8;

/// The chosen manifest: its descriptor and where it was found (for error messages).
pub(super) struct Chosen {
    pub descriptor: Descriptor,
    pub digest: Digest,
    pub at: String,
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations()
        .as_ref()?
        .get(ANNOTATION_REF_NAME)
        .map(String::as_str)
}

fn list(items: Vec<String>) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

impl Layout {
    pub(super) fn select(
        &self,
        prefix: &str,
        reference: Option<&str>,
        platform: &PlatformSpec,
    ) -> Result<Chosen, LayoutError> {
        let all: Vec<(usize, &Descriptor)> = self.index.manifests().iter().enumerate().collect();
        let candidates: Vec<_> = match reference {
            Some(r) => all
                .iter()
                .copied()
                .filter(|(_, d)| ref_name(d) == Some(r))
                .collect(),
            None => all.clone(),
        };
        let (i, first) = match (reference, candidates.as_slice()) {
            (_, [one]) => *one,
            (Some(r), []) => {
                return Err(LayoutError::RefNotFound {
                    at: format!("{prefix}: index.json"),
                    wanted: r.to_owned(),
                    available: list(self.refs()),
                })
            }
            (None, _) => {
                return Err(LayoutError::Ambiguous {
                    at: format!("{prefix}: index.json"),
                    count: candidates.len(),
                    available: list(self.refs()),
                })
            }
            // Several descriptors sharing one ref: tools write one per platform this way.
            (Some(_), many) => {
                self.by_platform(many, platform, &format!("{prefix}: index.json"))?
            }
        };
        let mut at = format!("{prefix}: index.json: manifests[{i}]");
        let mut descriptor = first.clone();
        for _ in 0..MAX_DEPTH {
            let digest =
                Digest::try_from(descriptor.digest()).map_err(|source| LayoutError::Digest {
                    at: format!("{at}.digest"),
                    source,
                })?;
            let media_type = descriptor.media_type().to_string();
            if types::is_manifest(&media_type) {
                return Ok(Chosen {
                    descriptor,
                    digest,
                    at,
                });
            }
            if !types::is_index(&media_type) {
                return Err(LayoutError::MediaType {
                    at: format!("{at}.mediaType"),
                    media_type,
                    want: "an image manifest or index",
                });
            }
            let raw = self.read_json_blob(&digest, descriptor.size(), &at)?;
            let index_at = format!("{prefix}: index {digest}");
            let index: ImageIndex =
                serde_json::from_slice(&raw).map_err(|source| LayoutError::Json {
                    at: index_at.clone(),
                    source,
                })?;
            let entries: Vec<_> = index.manifests().iter().enumerate().collect();
            let (j, next) = self.by_platform(&entries, platform, &index_at)?;
            at = format!("{index_at}: manifests[{j}]");
            descriptor = next.clone();
        }
        Err(LayoutError::Invalid {
            at,
            reason: format!("indexes nested more than {MAX_DEPTH} deep"),
        })
    }

    fn by_platform<'a>(
        &self,
        entries: &[(usize, &'a Descriptor)],
        platform: &PlatformSpec,
        at: &str,
    ) -> Result<(usize, &'a Descriptor), LayoutError> {
        choose(entries, platform).map_err(|available| LayoutError::NoPlatform {
            at: at.to_owned(),
            wanted: platform.to_string(),
            available,
        })
    }
}
