//! One place a pull fetches from (the registry, or a mirror of it from registries.conf): its
//! address and scheme, its HTTP clients, and the credential authentication settled on.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::Client;
use reqwest::header::HeaderValue;

use super::config::Source;
use super::PullOptions;
use crate::reference::Reference;

const USER_AGENT: &str = concat!("arca/", env!("CARGO_PKG_VERSION"));

/// Connecting may take this long; a registry that does not answer by then is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A body that stalls this long is a broken connection (retried, resumed), not a slow one.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// One location of the image: a mirror or the registry.
pub(super) struct Endpoint {
    pub(super) client: Client,
    pub(super) http: reqwest::Client,
    /// `oci-client`'s form of the reference, addressed at the API host.
    pub(super) base: oci_client::Reference,
    /// The user's reference rewritten to this location.
    pub(super) reference: Reference,
    pub(super) scheme: &'static str,
    pub(super) mirror: bool,
    /// The caller's credentials where they belong (the registry the user named), anonymous
    /// elsewhere: a mirror on another host must never see them.
    pub(super) auth: RegistryAuth,
    /// The `Authorization` value the last authentication produced.
    pub(super) credential: Mutex<Option<HeaderValue>>,
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

impl Endpoint {
    pub(super) fn new(source: &Source, named: &Reference, opts: &PullOptions) -> Endpoint {
        let reference = &source.reference;
        let api_host = reference.api_host().to_owned();
        let plain = source.insecure || plain_http(reference, &opts.insecure_hosts);
        let protocol = if plain {
            ClientProtocol::HttpsExcept(vec![api_host.clone()])
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            // An insecure registry's token server may well have a self-signed certificate.
            accept_invalid_certificates: plain,
            // We choose platforms ourselves (see resolve.rs); oci-client never picks.
            platform_resolver: None,
            user_agent: USER_AGENT,
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: Some(READ_TIMEOUT),
            ..ClientConfig::default()
        };
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .tls_danger_accept_invalid_certs(plain)
            .build()
            // Only a TLS backend that fails to initialise gets here; the default client
            // reports the same failure on the first request.
            .unwrap_or_default();
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
            Some((user, password)) if reference.registry() == named.registry() => {
                RegistryAuth::Basic(user.clone(), password.clone())
            }
            _ => RegistryAuth::Anonymous,
        };
        Endpoint {
            client: Client::new(config),
            http,
            base,
            reference: reference.clone(),
            scheme: if plain { "http" } else { "https" },
            mirror: source.mirror,
            auth,
            credential: Mutex::new(None),
        }
    }

    pub(super) fn credential(&self) -> Option<HeaderValue> {
        self.credential
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!(
            "{}://{}/v2/{}/{path}",
            self.scheme,
            self.reference.api_host(),
            self.reference.repository()
        )
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
