//! One registry conversation: which location (mirrors from registries.conf first, falling
//! back to the registry; see `endpoint.rs`), what its errors mean, and trying again when a
//! failure is transient (see `retry.rs`).
//!
//! `oci-client` runs the authentication (the `WWW-Authenticate` challenge and the token
//! flow). The pull's own GETs (manifests, blobs) are sent here, on the same kind of reqwest
//! client, with the credential oci-client settled on: oci-client's errors keep no response
//! headers (a 429's `Retry-After`), and its partial blob stream skips verification, while a
//! download that broke off must continue with a `Range` request from the byte the store has,
//! into the same verifying ingest. reqwest drops `Authorization` on a redirect to another host
//! (a blob served from a CDN), as oci-client relied on too.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::PoisonError;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use oci_client::errors::{DigestError as OciDigestError, OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, RegistryOperation};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_RANGE, RANGE, RETRY_AFTER};
use reqwest::StatusCode;

use super::config::{Plan, Source};
use super::endpoint::Endpoint;
use super::retry::parse_retry_after;
use super::{PullError, PullOptions, RetryPolicy};
use crate::digest::Digest;
use crate::layout::MAX_JSON_SIZE;
use crate::media::types;
use crate::reference::Reference;

/// What a manifest request may get back: single-platform manifests and indexes, OCI or Docker.
const MANIFEST_TYPES: &[&str] = &[
    types::OCI_MANIFEST,
    types::DOCKER_MANIFEST,
    types::OCI_INDEX,
    types::DOCKER_MANIFEST_LIST,
];

/// Registry error bodies can be whole HTML pages; this much says what went wrong.
const MAX_DETAIL: usize = 300;

pub(super) struct Remote<'a> {
    /// Where the image may come from, in order: mirrors, then the registry itself.
    endpoints: Vec<Endpoint>,
    /// The endpoint in use: the first that authenticated and served the reference.
    current: AtomicUsize,
    /// `Some((prefix, file))`: registries.conf blocks this reference.
    blocked: Option<(String, Option<PathBuf>)>,
    /// No credentials were given (errors say so on a 401).
    anonymous: bool,
    retry: RetryPolicy,
    pub(super) reference: &'a Reference,
}

/// A blob's body as it arrives. `skip`: bytes at its start the caller already has (a registry
/// that ignored `Range` and sent the whole blob again).
pub(super) struct BlobBody {
    pub stream: BoxStream<'static, reqwest::Result<Bytes>>,
    pub skip: u64,
    pub url: String,
}

impl<'a> Remote<'a> {
    pub(super) fn new(reference: &'a Reference, opts: &PullOptions) -> Remote<'a> {
        let (sources, blocked) = match opts.registries.plan(reference) {
            Plan::Sources(s) => (s, None),
            Plan::Blocked { prefix, file } => (Vec::new(), Some((prefix, file))),
        };
        let mut endpoints: Vec<Endpoint> = sources
            .iter()
            .map(|s| Endpoint::new(s, reference, opts))
            .collect();
        if endpoints.is_empty() {
            // Blocked: never contacted, but push's `parts` and the errors need one.
            endpoints.push(Endpoint::new(
                &Source {
                    reference: reference.clone(),
                    insecure: false,
                    mirror: false,
                },
                reference,
                opts,
            ));
        }
        Remote {
            endpoints,
            current: AtomicUsize::new(0),
            blocked,
            anonymous: opts.auth.is_none(),
            retry: opts.retry.clone(),
            reference,
        }
    }

    /// The registry's client, the reference in its form and the credentials, for the push
    /// side (push.rs): it shares this connection setup and [`error`](Self::error), but speaks
    /// its own requests. Always the registry itself: mirrors are for pulling.
    pub(super) fn parts(&self) -> (&Client, &oci_client::Reference, &RegistryAuth) {
        let ep = self.endpoints.last().unwrap_or_else(|| unreachable!());
        (&ep.client, &ep.base, &ep.auth)
    }

    pub(super) fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    fn endpoint(&self) -> &Endpoint {
        let i = self.current.load(Ordering::Relaxed);
        &self.endpoints[i.min(self.endpoints.len() - 1)]
    }

    /// Asks `/v2/` how to authenticate and, for a bearer challenge, fetches a pull token
    /// for this repository (with the credentials, if any). Done up front so a refused login
    /// is reported as such, not as the 401 of whatever request came first. A mirror that
    /// fails here is skipped for the next location, as Podman does.
    pub(super) async fn authenticate(&self) -> Result<(), PullError> {
        if let Some((prefix, file)) = &self.blocked {
            return Err(PullError::Blocked {
                reference: Box::new(self.reference.clone()),
                prefix: prefix.clone(),
                config: file.clone(),
            });
        }
        let first = self.current.load(Ordering::Relaxed);
        for i in first..self.endpoints.len() {
            match self.authenticate_at(i).await {
                Ok(()) => {
                    self.current.store(i, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) if i + 1 < self.endpoints.len() => self.fall_back(i, &e),
                Err(e) => return Err(e),
            }
        }
        unreachable!("a remote has at least one endpoint")
    }

    async fn authenticate_at(&self, i: usize) -> Result<(), PullError> {
        let ep = &self.endpoints[i];
        let what = format!("authenticating to {}", ep.reference.registry());
        let token = self
            .retry
            .run(&what, || async {
                ep.client
                    .auth(&ep.base, &ep.auth, RegistryOperation::Pull)
                    .await
                    .map_err(|e| self.error(&what, None, e))
            })
            .await?;
        let value = match (token, &ep.auth) {
            (Some(token), _) => HeaderValue::from_str(&format!("Bearer {token}")).ok(),
            (None, RegistryAuth::Basic(user, password)) => {
                let raw = format!("{user}:{password}");
                HeaderValue::from_str(&format!("Basic {}", BASE64.encode(raw))).ok()
            }
            (None, _) => None,
        };
        let value = value.map(|mut v| {
            v.set_sensitive(true);
            v
        });
        *ep.credential.lock().unwrap_or_else(PoisonError::into_inner) = value;
        Ok(())
    }

    fn fall_back(&self, i: usize, e: &PullError) {
        let ep = &self.endpoints[i];
        tracing::warn!(
            "{} {} failed, trying the next location: {e}",
            if ep.mirror { "mirror" } else { "registry" },
            ep.reference.registry()
        );
    }

    /// The manifest or index named by the reference's tag/digest (`None`) or by `digest`,
    /// raw, with the digest the registry stated (`Docker-Content-Digest`) or, when it stated
    /// none, the digest of the bytes; resolve.rs checks them. What the reference names is
    /// asked of each location in turn until one has it; the rest of the pull stays there.
    pub(super) async fn manifest(
        &self,
        digest: Option<&Digest>,
    ) -> Result<(bytes::Bytes, String), PullError> {
        if digest.is_some() {
            return self.manifest_at(self.endpoint(), digest).await;
        }
        let first = self.current.load(Ordering::Relaxed);
        for i in first..self.endpoints.len() {
            if i != first {
                if let Err(e) = self.authenticate_at(i).await {
                    if i + 1 < self.endpoints.len() {
                        self.fall_back(i, &e);
                        continue;
                    }
                    return Err(e);
                }
            }
            match self.manifest_at(&self.endpoints[i], None).await {
                Ok(m) => {
                    self.current.store(i, Ordering::Relaxed);
                    return Ok(m);
                }
                Err(e) if i + 1 < self.endpoints.len() => self.fall_back(i, &e),
                Err(e) => return Err(e),
            }
        }
        unreachable!("a remote has at least one endpoint")
    }

    async fn manifest_at(
        &self,
        ep: &Endpoint,
        digest: Option<&Digest>,
    ) -> Result<(bytes::Bytes, String), PullError> {
        let what = match (digest, self.reference.tag()) {
            (Some(d), _) => format!("manifest {d}"),
            (None, _) if self.reference.digest().is_some() => "manifest".to_owned(),
            (None, tag) => format!("manifest for tag {}", tag.unwrap_or("latest")),
        };
        let target = match digest.or(ep.reference.digest()) {
            Some(d) => d.to_string(),
            None => ep.reference.tag().unwrap_or("latest").to_owned(),
        };
        let path = format!("manifests/{target}");
        self.retry
            .run(&what, || async {
                let response = self
                    .get(ep, &what, &path, Some(&MANIFEST_TYPES.join(", ")), 0)
                    .await?;
                let url = response.url().to_string();
                let stated = response
                    .headers()
                    .get("Docker-Content-Digest")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let mut raw = Vec::new();
                let mut stream = response.bytes_stream();
                // One byte over the limit is enough for resolve.rs to refuse it.
                while (raw.len() as u64) <= MAX_JSON_SIZE {
                    match stream.next().await {
                        Some(Ok(chunk)) => raw.extend_from_slice(&chunk),
                        Some(Err(source)) => return Err(self.transport(&what, url, source)),
                        None => break,
                    }
                }
                let stated = stated.unwrap_or_else(|| Digest::sha256_of(&raw).to_string());
                Ok((Bytes::from(raw), stated))
            })
            .await
    }

    /// The blob's bytes from `offset` on, as they arrive (a `Range` request when `offset` is
    /// not 0), from the location that served the manifest. Nothing here checks the digest:
    /// the store's ingest does, over every byte, whichever response brought it.
    pub(super) async fn blob(&self, digest: &Digest, offset: u64) -> Result<BlobBody, PullError> {
        let ep = self.endpoint();
        let what = format!("blob {digest}");
        let path = format!("blobs/{digest}");
        self.retry
            .run(&what, || async {
                let response = self.get(ep, &what, &path, None, offset).await?;
                let url = response.url().to_string();
                let skip = match response.status() {
                    StatusCode::PARTIAL_CONTENT => {
                        let range = response
                            .headers()
                            .get(CONTENT_RANGE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default();
                        if !range.starts_with(&format!("bytes {offset}-")) {
                            return Err(PullError::Http {
                                reference: Box::new(self.reference.clone()),
                                status: 206,
                                detail: format!(
                                    "{what} at {url}: asked for bytes {offset}- and got \
                                     Content-Range {range:?}"
                                ),
                            });
                        }
                        0
                    }
                    // The whole blob again: the first `offset` bytes are the ones we have
                    // (same digest, same bytes; the ingest's check covers them all).
                    _ => offset,
                };
                Ok(BlobBody {
                    stream: response.bytes_stream().boxed(),
                    skip,
                    url,
                })
            })
            .await
    }

    /// A GET under the endpoint's `/v2/<repository>/`, with its credential; any answer but
    /// a 2xx is an error classified by status. A 401 to a request that carried a bearer
    /// token gets one fresh token and one more try: tokens expire, and a pull of large layers
    /// can outlast one.
    async fn get(
        &self,
        ep: &Endpoint,
        what: &str,
        path: &str,
        accept: Option<&str>,
        offset: u64,
    ) -> Result<reqwest::Response, PullError> {
        let url = ep.url(path);
        let mut refreshed = false;
        loop {
            let mut request = ep.http.get(&url);
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            if offset > 0 {
                request = request.header(RANGE, format!("bytes={offset}-"));
            }
            let credential = ep.credential();
            let bearer = credential
                .as_ref()
                .is_some_and(|c| c.as_bytes().starts_with(b"Bearer "));
            if let Some(c) = credential {
                request = request.header(AUTHORIZATION, c);
            }
            let response = request
                .send()
                .await
                .map_err(|source| self.transport(what, url.clone(), source))?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            if status == StatusCode::UNAUTHORIZED && bearer && !refreshed {
                refreshed = true;
                if let Some(i) = self.endpoints.iter().position(|e| std::ptr::eq(e, ep)) {
                    self.authenticate_at(i).await?;
                    continue;
                }
            }
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let body = response.bytes().await.unwrap_or_default();
            let detail = format!("{what} at {url}: {}", error_body(&body));
            let reference = Box::new(self.reference.clone());
            let anonymous = matches!(ep.auth, RegistryAuth::Anonymous);
            return Err(match status.as_u16() {
                429 => PullError::TooManyRequests {
                    reference,
                    detail,
                    retry_after,
                },
                code => by_status(reference, anonymous, code, what, detail),
            });
        }
    }

    fn transport(&self, what: &str, url: String, source: reqwest::Error) -> PullError {
        PullError::Transport {
            reference: Box::new(self.reference.clone()),
            what: what.to_owned(),
            url,
            source,
        }
    }

    /// Classifies an oci-client error by what the user should do about it.
    pub(super) fn error(
        &self,
        what: &str,
        expected: Option<&Digest>,
        e: OciDistributionError,
    ) -> PullError {
        let reference = Box::new(self.reference.clone());
        let anonymous = self.anonymous;
        match e {
            OciDistributionError::UnauthorizedError { url } => PullError::Unauthorized {
                reference,
                anonymous,
                detail: format!("{what} at {url}"),
            },
            OciDistributionError::AuthenticationFailure(reason) => PullError::Unauthorized {
                reference,
                anonymous,
                detail: format!("{what}: token request refused: {}", clip(&reason)),
            },
            OciDistributionError::ServerError { code, url, message } => {
                let detail = format!("{what} at {url}: {}", clip(&message));
                by_status(reference, anonymous, code, what, detail)
            }
            OciDistributionError::RegistryError { envelope, url } => {
                let codes: Vec<String> = envelope
                    .errors
                    .iter()
                    .map(|e| {
                        let code = serde_json::to_value(&e.code)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_else(|| format!("{:?}", e.code));
                        format!("{code}: {}", clip(&e.message))
                    })
                    .collect();
                let detail = format!("{what} at {url}: {}", codes.join("; "));
                // oci-client keeps the distribution-spec code, not the HTTP status; the spec
                // ties each code to its status.
                let status = match envelope.errors.first().map(|e| &e.code) {
                    Some(OciErrorCode::Unauthorized) => 401,
                    Some(OciErrorCode::Denied) => 403,
                    Some(
                        OciErrorCode::NameUnknown
                        | OciErrorCode::ManifestUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound,
                    ) => 404,
                    Some(OciErrorCode::Toomanyrequests) => 429,
                    _ => 400,
                };
                by_status(reference, anonymous, status, what, detail)
            }
            OciDistributionError::DigestError(OciDigestError::VerificationError {
                expected: stated,
                actual,
            }) => PullError::DigestMismatch {
                reference,
                expected: expected.map_or(stated, ToString::to_string),
                actual,
            },
            OciDistributionError::RequestError(source) => PullError::Transport {
                reference,
                what: what.to_owned(),
                url: source.url().map(ToString::to_string).unwrap_or_default(),
                source,
            },
            source => PullError::Registry {
                reference,
                what: what.to_owned(),
                source,
            },
        }
    }
}

fn by_status(
    reference: Box<Reference>,
    anonymous: bool,
    status: u16,
    what: &str,
    detail: String,
) -> PullError {
    match status {
        401 => PullError::Unauthorized {
            reference,
            anonymous,
            detail,
        },
        403 => PullError::Denied { reference, detail },
        404 => PullError::NotFound {
            reference,
            what: what.to_owned(),
            detail,
        },
        429 => PullError::TooManyRequests {
            reference,
            detail,
            retry_after: None,
        },
        status => PullError::Http {
            reference,
            status,
            detail,
        },
    }
}

fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_DETAIL) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// A registry's error body, short: the distribution spec's `{"errors":[{code,message}]}` as
/// `CODE: message; …`, anything else (an HTML page from a proxy) clipped.
fn error_body(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Envelope>(body) {
        Ok(e) if !e.errors.is_empty() => e
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code, clip(&e.message)))
            .collect::<Vec<_>>()
            .join("; "),
        _ => clip(&String::from_utf8_lossy(body)),
    }
}
