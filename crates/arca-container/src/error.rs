//! The runtime library's error type: each variant names what failed and where, so the CLI can
//! print one line that tells the user which field, file or step to look at.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid container id {0:?}: use letters, digits and _ + - . only")]
    InvalidId(String),
    #[error("{file}: {msg}")]
    Spec { file: PathBuf, msg: String },
    #[error("container {0:?} already exists")]
    Exists(String),
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("cannot {action} container {id:?}: it is {status}")]
    BadState {
        id: String,
        action: &'static str,
        status: String,
    },
    // The cause is part of the message (not a `#[source]`), so that printing the error chain
    // does not repeat it.
    #[error("{op} {path}: {err}")]
    Io {
        op: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("{op}: {err}")]
    Sys { op: String, err: nix::Error },
    #[error(transparent)]
    Cgroup(#[from] arca_cgroups::CgroupError),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    /// An error raised inside the container's init process, reported by the parent.
    #[error("container init failed at {step}: {msg}")]
    Init { step: String, msg: String },
    /// An error raised in the process `exec` started, before it could exec.
    #[error("exec failed: {0}")]
    Exec(String),
    #[error("{kind} hook {path}: {msg}")]
    Hook {
        kind: &'static str,
        path: PathBuf,
        msg: String,
    },
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            err: source,
        }
    }

    pub fn sys(op: impl Into<String>, source: nix::Error) -> Self {
        Error::Sys {
            op: op.into(),
            err: source,
        }
    }
}

/// Attaches an operation name to a nix result.
pub trait SysContext<T> {
    fn ctx(self, op: impl FnOnce() -> String) -> Result<T>;
}

impl<T> SysContext<T> for nix::Result<T> {
    fn ctx(self, op: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sys(op(), e))
    }
}

impl<T> SysContext<T> for std::io::Result<T> {
    fn ctx(self, op: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sys(op(), nix::Error::from_raw(e.raw_os_error().unwrap_or(0))))
    }
}
