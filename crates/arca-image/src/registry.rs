//! Pulling images from registries (the OCI distribution spec), into the verified [`Store`].
//!
//! Authentication is `oci-client`'s (the ORAS project's maintained client): it follows
//! `WWW-Authenticate` challenges (anonymous, basic, bearer tokens). The manifest and blob GETs
//! carry the credential it settled on (see `remote.rs` for why they are ours), and reqwest
//! drops it on a redirect to another host. Everything a registry returns is checked here,
//! because the store's one invariant (a blob always hashes to its name) must not depend on
//! the network:
//!
//! - a manifest fetched by digest must hash to that digest; one fetched by tag must hash to
//!   the `Docker-Content-Digest` the registry stated (or is named by the digest of its exact
//!   bytes when the registry stated none), and the digest is what the image is known by;
//! - an index is walked with the same platform choice as an image layout's;
//! - config and layers go through [`Store::ingest`], which checks size and digest before the
//!   blob is visible; blobs the store already holds are not requested at all.
//!
//! Robustness, as Docker and Podman pull: transient failures (connection errors, timeouts,
//! 5xx, 429 with its `Retry-After`) are retried with jittered exponential backoff
//! ([`RetryPolicy`]); a layer download that breaks off continues from the byte the store has
//! with a `Range` request, into the same ingest (so the digest check still covers every byte);
//! registries.conf ([`RegistriesConf`]) supplies mirrors, tried in order before the registry,
//! `insecure` (plain HTTP) and `blocked` registries. A pull killed and started again downloads
//! only blobs the store does not have; a blob that was half downloaded starts over (resuming
//! is within one pull, into its own ingest file).
//!
//! Layers download a few at a time ([`PullOptions::parallel`]), each streamed to disk. An
//! async runtime lives only inside a pull: [`pull`] creates one, [`pull_async`] runs in the
//! caller's. [`pull_unpack`] also builds the root filesystem while the layers arrive (each
//! body teed to the store and to the unpacker; see `pipeline.rs`).

mod blobs;
mod config;
mod endpoint;
mod error;
mod login;
mod pipeline;
mod push;
mod remote;
mod resolve;
mod retry;

pub use config::{
    ConfigError, MirrorConf, RegistriesConf, RegistryConf, REGISTRIES_CONF_ENV,
    SYSTEM_REGISTRIES_CONF, SYSTEM_REGISTRIES_CONF_D,
};
pub use endpoint::plain_http;
pub use error::PullError;
pub use login::{login, LoginError};
pub use pipeline::{pull_snapshots, pull_unpack, PullUnpackError, Pulled};
pub use push::{push, push_async, BlobPush, BlobReport, PushError, PushOptions, Pushed};
pub use retry::RetryPolicy;

use std::fmt;
use std::io::Read;
use std::sync::Arc;

use crate::digest::Digest;
use crate::layout::{assemble, parse_manifest, Image, PlatformSpec, MAX_JSON_SIZE};
use crate::reference::Reference;
use crate::store::Store;

/// Called as a blob's bytes are written to the store: `(digest, bytes_done, total)`. Blobs
/// the store already held are not reported (they are not downloaded).
pub type Progress = Arc<dyn Fn(&Digest, u64, u64) + Send + Sync>;

/// Three at once is Docker's default (`max-concurrent-downloads`): enough to fill a link
/// without a registry treating us as abusive.
pub const DEFAULT_PARALLEL: usize = 3;

#[derive(Clone)]
pub struct PullOptions {
    pub platform: PlatformSpec,
    /// `(user, password)` for basic auth or to obtain a bearer token; `None`: anonymous.
    pub auth: Option<(String, String)>,
    /// Registries (`host` or `host:port`) reached over plain HTTP. Loopback registries
    /// (`localhost`, 127.0.0.0/8, ::1) always are; see [`plain_http`].
    pub insecure_hosts: Vec<String>,
    pub progress: Option<Progress>,
    /// Blobs downloaded at once.
    pub parallel: usize,
    /// Mirrors, locations, `insecure` and `blocked` from registries.conf; empty: every
    /// registry as named.
    pub registries: RegistriesConf,
    /// Transient failures (connection, timeout, 5xx, 429) are retried, and broken-off blob
    /// downloads resumed, this often.
    pub retry: RetryPolicy,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: PlatformSpec::host(),
            auth: None,
            insecure_hosts: Vec::new(),
            progress: None,
            parallel: DEFAULT_PARALLEL,
            registries: RegistriesConf::default(),
            retry: RetryPolicy::default(),
        }
    }
}

// By hand: the password must never reach a log line, and the callback has no Debug.
impl fmt::Debug for PullOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullOptions")
            .field("platform", &self.platform)
            .field(
                "auth",
                &self.auth.as_ref().map(|(user, _)| (user, "<redacted>")),
            )
            .field("insecure_hosts", &self.insecure_hosts)
            .field("progress", &self.progress.is_some())
            .field("parallel", &self.parallel)
            .field("registries", &self.registries)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Pulls `reference` for `opts.platform` into `store` and returns the image, as
/// [`Layout::image`](crate::layout::Layout::image) does for a layout, so
/// [`rootfs::build`](crate::rootfs::build) works on it. Blocking: runs its own runtime, so it
/// must not be called from inside an async runtime (use [`pull_async`] there).
pub fn pull(reference: &Reference, store: &Store, opts: &PullOptions) -> Result<Image, PullError> {
    let runtime = runtime(reference)?;
    // Dropping the runtime waits for the blocking ingest threads, so no partial ingest file
    // outlives the call.
    runtime.block_on(pull_async(reference, store, opts))
}

/// The current-thread runtime a blocking pull of `reference` runs in.
fn runtime(reference: &Reference) -> Result<tokio::runtime::Runtime, PullError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| PullError::Runtime {
            reference: Box::new(reference.clone()),
            source,
        })
}

/// [`pull`] in the caller's tokio runtime.
pub async fn pull_async(
    reference: &Reference,
    store: &Store,
    opts: &PullOptions,
) -> Result<Image, PullError> {
    let remote = remote::Remote::new(reference, opts);
    remote.authenticate().await?;
    let (image, raw_manifest) = fetch_image(&remote, store, opts).await?;
    let layers: Vec<(Digest, u64)> = image
        .layers
        .iter()
        .map(|l| (l.digest.clone(), l.size))
        .collect();
    blobs::fetch(
        &remote,
        store,
        &layers,
        opts.parallel,
        opts.progress.as_ref(),
    )
    .await?;
    // The manifest last: once it is in the store, so is everything it names.
    store_manifest(reference, store, &image, &raw_manifest)?;
    Ok(image)
}

/// Resolves the reference to one manifest, fetches its config into the store and assembles
/// the image; the layers are the caller's. Returns the manifest's exact bytes, which go into
/// the store only once every layer has (see [`store_manifest`]).
async fn fetch_image(
    remote: &remote::Remote<'_>,
    store: &Store,
    opts: &PullOptions,
) -> Result<(Image, bytes::Bytes), PullError> {
    let reference = remote.reference;
    let resolved = resolve::resolve(remote, &opts.platform).await?;
    let document = |source| PullError::Document {
        reference: Box::new(reference.clone()),
        source,
    };
    let manifest_digest = resolved.digest;
    let at = format!("manifest {manifest_digest}");
    let (manifest, config_digest) = parse_manifest(&resolved.raw, &at).map_err(document)?;

    let config_size = manifest.config().size();
    if config_size > MAX_JSON_SIZE {
        return Err(PullError::TooLarge {
            reference: Box::new(reference.clone()),
            what: format!("config {config_digest}"),
            size: config_size,
            limit: MAX_JSON_SIZE,
        });
    }
    blobs::fetch(
        remote,
        store,
        &[(config_digest.clone(), config_size)],
        1,
        opts.progress.as_ref(),
    )
    .await?;
    let config_raw = read_config(reference, store, &config_digest, config_size)?;
    let image = assemble(
        (manifest_digest, resolved.raw.len() as u64, manifest),
        (config_digest.clone(), &config_raw),
        &at,
        &format!("config {config_digest}"),
    )
    .map_err(document)?;
    Ok((image, resolved.raw))
}

/// The manifest into the store, last: once it is there, so is everything it names.
fn store_manifest(
    reference: &Reference,
    store: &Store,
    image: &Image,
    raw: &[u8],
) -> Result<(), PullError> {
    store
        .ingest(&image.manifest_digest, image.manifest_size, raw)
        .map_err(|source| PullError::Store {
            reference: Box::new(reference.clone()),
            source,
        })?;
    Ok(())
}

/// The config as the store holds it: verified when ingested, and at most `size` bytes
/// (checked against [`MAX_JSON_SIZE`] before the download).
fn read_config(
    reference: &Reference,
    store: &Store,
    digest: &Digest,
    size: u64,
) -> Result<Vec<u8>, PullError> {
    let store_err = |source| PullError::Store {
        reference: Box::new(reference.clone()),
        source,
    };
    let file = store.open_blob(digest).map_err(store_err)?;
    let mut raw = Vec::new();
    file.take(size).read_to_end(&mut raw).map_err(|source| {
        store_err(crate::store::StoreError::Io {
            path: store.path(digest),
            op: "read",
            source,
        })
    })?;
    Ok(raw)
}
