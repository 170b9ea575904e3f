//! Pushing an image from the [`Store`] to a registry: the distribution spec's push side,
//! through the same `oci-client` connection setup as pulls (credentials, plain HTTP only for
//! loopback and listed hosts) and the same classification of its errors.
//!
//! For each blob the manifest names (config and layers), cheapest first:
//!
//! 1. `HEAD` it in the destination repository: present → nothing to send (a second push of
//!    the same image, or a base layer the repository already has);
//! 2. mount it from another repository of the same registry that is known to hold it
//!    ([`PushOptions::mount_from`]: where the image was pulled from): no bytes move;
//! 3. upload it, streamed from the store file (see `source.rs`).
//!
//! The manifest goes last, as the exact bytes the store holds, so the image keeps its digest
//! (re-serialising it, as `oci-client`'s `push_manifest` does, could change it). Blobs are
//! trusted as they are: the store only ever holds content that hashes to its name, and the
//! registry checks the digest again when an upload is committed.

mod error;
mod source;

pub use error::PushError;

use std::fmt;
use std::io::Read;
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use oci_client::errors::OciDistributionError;
use oci_client::RegistryOperation;

use super::remote::Remote;
use super::{PullOptions, DEFAULT_PARALLEL};
use crate::digest::Digest;
use crate::layout::{parse_manifest, MAX_JSON_SIZE};
use crate::media::types;
use crate::reference::Reference;
use crate::store::{Store, StoreError};

/// What happened to one blob of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobPush {
    /// The destination repository already had it.
    Exists,
    /// Mounted from this repository of the same registry.
    Mounted { from: String },
    /// Uploaded.
    Pushed,
}

/// Called once per blob as soon as it is settled, so a command can report as it goes.
pub type BlobReport = Arc<dyn Fn(&Digest, &BlobPush) + Send + Sync>;

#[derive(Clone)]
pub struct PushOptions {
    /// `(user, password)` for basic auth or to obtain a bearer token; `None`: anonymous.
    pub auth: Option<(String, String)>,
    /// Registries (`host` or `host:port`) reached over plain HTTP, besides loopback ones.
    pub insecure_hosts: Vec<String>,
    /// Repositories of the destination's registry that may hold the blobs already (the ones
    /// the image was pulled from): a missing blob is mounted from them before it is uploaded.
    /// The destination repository itself is skipped.
    pub mount_from: Vec<String>,
    pub on_blob: Option<BlobReport>,
    /// Blobs sent at once.
    pub parallel: usize,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            auth: None,
            insecure_hosts: Vec::new(),
            mount_from: Vec::new(),
            on_blob: None,
            parallel: DEFAULT_PARALLEL,
        }
    }
}

// By hand: the password must never reach a log line, and the callback has no Debug.
impl fmt::Debug for PushOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushOptions")
            .field(
                "auth",
                &self.auth.as_ref().map(|(user, _)| (user, "<redacted>")),
            )
            .field("insecure_hosts", &self.insecure_hosts)
            .field("mount_from", &self.mount_from)
            .field("on_blob", &self.on_blob.is_some())
            .field("parallel", &self.parallel)
            .finish()
    }
}

/// What a successful push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The manifest's digest: the same as in the store, since its bytes were sent unchanged.
    pub manifest_digest: Digest,
    /// The manifest's size in bytes (what `docker push` prints as `size:`).
    pub manifest_size: u64,
    /// Config and layers, in manifest order (config first), each once.
    pub blobs: Vec<(Digest, BlobPush)>,
}

/// Pushes the image whose manifest is `manifest` (in `store`, with its config and layers) to
/// `dest`, tagging it with `dest`'s tag (or, for a reference by digest, under that digest,
/// which must be the manifest's). Blocking: runs its own runtime, like [`pull`](super::pull).
pub fn push(
    store: &Store,
    manifest: &Digest,
    dest: &Reference,
    opts: &PushOptions,
) -> Result<Pushed, PushError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| PushError::Runtime {
            reference: Box::new(dest.clone()),
            source,
        })?;
    // Dropping the runtime waits for the file readers (blocking threads); they stop as soon as
    // their upload is gone.
    runtime.block_on(push_async(store, manifest, dest, opts))
}

/// [`push`] in the caller's tokio runtime.
pub async fn push_async(
    store: &Store,
    manifest_digest: &Digest,
    dest: &Reference,
    opts: &PushOptions,
) -> Result<Pushed, PushError> {
    let reference = || Box::new(dest.clone());
    if let Some(wanted) = dest.digest() {
        if wanted != manifest_digest {
            return Err(PushError::DigestConflict {
                reference: reference(),
                manifest: manifest_digest.clone(),
            });
        }
    }
    let raw = read_manifest(store, manifest_digest, dest)?;
    let at = format!("manifest {manifest_digest}");
    let (manifest, config_digest) =
        parse_manifest(&raw, &at).map_err(|source| PushError::Document {
            reference: reference(),
            source,
        })?;
    let media_type = manifest
        .media_type()
        .as_ref()
        .map_or_else(|| types::OCI_MANIFEST.to_owned(), ToString::to_string);

    let mut blobs: Vec<(Digest, u64)> = vec![(config_digest, manifest.config().size())];
    for layer in manifest.layers() {
        let digest = Digest::try_from(layer.digest()).map_err(|source| PushError::Document {
            reference: reference(),
            source: crate::layout::LayoutError::Digest {
                at: format!("{at}: layers"),
                source,
            },
        })?;
        // A manifest may list one blob twice (an empty layer); send it once.
        if !blobs.iter().any(|(d, _)| *d == digest) {
            blobs.push((digest, layer.size()));
        }
    }
    // Everything must be here before the registry is touched: a half-pushed image is
    // harmless but pointless.
    if let Some((missing, _)) = blobs.iter().find(|(d, _)| !store.has(d)) {
        return Err(PushError::Store {
            reference: reference(),
            source: StoreError::NotFound {
                digest: missing.clone(),
            },
        });
    }

    let remote = Remote::new(
        dest,
        &PullOptions {
            auth: opts.auth.clone(),
            insecure_hosts: opts.insecure_hosts.clone(),
            ..PullOptions::default()
        },
    );
    let (client, base, auth) = remote.parts();
    // Up front, so refused credentials are reported as such rather than as the first
    // request's 401; asks for a push token where the registry uses bearer tokens.
    client
        .auth(base, auth, RegistryOperation::Push)
        .await
        .map_err(|e| classify(&remote, "authenticating", e))?;

    let results: Vec<(Digest, BlobPush)> = futures_util::stream::iter(blobs.iter())
        .map(|(digest, size)| {
            let remote = &remote;
            async move {
                let outcome = push_blob(remote, store, digest, *size, opts).await?;
                if let Some(report) = &opts.on_blob {
                    report(digest, &outcome);
                }
                Ok::<_, PushError>((digest.clone(), outcome))
            }
        })
        .buffered(opts.parallel.max(1))
        .try_collect()
        .await?;

    // The manifest last: a registry accepts it only once every blob it names is there.
    let content_type =
        http::HeaderValue::from_str(&media_type).map_err(|_| PushError::Document {
            reference: reference(),
            source: crate::layout::LayoutError::Invalid {
                at: format!("{at}: mediaType"),
                reason: format!("{media_type:?} is not a valid Content-Type"),
            },
        })?;
    let size = raw.len() as u64;
    client
        .push_manifest_raw(base, raw, content_type)
        .await
        .map_err(|e| classify(&remote, "manifest", e))?;
    Ok(Pushed {
        manifest_digest: manifest_digest.clone(),
        manifest_size: size,
        blobs: results,
    })
}

async fn push_blob(
    remote: &Remote<'_>,
    store: &Store,
    digest: &Digest,
    size: u64,
    opts: &PushOptions,
) -> Result<BlobPush, PushError> {
    let (client, base, _) = remote.parts();
    let d = digest.to_string();
    let what = format!("blob {digest}");
    if client
        .blob_exists(base, &d)
        .await
        .map_err(|e| classify(remote, &what, e))?
    {
        return Ok(BlobPush::Exists);
    }
    let dest_repo = remote.reference.repository();
    for from in opts.mount_from.iter().filter(|r| *r != dest_repo) {
        let source = oci_client::Reference::with_tag(
            base.registry().to_owned(),
            from.clone(),
            "latest".to_owned(),
        );
        // A refused mount (the registry does not support it, the blob is not there, the token
        // does not cover the source) only costs the upload we would have done anyway. A
        // registry that declines answers 202 with an upload session, which it expires.
        match client.mount_blob(base, &source, &d).await {
            Ok(()) => return Ok(BlobPush::Mounted { from: from.clone() }),
            Err(e) => tracing::debug!("mounting {digest} from {from}: {e}"),
        }
    }
    let file = store.open_blob(digest).map_err(|source| PushError::Store {
        reference: Box::new(remote.reference.clone()),
        source,
    })?;
    client
        .push_blob_stream(base, source::stream(file, size), &d, Some(size))
        .await
        .map_err(|e| classify(remote, &what, e))?;
    Ok(BlobPush::Pushed)
}

/// The manifest's bytes, bounded like every JSON document arca reads.
fn read_manifest(store: &Store, digest: &Digest, dest: &Reference) -> Result<Vec<u8>, PushError> {
    let store_err = |source| PushError::Store {
        reference: Box::new(dest.clone()),
        source,
    };
    let file = store.open_blob(digest).map_err(store_err)?;
    let mut raw = Vec::new();
    file.take(MAX_JSON_SIZE + 1)
        .read_to_end(&mut raw)
        .map_err(|source| {
            store_err(StoreError::Io {
                path: store.path(digest),
                op: "read",
                source,
            })
        })?;
    if raw.len() as u64 > MAX_JSON_SIZE {
        return Err(PushError::Document {
            reference: Box::new(dest.clone()),
            source: crate::layout::LayoutError::Invalid {
                at: format!("manifest {digest}"),
                reason: format!("over the {MAX_JSON_SIZE}-byte limit for JSON documents"),
            },
        });
    }
    Ok(raw)
}

/// Some oci-client calls (`blob_exists`) return reqwest's status error as is; give it the
/// shape the pull side's classification reads a status from.
fn classify(remote: &Remote<'_>, what: &str, e: OciDistributionError) -> PushError {
    let e = match e {
        OciDistributionError::RequestError(re) if re.status().is_some() => {
            let code = re.status().map_or(0, |s| s.as_u16());
            OciDistributionError::ServerError {
                code,
                url: re.url().map(ToString::to_string).unwrap_or_default(),
                message: format!("HTTP {code}"),
            }
        }
        e => e,
    };
    PushError::from_pull(remote.error(what, None, e))
}
