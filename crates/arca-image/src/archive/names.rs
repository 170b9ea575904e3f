//! The member names of each archive format, and where each is extracted. Destinations are
//! rebuilt from validated parts (a digest's 64 hex digits, fixed names), never from the
//! archive's own spelling.

use std::path::PathBuf;

use super::reader::Names;
use crate::digest::Digest;

/// An OCI layout: `oci-layout`, `index.json`, `blobs/sha256/<hex>`.
pub(crate) const OCI_LAYOUT: Names = Names {
    place: place_oci,
    tolerated_link: no_link,
};

/// Either format (what `load` accepts without being told which): the OCI layout's names plus
/// Docker's `manifest.json`, `<hex>.json`, `<hex>.tar` (Podman, Docker before 25) and
/// `<hex>/layer.tar` (Docker before 25). Docker's `<id>/layer.tar` may be a link (Podman
/// writes them so): skipped, since `manifest.json` then names the `<hex>.tar` it points at.
pub(crate) const ANY_IMAGE: Names = Names {
    place: place_any,
    tolerated_link: legacy_layer,
};

fn no_link(_: &[&str]) -> bool {
    false
}

fn legacy_layer(parts: &[&str]) -> bool {
    matches!(parts, [id, "layer.tar"] if is_hex(id))
}

fn is_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn place_oci(parts: &[&str]) -> Result<Option<PathBuf>, String> {
    Ok(match parts {
        ["oci-layout"] | ["index.json"] => Some(PathBuf::from(parts[0])),
        ["blobs", "sha256", hex] => {
            let digest = Digest::parse(&format!("sha256:{hex}")).map_err(|e| e.to_string())?;
            Some(PathBuf::from("blobs/sha256").join(digest.hex()))
        }
        _ => None,
    })
}

fn place_any(parts: &[&str]) -> Result<Option<PathBuf>, String> {
    if let Some(p) = place_oci(parts)? {
        return Ok(Some(p));
    }
    Ok(match parts {
        ["manifest.json"] => Some(PathBuf::from("manifest.json")),
        [file] => match file.rsplit_once('.') {
            Some((hex, ext @ ("json" | "tar"))) if is_hex(hex) => {
                Some(PathBuf::from(format!("docker/{hex}.{ext}")))
            }
            _ => None,
        },
        [id, "layer.tar"] if is_hex(id) => Some(PathBuf::from(format!("docker/{id}.layer.tar"))),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names_are_rebuilt() {
        let hex = "a".repeat(64);
        let tar = format!("{hex}.tar");
        assert_eq!(
            place_any(&[&tar]).unwrap(),
            Some(PathBuf::from(format!("docker/{hex}.tar")))
        );
        assert_eq!(place_any(&["x.tar"]).unwrap(), None);
        assert_eq!(place_any(&["repositories"]).unwrap(), None);
        assert!(legacy_layer(&[&hex, "layer.tar"]));
        assert!(!legacy_layer(&["manifest.json"]));
    }
}
