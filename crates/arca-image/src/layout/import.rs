use super::{Image, Layout, LayoutError};
use crate::digest::Digest;
use crate::store::Store;

impl Layout {
    /// Copies the image's manifest, config and layers into `store`. Nothing is trusted from
    /// the layout here: the store's ingest verifies each blob against the digest and size the
    /// (already verified) manifest names. Blobs the store already holds are not read.
    /// Intermediate indexes are not copied: the store keeps images, not layouts.
    pub fn import_into(&self, store: &Store, image: &Image) -> Result<(), LayoutError> {
        let blobs = [
            (&image.manifest_digest, image.manifest_size),
            (&image.config_digest, image.config_size),
        ]
        .into_iter()
        .chain(image.layers.iter().map(|l| (&l.digest, l.size)));
        for (digest, size) in blobs {
            self.import_blob(store, digest, size)?;
        }
        Ok(())
    }

    fn import_blob(&self, store: &Store, digest: &Digest, size: u64) -> Result<(), LayoutError> {
        if store.has(digest) {
            return Ok(());
        }
        let file = self.open_blob_file(digest, &self.name)?;
        store
            .ingest(digest, size, file)
            .map_err(|source| LayoutError::Store {
                at: format!("{}: blob {digest}", self.name),
                source,
            })?;
        Ok(())
    }
}
