//! `arca __monitor ID` (hidden): the body of a detached container's monitor process, started
//! by `run -d` and `start`. Its stdout is the pipe the starting command reads "ok" from; a
//! copy of it is taken first, since fd 1 is about to become the container's stdout.

use std::fs::File;

use anyhow::{Context, Result};
use arca_engine::Engine;

pub fn monitor(engine: &Engine, id: &str) -> Result<i32> {
    let ready = rustix::io::fcntl_dupfd_cloexec(std::io::stdout(), 3)
        .context("keeping the monitor's report channel")?;
    Ok(engine.monitor(id, File::from(ready))?)
}
