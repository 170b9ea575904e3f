//! `start`: one byte into the exec fifo releases the waiting init; then the poststart hooks.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use crate::error::{Error, Result};
use crate::state::{Status, EXEC_FIFO};
use crate::store::Store;

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
    drop(f);
    std::fs::remove_file(&fifo).map_err(|e| Error::io("removing", &fifo, e))?;
    drop(lock);
    let state = st.oci_state(Status::Running);
    for hook in &st.poststart {
        if let Err(e) = crate::hooks::run("poststart", hook, &state) {
            tracing::warn!("{e}");
        }
    }
    Ok(())
}
