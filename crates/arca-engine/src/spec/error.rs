//! Why a spec could not be built. Every variant names the flag and the value at fault, since
//! the user reads these as `arca run` errors (exit status 125, as Docker).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A flag's value is malformed or not supported.
    #[error("{flag} {value:?}: {reason}")]
    Invalid {
        flag: &'static str,
        value: String,
        reason: String,
    },
    /// A user name absent from the container's `/etc/passwd` (a numeric uid need not be there).
    #[error("unable to find user {user}: no matching entries in passwd file")]
    NoSuchUser { user: String },
    /// A group name absent from the container's `/etc/group`.
    #[error("unable to find group {group}: no matching entries in group file")]
    NoSuchGroup { group: String },
    /// A file the flag names (or the container's passwd/group file) could not be read.
    #[error("{flag} {value:?}: {}: {source}", path.display())]
    Io {
        flag: &'static str,
        value: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl SpecError {
    pub(crate) fn invalid(
        flag: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> SpecError {
        SpecError::Invalid {
            flag,
            value: value.into(),
            reason: reason.into(),
        }
    }
}
