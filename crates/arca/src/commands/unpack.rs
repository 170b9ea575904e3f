//! Unpacking an image's layers into their snapshots once its blobs are in the store (after
//! `pull` from a layout or archive, `load`, `import`), and recording what each layer holds in
//! the catalog for `images` and `system df`. Registry pulls unpack while downloading instead
//! (`registry::pull_snapshots`) and record the same way.

use anyhow::Result;
use arca_image::digest::Digest;
use arca_image::layout::Image;
use arca_image::unpack::UnpackStats;

use super::ImageState;

/// Unpacks every layer of `image` not yet unpacked; `quiet` hides the progress.
pub fn unpack_image(state: &mut ImageState, image: &Image, quiet: bool) -> Result<()> {
    let progress = crate::progress::extraction(quiet);
    let (chain, stats) = state
        .snapshots
        .unpack_image(&state.store, image, progress.as_ref())?;
    record_layers(state, image, &chain, &stats)
}

/// Records the size of each layer unpacked now (`None`: unpacked before, recorded then).
pub fn record_layers(
    state: &mut ImageState,
    image: &Image,
    chain: &[Digest],
    stats: &[Option<UnpackStats>],
) -> Result<()> {
    for ((layer, c), s) in image.layers.iter().zip(chain).zip(stats) {
        if let Some(s) = s {
            state.catalog.record_layer(c, &layer.diff_id, s.bytes)?;
        }
    }
    Ok(())
}
