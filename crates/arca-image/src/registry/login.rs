//! Checking credentials against a registry before they are stored (`arca login`), so a typo
//! is reported at login rather than as a 401 on some later pull.
//!
//! As Podman does: `GET /v2/` with the credentials. A registry doing basic auth answers 200
//! or 401 to that directly. One doing bearer tokens answers 401 with a `Bearer` challenge
//! whatever we send; then the token flow is run with the credentials (oci-client's, as for
//! pulls), and its token server is what accepts or refuses them.

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::StatusCode;

use super::endpoint::plain_http;
use super::remote::Remote;
use super::{PullError, PullOptions};
use crate::reference::Reference;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("logging in to {registry}: invalid username/password (401): {detail}")]
    Refused { registry: String, detail: String },
    #[error("logging in to {registry}: the registry answered HTTP {status} to GET {url}")]
    Http {
        registry: String,
        status: u16,
        url: String,
    },
    #[error("logging in to {registry}: {registry:?} is not a registry host[:port]: {reason}")]
    BadRegistry { registry: String, reason: String },
    #[error("logging in to {registry}: GET {url}: {source}")]
    Connect {
        registry: String,
        url: String,
        source: reqwest::Error,
    },
    #[error("logging in to {registry}: {source}")]
    Token {
        registry: String,
        // Boxed: a pull error is large, and most logins never make one.
        source: Box<PullError>,
    },
    #[error("logging in to {registry}: starting the runtime: {source}")]
    Runtime {
        registry: String,
        source: std::io::Error,
    },
}

/// Checks `user`/`password` against `registry` (`host[:port]`, as `docker.io`). Plain HTTP
/// only where pulls would use it (loopback, `insecure_hosts`). Blocking: runs its own
/// runtime, like [`pull`](super::pull).
pub fn login(
    registry: &str,
    user: &str,
    password: &str,
    insecure_hosts: &[String],
) -> Result<(), LoginError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| LoginError::Runtime {
            registry: registry.to_owned(),
            source,
        })?;
    runtime.block_on(login_async(registry, user, password, insecure_hosts))
}

async fn login_async(
    registry: &str,
    user: &str,
    password: &str,
    insecure_hosts: &[String],
) -> Result<(), LoginError> {
    // A reference in the registry, only for the connection setup pulls use (API host,
    // scheme) and the token flow's scope; the repository need not exist.
    let reference = Reference::parse(&format!("{registry}/arca-login-check")).map_err(|e| {
        LoginError::BadRegistry {
            registry: registry.to_owned(),
            reason: e.to_string(),
        }
    })?;
    if reference.registry() != registry {
        return Err(LoginError::BadRegistry {
            registry: registry.to_owned(),
            reason: format!("it names {}", reference.registry()),
        });
    }
    let scheme = if plain_http(&reference, insecure_hosts) {
        "http"
    } else {
        "https"
    };
    let url = format!("{scheme}://{}/v2/", reference.api_host());
    let connect = |source| LoginError::Connect {
        registry: registry.to_owned(),
        url: url.clone(),
        source,
    };
    let client = reqwest::Client::builder()
        .user_agent(concat!("arca/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(connect)?;
    let response = client
        .get(&url)
        .basic_auth(user, Some(password))
        .send()
        .await
        .map_err(connect)?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    if status != StatusCode::UNAUTHORIZED {
        return Err(LoginError::Http {
            registry: registry.to_owned(),
            status: status.as_u16(),
            url,
        });
    }
    let bearer = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("bearer"));
    if !bearer {
        return Err(LoginError::Refused {
            registry: registry.to_owned(),
            detail: format!("GET {url}"),
        });
    }
    let opts = PullOptions {
        auth: Some((user.to_owned(), password.to_owned())),
        insecure_hosts: insecure_hosts.to_vec(),
        ..PullOptions::default()
    };
    match Remote::new(&reference, &opts).authenticate().await {
        Ok(()) => Ok(()),
        Err(PullError::Unauthorized { detail, .. }) => Err(LoginError::Refused {
            registry: registry.to_owned(),
            detail,
        }),
        Err(source) => Err(LoginError::Token {
            registry: registry.to_owned(),
            source: Box::new(source),
        }),
    }
}
