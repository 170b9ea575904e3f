use std::path::PathBuf;
use std::time::Duration;

use crate::digest::Digest;
use crate::layout::LayoutError;
use crate::reference::Reference;
use crate::store::StoreError;

/// Why a pull failed. Every variant names the reference being pulled; those about one blob
/// name its digest too. Registry answers are classified by HTTP status (or, where the client
/// only keeps the distribution-spec error code, by that code) so callers and users can tell
/// "wrong credentials" from "no such image" from "slow down". The reference is boxed in every
/// variant to keep the error (and every `Result` carrying it) small.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(
        "pulling {reference}: authentication required (401) by {}{}: {detail}",
        .reference.registry(), hint(*.anonymous, .reference.registry())
    )]
    Unauthorized {
        reference: Box<Reference>,
        anonymous: bool,
        detail: String,
    },
    #[error("pulling {reference}: access denied (403): {detail}")]
    Denied {
        reference: Box<Reference>,
        detail: String,
    },
    #[error("pulling {reference}: {what} not found (404): {detail}")]
    NotFound {
        reference: Box<Reference>,
        what: String,
        detail: String,
    },
    #[error(
        "pulling {reference}: too many requests (429): the registry is rate-limiting us, try \
         again {}: {detail}", later(*.retry_after)
    )]
    TooManyRequests {
        reference: Box<Reference>,
        detail: String,
        /// The registry's `Retry-After`, when it sent one in seconds.
        retry_after: Option<Duration>,
    },
    #[error("pulling {reference}: the registry answered HTTP {status}: {detail}")]
    Http {
        reference: Box<Reference>,
        status: u16,
        detail: String,
    },
    /// No HTTP answer at all: connection refused or reset, timeout, TLS failure. reqwest's
    /// own message is often just "error sending request"; its causes (the source chain, which
    /// `{:#}` printing adds) say what failed.
    #[error("pulling {reference}: {what}: GET {url}")]
    Transport {
        reference: Box<Reference>,
        what: String,
        url: String,
        source: reqwest::Error,
    },
    /// A blob download that kept breaking off, resumed as often as the retry policy allows.
    #[error("pulling {reference}: blob {digest}: GET {url}: {detail}")]
    Interrupted {
        reference: Box<Reference>,
        digest: Digest,
        url: String,
        detail: String,
    },
    /// registries.conf says `blocked = true` for the prefix the reference falls under.
    #[error(
        "pulling {reference}: registry {prefix} is blocked in {}",
        .config.as_deref().map_or("the registries configuration".into(), |p| p.display().to_string())
    )]
    Blocked {
        reference: Box<Reference>,
        prefix: String,
        config: Option<PathBuf>,
    },
    #[error("pulling {reference}: {what}: {source}")]
    Registry {
        reference: Box<Reference>,
        what: String,
        source: oci_client::errors::OciDistributionError,
    },
    #[error(
        "pulling {reference}: registry returned content for {expected} that hashes to {actual}"
    )]
    DigestMismatch {
        reference: Box<Reference>,
        expected: String,
        actual: String,
    },
    #[error(
        "pulling {reference}: registry returned {actual} bytes for {digest}, its descriptor says \
         {expected}"
    )]
    SizeMismatch {
        reference: Box<Reference>,
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("pulling {reference}: {what} is {size} bytes, over the {limit}-byte limit for JSON documents")]
    TooLarge {
        reference: Box<Reference>,
        what: String,
        size: u64,
        limit: u64,
    },
    #[error("pulling {reference}: no manifest for platform {wanted} in index {index}; platforms available: {available}")]
    NoPlatform {
        reference: Box<Reference>,
        index: Digest,
        wanted: String,
        available: String,
    },
    #[error(
        "pulling {reference}: {what} has media type {media_type:?}, not an image manifest or index"
    )]
    MediaType {
        reference: Box<Reference>,
        what: String,
        media_type: String,
    },
    #[error("pulling {reference}: indexes nested more than {depth} deep")]
    TooDeep {
        reference: Box<Reference>,
        depth: usize,
    },
    /// A manifest or config that parsed wrong or describes no usable image; the inner error's
    /// `at` says which document and field.
    #[error("pulling {reference}: {source}")]
    Document {
        reference: Box<Reference>,
        source: LayoutError,
    },
    #[error("pulling {reference}: {source}")]
    Store {
        reference: Box<Reference>,
        source: StoreError,
    },
    #[error("pulling {reference}: starting the download runtime: {source}")]
    Runtime {
        reference: Box<Reference>,
        source: std::io::Error,
    },
}

fn hint(anonymous: bool, registry: &str) -> String {
    if anonymous {
        format!(" and no credentials were given (log in with `arca login {registry}`)")
    } else {
        format!(", the credentials were refused (check them with `arca login {registry}`)")
    }
}

fn later(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!("in {} s", d.as_secs()),
        None => "later".to_owned(),
    }
}
