use std::path::PathBuf;

/// What can go wrong setting up or tearing down a container's network. Each variant names the
/// file, network or plugin concerned, so the message alone says where to look.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("network config {path}: {reason}")]
    BadConfig { path: PathBuf, reason: String },
    #[error("no network named {0:?} (see `arca network ls`)")]
    NoSuchNetwork(String),
    #[error("network {0:?} already exists")]
    NetworkExists(String),
    #[error("network {name:?} is in use by container(s) {users}")]
    NetworkInUse { name: String, users: String },
    #[error("CNI plugin {plugin:?} not found in {path} (install containernetworking-plugins, or set --cni-plugin-dir)")]
    PluginNotFound { plugin: String, path: String },
    #[error(transparent)]
    Plugin(Box<PluginFailure>),
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("network namespace {path}: {op}: {source}")]
    Netns {
        op: &'static str,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("no free subnet for a new network: every candidate in {0} overlaps a route or another network (give --subnet)")]
    NoFreeSubnet(String),
}

/// A plugin's own error (the spec's error object: code, msg, details), with where it came from.
#[derive(Debug, thiserror::Error)]
#[error("network {network:?}: CNI plugin {plugin} {command} failed: {msg}{}",
    details.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
pub struct PluginFailure {
    pub network: String,
    pub plugin: String,
    pub command: &'static str,
    pub code: Option<u64>,
    pub msg: String,
    pub details: Option<String>,
}

impl NetError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        NetError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        NetError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
