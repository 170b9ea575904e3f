//! One registry conversation through `oci-client`: where to connect (plain HTTP only for
//! loopback and the hosts the caller names), which credentials, and what its errors mean.

use std::net::IpAddr;

use oci_client::client::{ClientConfig, ClientProtocol, SizedStream};
use oci_client::errors::{DigestError as OciDigestError, OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, RegistryOperation};

use super::{PullError, PullOptions};
use crate::digest::Digest;
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
    client: Client,
    auth: RegistryAuth,
    /// `oci-client`'s form of `reference`, addressed at the API host.
    base: oci_client::Reference,
    pub(super) reference: &'a Reference,
}

/// Plain HTTP is only ever chosen for the loopback (nothing crosses a network, which is how
/// Docker and Podman treat `localhost` registries too) or for hosts the caller listed; every
/// other registry is HTTPS with certificate checks, never downgraded on failure.
pub fn plain_http(reference: &Reference, insecure_hosts: &[String]) -> bool {
    let host = reference.host();
    let loopback = host == "localhost"
        || match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => v4.is_loopback(),
            Ok(IpAddr::V6(v6)) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
            Err(_) => false,
        };
    loopback
        || insecure_hosts
            .iter()
            .any(|h| h == reference.registry() || h == host)
}

impl<'a> Remote<'a> {
    pub(super) fn new(reference: &'a Reference, opts: &PullOptions) -> Remote<'a> {
        let api_host = reference.api_host().to_owned();
        let protocol = if plain_http(reference, &opts.insecure_hosts) {
            ClientProtocol::HttpsExcept(vec![api_host.clone()])
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            // We choose platforms ourselves (see resolve.rs); oci-client never picks.
            platform_resolver: None,
            user_agent: concat!("arca/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let repository = reference.repository().to_owned();
        let base = match (reference.digest(), reference.tag()) {
            (Some(d), _) => oci_client::Reference::with_digest(api_host, repository, d.to_string()),
            (None, t) => oci_client::Reference::with_tag(
                api_host,
                repository,
                t.unwrap_or("latest").to_owned(),
            ),
        };
        let auth = match &opts.auth {
            Some((user, password)) => RegistryAuth::Basic(user.clone(), password.clone()),
            None => RegistryAuth::Anonymous,
        };
        Remote {
            client: Client::new(config),
            auth,
            base,
            reference,
        }
    }

    /// The client, the reference in its form and the credentials, for the push side
    /// (push.rs): it shares this connection setup and [`error`](Self::error), but speaks its
    /// own requests.
    pub(super) fn parts(&self) -> (&Client, &oci_client::Reference, &RegistryAuth) {
        (&self.client, &self.base, &self.auth)
    }

    /// Asks `/v2/` how to authenticate and, for a bearer challenge, fetches a pull token
    /// for this repository (with the credentials, if any). Done up front so a refused login
    /// is reported as such, not as the 401 of whatever request came first.
    pub(super) async fn authenticate(&self) -> Result<(), PullError> {
        self.client
            .auth(&self.base, &self.auth, RegistryOperation::Pull)
            .await
            .map(|_| ())
            .map_err(|e| self.error("authenticating", None, e))
    }

    /// The manifest or index named by the reference's tag/digest (`None`) or by `digest`,
    /// raw, with the digest the registry stated (`Docker-Content-Digest`, which oci-client
    /// has already checked the bytes against) or computed.
    pub(super) async fn manifest(
        &self,
        digest: Option<&Digest>,
    ) -> Result<(bytes::Bytes, String), PullError> {
        let target = match digest {
            Some(d) => self.base.clone_with_digest(d.to_string()),
            None => self.base.clone(),
        };
        let what = match digest {
            Some(d) => format!("manifest {d}"),
            None => "manifest".to_owned(),
        };
        let expected = digest.or(self.reference.digest());
        self.client
            .pull_manifest_raw(&target, &self.auth, MANIFEST_TYPES)
            .await
            .map_err(|e| self.error(&what, expected, e))
    }

    /// The blob's bytes as they arrive. oci-client hashes them too and ends the stream with
    /// an error on a mismatch; the store's ingest is the check we rely on.
    pub(super) async fn blob(&self, digest: &Digest) -> Result<SizedStream, PullError> {
        let d = digest.to_string();
        self.client
            .pull_blob_stream(&self.base, d.as_str())
            .await
            .map_err(|e| self.error(&format!("blob {digest}"), Some(digest), e))
    }

    /// Classifies an oci-client error by what the user should do about it.
    pub(super) fn error(
        &self,
        what: &str,
        expected: Option<&Digest>,
        e: OciDistributionError,
    ) -> PullError {
        let reference = Box::new(self.reference.clone());
        let anonymous = matches!(self.auth, RegistryAuth::Anonymous);
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
        429 => PullError::TooManyRequests { reference, detail },
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

/// The oci-client digest error a blob stream ends with, if that is what `e` carries.
pub(super) fn stream_digest_error(e: &std::io::Error) -> Option<String> {
    match e.get_ref()?.downcast_ref::<OciDigestError>()? {
        OciDigestError::VerificationError { actual, .. } => Some(actual.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    #[test]
    fn plain_http_only_for_loopback_and_listed_hosts() {
        assert!(plain_http(&r("localhost/x"), &[]));
        assert!(plain_http(&r("localhost:5000/x"), &[]));
        assert!(plain_http(&r("127.0.0.1:5000/x"), &[]));
        assert!(plain_http(&r("127.1.2.3/x"), &[]));
        assert!(plain_http(&r("[::1]:5000/x"), &[]));
        assert!(!plain_http(&r("128.0.0.1/x"), &[]));
        assert!(!plain_http(&r("busybox"), &[]));
        assert!(!plain_http(&r("localhost.example.com/x"), &[]));
        assert!(!plain_http(&r("10.0.0.1:5000/x"), &[]));
        assert!(plain_http(
            &r("10.0.0.1:5000/x"),
            &["10.0.0.1:5000".to_owned()]
        ));
        assert!(plain_http(&r("reg.lan/x"), &["reg.lan".to_owned()]));
    }
}
