//! OCI images for arca: the layer between a registry (or an image layout on disk) and a root
//! filesystem. Everything read is verified against its digest before it is trusted, and every
//! path taken from a layer is resolved beneath the layer's directory by file descriptor.
//!
//! - [`auth`]: registry credentials in Podman's auth.json (and Docker's config.json, read).
//! - [`digest`]: `sha256:<hex>` digests, parsed and checked; hashing readers and writers.
//! - [`dir`]: Podman's and skopeo's `dir:DIR` transport (loose blobs named by digest, a
//!   manifest or manifest list), read verified and written for `push dir:`.
//! - [`duration`]: Go's duration syntax (HEALTHCHECK flags).
//! - [`time`]: RFC 3339 times in UTC (image `created`, log records, `--since`).
//! - [`store`]: the content-addressed blob store (`blobs/sha256/<hex>`): ingest, verify, fsync,
//!   rename; nothing unverified is ever visible.
//! - [`layout`]: OCI image layouts (`oci:DIR[:REF]`): index, platform choice, manifest, config.
//! - [`archive`]: `save` and `load` of `docker-archive` and `oci-archive` tars, and the
//!   path-safe archive reader `oci-archive:` pulls share.
//! - [`media`]: media types and layer decompression (gzip, zstd, none).
//! - [`reference`]: Docker-style image references (`busybox`, `host:5000/a/b:tag@sha256:…`).
//! - [`registry`]: pulls from registries (OCI distribution) into the store, verified, with
//!   retries and backoff for transient failures, resumed (`Range`) layer downloads, and
//!   mirrors / insecure / blocked registries from registries.conf; pushes from it (blobs the
//!   registry lacks, then the manifest's exact bytes); pull and unpack overlapped
//!   (`pull_unpack`), the rootfs committed only once everything checked.
//! - [`unpack`]: streaming, path-safe extraction of layer tarballs (whiteouts, hardlinks,
//!   devices, xattrs, ownership, modes, mtimes).
//! - [`objects`]: file-level dedup: each unpacked file a content-addressed object, hardlinked
//!   into the layer trees.
//! - [`catalog`]: image names and records in SQLite, shared safely by concurrent arca processes.
//! - [`import`]: `docker import`: a root filesystem tarball (plain, gzip, zstd) as a
//!   one-layer image, with `--change` instructions applied to its config.
//! - [`gc`]: blob garbage collection from the catalog's roots, locked against concurrent pulls.
//! - [`snapshot`]: layers unpacked once per chain ID (overlay or copy driver), and a writable
//!   snapshot per container on top.
//! - [`rootfs`]: an image's root filesystem from the store, layer by layer, each diff_id
//!   checked, committed by one rename.

pub mod archive;
pub mod auth;
pub mod catalog;
pub mod digest;
pub mod dir;
pub mod duration;
pub mod gc;
pub mod import;
pub mod layout;
pub mod media;
pub mod objects;
pub mod reference;
pub mod registry;
pub mod rootfs;
pub mod snapshot;
pub mod store;
pub mod time;
pub mod unpack;
pub mod userns;
