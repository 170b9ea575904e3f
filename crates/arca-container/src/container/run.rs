//! `run`: create and start in one process, in one call (`CreateOptions::start`). In the
//! foreground the init is our child: we wait for it forwarding signals, pass its exit code
//! through and delete the container after it.
//! With `terminal: true` and no `--console-socket`, we take the pty master ourselves.

use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use nix::unistd::Pid;

use super::create::create_from;
use super::{delete, CreateOptions};
use crate::error::{Error, Result};
use crate::spec::Bundle;
use crate::store::Store;

/// Removes the temporary console socket however `run` ends.
struct TempSocket(PathBuf);

impl Drop for TempSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn run(store: &Store, opts: &CreateOptions, detach: bool) -> Result<i32> {
    let mut opts = opts.clone();
    // Nobody else can start it in between: created and started in one call, no exec fifo.
    opts.start = true;
    let bundle = Bundle::load(&opts.bundle)?;
    let terminal = opts.console_socket.is_none()
        && bundle.spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    if terminal && detach {
        return Err(Error::Usage(
            "process.terminal is true: a detached run needs --console-socket".into(),
        ));
    }
    let console = if terminal {
        let path = store
            .root()
            .join(format!(".console-{}-{}.sock", opts.id, std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener =
            UnixListener::bind(&path).map_err(|e| Error::io("binding console socket", &path, e))?;
        opts.console_socket = Some(path.clone());
        Some((listener, TempSocket(path)))
    } else {
        None
    };
    let sigset = if detach {
        None
    } else {
        Some(super::wait::block_signals()?)
    };
    let st = create_from(store, &opts, bundle)?;
    let master = match &console {
        Some((listener, _)) => match crate::init::console::receive_master(listener) {
            Ok(m) => Some(m),
            Err(e) => {
                let _ = delete(store, &opts.id, true);
                return Err(e);
            }
        },
        None => None,
    };
    drop(console);
    let Some(set) = sigset else {
        return Ok(0);
    };
    let pid = Pid::from_raw(st.pid);
    let code = match master {
        Some(m) => super::console_proxy::proxy_until_exit(pid, m, &set),
        None => super::wait::wait_forwarding_signals(pid, &set),
    };
    delete(store, &opts.id, true)?;
    code
}
