//! Media types, and the one decision a layer's media type drives: how to decompress it.
//!
//! Docker schema 2 types are accepted alongside OCI ones because most images in the wild
//! (`docker push`, older registries, `skopeo copy` without `--format oci`) still carry them.

mod compression;
pub mod types;

pub use compression::{decompress, Compression, MediaError};
pub use types::{is_config, is_index, is_manifest};

#[cfg(test)]
mod tests;
