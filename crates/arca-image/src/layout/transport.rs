use std::path::PathBuf;

use super::{Layout, LayoutError};

/// `oci:DIR[:REF]` or `oci-archive:FILE[:REF]`, split at the first ':' after the transport as
/// containers/image does (so DIR itself cannot contain ':').
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageReference {
    Oci {
        dir: PathBuf,
        reference: Option<String>,
    },
    OciArchive {
        file: PathBuf,
        reference: Option<String>,
    },
}

impl ImageReference {
    pub fn parse(s: &str) -> Result<ImageReference, LayoutError> {
        let invalid = |reason: &str| LayoutError::Invalid {
            at: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (transport, rest) = s
            .split_once(':')
            .ok_or_else(|| invalid("expected oci:DIR[:REF] or oci-archive:FILE[:REF]"))?;
        let (path, reference) = match rest.split_once(':') {
            Some((p, "")) => (p, None),
            Some((p, r)) => (p, Some(r.to_owned())),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(invalid("empty path"));
        }
        let path = PathBuf::from(path);
        match transport {
            "oci" => Ok(ImageReference::Oci {
                dir: path,
                reference,
            }),
            "oci-archive" => Ok(ImageReference::OciArchive {
                file: path,
                reference,
            }),
            other => Err(invalid(&format!(
                "unknown transport {other:?} (expected oci or oci-archive)"
            ))),
        }
    }

    pub fn reference(&self) -> Option<&str> {
        match self {
            ImageReference::Oci { reference, .. }
            | ImageReference::OciArchive { reference, .. } => reference.as_deref(),
        }
    }

    pub fn open(&self) -> Result<Layout, LayoutError> {
        match self {
            ImageReference::Oci { dir, .. } => Layout::open(dir),
            ImageReference::OciArchive { file, .. } => Layout::open_archive(file),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_transports() {
        assert_eq!(
            ImageReference::parse("oci:/x:latest").unwrap(),
            ImageReference::Oci {
                dir: "/x".into(),
                reference: Some("latest".into())
            }
        );
        assert_eq!(
            ImageReference::parse("oci-archive:/a.tar")
                .unwrap()
                .reference(),
            None
        );
        assert!(ImageReference::parse("docker://x").is_err());
        assert!(ImageReference::parse("oci:").is_err());
    }
}
