//! Podman's and skopeo's `dir:DIR` transport: an image as loose files, the format
//! `skopeo copy … dir:DIR` writes.
//!
//! ```text
//! DIR/version               "Directory Transport Version: 1.1\n"
//! DIR/manifest.json         the image manifest, or (skopeo copy --all) a manifest list
//! DIR/<hex>.manifest.json   with a list: each instance's manifest, by its digest
//! DIR/<hex>                 every config and layer, named by its digest without `sha256:`
//! ```
//!
//! Reading treats the directory as input we did not write, exactly as [`crate::layout`] does
//! (its errors are [`LayoutError`]s, located the same way: `dir:DIR: file: field`): a file is
//! only ever opened at a name rebuilt from a validated digest or a fixed name, JSON is read up
//! to [`MAX_JSON_SIZE`](crate::layout::MAX_JSON_SIZE), and every blob is checked against the
//! digest and size of the descriptor that led to it, the manifests too, before the store
//! ingests it (and verifies it again). Writing ([`write`]) builds the directory beside its
//! final name and renames it into place, so a failed push never leaves half an image.

mod read;
mod write;

pub use read::DirSource;
pub use write::write;

use crate::layout::LayoutError;

/// What the `version` file of a directory this transport wrote holds (containers/image 1.1).
pub const VERSION: &str = "Directory Transport Version: 1.1\n";

/// Versions whose layout we read: 1.0 differs only in how signatures are named, which arca
/// does not read.
fn version_supported(contents: &str) -> bool {
    matches!(
        contents.trim_end(),
        "Directory Transport Version: 1.0" | "Directory Transport Version: 1.1"
    )
}

fn invalid(at: impl Into<String>, reason: impl Into<String>) -> LayoutError {
    LayoutError::Invalid {
        at: at.into(),
        reason: reason.into(),
    }
}
