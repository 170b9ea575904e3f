//! Where a container's pty master comes from: the runtime library's init opens the pty inside
//! the container and sends the master over a unix socket (runc's `--console-socket`). The
//! socket lives in a short directory of its own (`/run/arca/console/`, or the rootless user's
//! run directory), since a socket path
//! must fit in 108 bytes and a container's directory under a long `--root` does not.

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use crate::error::EngineError;

/// A bound console socket, removed when dropped.
#[derive(Debug)]
pub(crate) struct ConsoleSocket {
    pub(crate) listener: UnixListener,
    pub(crate) path: PathBuf,
}

impl ConsoleSocket {
    /// A new socket in `dir` (the engine's `console_dir`).
    pub(crate) fn bind(dir: &Path) -> Result<ConsoleSocket, EngineError> {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io("create", dir, e))?;
        let path = dir.join(format!("{}.sock", &crate::names::new_id()[..16]));
        let listener = UnixListener::bind(&path).map_err(|e| EngineError::io("bind", &path, e))?;
        Ok(ConsoleSocket { listener, path })
    }

    /// The master, once the init sent it.
    pub(crate) fn receive(&self) -> Result<std::os::fd::OwnedFd, EngineError> {
        Ok(arca_container::init::console::receive_master(
            &self.listener,
        )?)
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
