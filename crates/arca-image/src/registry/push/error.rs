use crate::digest::Digest;
use crate::layout::LayoutError;
use crate::reference::Reference;
use crate::registry::PullError;
use crate::store::StoreError;

/// Why a push failed. Every variant names the destination; registry answers are classified by
/// status exactly as for pulls (the same code reads them), so "no credentials" (401), "not
/// allowed to write here" (403) and "no such repository" (404) are told apart.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("pushing {reference}: authentication required (401){}: {detail}", hint(*.anonymous))]
    Unauthorized {
        reference: Box<Reference>,
        anonymous: bool,
        detail: String,
    },
    #[error("pushing {reference}: access denied (403): {detail}")]
    Denied {
        reference: Box<Reference>,
        detail: String,
    },
    #[error("pushing {reference}: {what} not found (404): {detail}")]
    NotFound {
        reference: Box<Reference>,
        what: String,
        detail: String,
    },
    #[error(
        "pushing {reference}: the registry is rate-limiting us (429), try again later: {detail}"
    )]
    TooManyRequests {
        reference: Box<Reference>,
        detail: String,
    },
    #[error("pushing {reference}: the registry answered HTTP {status}: {detail}")]
    Http {
        reference: Box<Reference>,
        status: u16,
        detail: String,
    },
    #[error("pushing {reference}: {what}: {source}")]
    Registry {
        reference: Box<Reference>,
        what: String,
        source: oci_client::errors::OciDistributionError,
    },
    /// Anything else the shared classification produced (its text, reworded for a push).
    #[error("pushing {reference}: {detail}")]
    Other {
        reference: Box<Reference>,
        detail: String,
    },
    #[error("pushing {reference}: the reference's digest is not the image's manifest {manifest}")]
    DigestConflict {
        reference: Box<Reference>,
        manifest: Digest,
    },
    #[error("pushing {reference}: {source}")]
    Document {
        reference: Box<Reference>,
        source: LayoutError,
    },
    #[error("pushing {reference}: {source}")]
    Store {
        reference: Box<Reference>,
        source: StoreError,
    },
    #[error("pushing {reference}: starting the upload runtime: {source}")]
    Runtime {
        reference: Box<Reference>,
        source: std::io::Error,
    },
}

impl PushError {
    /// The pull side's classification of a registry error, as a push error.
    pub(super) fn from_pull(e: PullError) -> PushError {
        match e {
            PullError::Unauthorized {
                reference,
                anonymous,
                detail,
            } => PushError::Unauthorized {
                reference,
                anonymous,
                detail,
            },
            PullError::Denied { reference, detail } => PushError::Denied { reference, detail },
            PullError::NotFound {
                reference,
                what,
                detail,
            } => PushError::NotFound {
                reference,
                what,
                detail,
            },
            PullError::TooManyRequests {
                reference, detail, ..
            } => PushError::TooManyRequests { reference, detail },
            PullError::Http {
                reference,
                status,
                detail,
            } => PushError::Http {
                reference,
                status,
                detail,
            },
            PullError::Registry {
                reference,
                what,
                source,
            } => PushError::Registry {
                reference,
                what,
                source,
            },
            other => {
                let text = other.to_string();
                let reference = pull_reference(other);
                let prefix = format!("pulling {reference}: ");
                PushError::Other {
                    detail: text.strip_prefix(&prefix).unwrap_or(&text).to_owned(),
                    reference,
                }
            }
        }
    }
}

fn pull_reference(e: PullError) -> Box<Reference> {
    match e {
        PullError::Unauthorized { reference, .. }
        | PullError::Denied { reference, .. }
        | PullError::NotFound { reference, .. }
        | PullError::TooManyRequests { reference, .. }
        | PullError::Http { reference, .. }
        | PullError::Registry { reference, .. }
        | PullError::Transport { reference, .. }
        | PullError::Interrupted { reference, .. }
        | PullError::Blocked { reference, .. }
        | PullError::DigestMismatch { reference, .. }
        | PullError::SizeMismatch { reference, .. }
        | PullError::TooLarge { reference, .. }
        | PullError::NoPlatform { reference, .. }
        | PullError::MediaType { reference, .. }
        | PullError::TooDeep { reference, .. }
        | PullError::Document { reference, .. }
        | PullError::Store { reference, .. }
        | PullError::Runtime { reference, .. } => reference,
    }
}

fn hint(anonymous: bool) -> &'static str {
    if anonymous {
        " and no credentials were given"
    } else {
        ", the credentials were refused"
    }
}
