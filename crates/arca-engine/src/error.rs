//! The engine's errors, and the exit codes Docker gives them: 125 when arca itself fails,
//! 126 when the command cannot be invoked, 127 when it is not found.

use std::path::{Path, PathBuf};

use crate::records::RecordError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Records(#[from] RecordError),
    #[error(transparent)]
    Snapshot(#[from] arca_image::snapshot::SnapshotError),
    #[error(transparent)]
    Runtime(#[from] arca_container::Error),
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    #[error("container {name} is {state}: {hint}")]
    BadState {
        name: String,
        state: String,
        hint: &'static str,
    },
    #[error("invalid container name {0:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit")]
    BadName(String),
    /// The command is not in the container (exit 127).
    #[error("{0}: executable file not found in $PATH")]
    NotFound(String),
    /// The command exists but cannot be run (exit 126).
    #[error("{0}: permission denied")]
    NotExecutable(String),
    /// Docker's words, so scripts matching them keep working.
    #[error("container {0}: You cannot attach to a stopped container, start it first")]
    AttachStopped(String),
    #[error("the monitor of container {id} failed: {msg}")]
    Monitor { id: String, msg: String },
    #[error("{0}")]
    Spec(String),
    #[error("no such volume: {0}")]
    NoSuchVolume(String),
    #[error("invalid volume name {0:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit (two characters at least)")]
    BadVolumeName(String),
    #[error(transparent)]
    Net(#[from] arca_net::NetError),
    #[error("volume {name} is in use by container {containers}: remove the container first, or use volume rm -f")]
    VolumeInUse { name: String, containers: String },
}

impl EngineError {
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> EngineError {
        EngineError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    }

    /// Docker's exit status for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::NotFound(_) => 127,
            EngineError::NotExecutable(_) => 126,
            _ => 125,
        }
    }
}
