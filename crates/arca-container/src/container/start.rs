//! `start`: one byte into the exec fifo releases the waiting init; then the poststart hooks.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use crate::error::{Error, Result};
use crate::state::{Status, EXEC_FIFO};
use crate::store::Store;

fn wait_for_no_readers(f: &std::fs::File) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    loop {
        let mut fds = [PollFd::new(f.as_fd(), PollFlags::empty())];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            _ => return,
        }
    }
}

pub fn start(store: &Store, id: &str) -> Result<()> {
    let lock = store.lock(id)?;
    let st = store.load(id)?;
    let dir = store.dir(id);
    let status = st.status(&dir);
    if status != Status::Created {
        return Err(Error::BadState {
            id: id.to_owned(),
            action: "start",
            status: status.to_string(),
        });
    }
    let fifo = dir.join(EXEC_FIFO);
    // Non-blocking: if the init is not holding the fifo (it died), fail instead of hanging.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .map_err(|e| Error::io("opening exec fifo (is the container init alive?)", &fifo, e))?;
    f.write_all(&[0])
        .map_err(|e| Error::io("writing", &fifo, e))?;
    // The init holds the fifo's only read side, close-on-exec: once it is gone the kernel
    // reports POLLERR on our write side. That is the moment the user's process runs (or the
    // init died), after which the poststart hooks may run, as the spec orders.
    wait_for_no_readers(&f);
    drop(f);
    std::fs::remove_file(&fifo).map_err(|e| Error::io("removing", &fifo, e))?;
    drop(lock);
    run_poststart(&st);
    Ok(())
}

/// The poststart hooks, once the user's process runs; their failures are only logged, as the
/// spec says.
pub(super) fn run_poststart(st: &crate::state::ContainerState) {
    let state = st.oci_state(Status::Running);
    for hook in &st.poststart {
        if let Err(e) = crate::hooks::run("poststart", hook, &state) {
            tracing::warn!("{e}");
        }
    }
}
