//! `arca __monitor ID [--attached]` (hidden): the body of a detached container's monitor
//! process, started by `run -d` and `start`. Its stdout is the pipe the starting command reads
//! "ok" from; a copy of it is taken first, since fd 1 is about to become the container's
//! stdout. With `--attached` (`start -a`) its stdin is an attach connection, kept the same way.

use std::fs::File;

use anyhow::{Context, Result};
use arca_engine::Engine;

pub fn monitor(engine: &Engine, id: &str, attached: bool) -> Result<i32> {
    let ready = rustix::io::fcntl_dupfd_cloexec(std::io::stdout(), 3)
        .context("keeping the monitor's report channel")?;
    let client = if attached {
        Some(
            rustix::io::fcntl_dupfd_cloexec(std::io::stdin(), 3)
                .context("keeping the attach connection")?,
        )
    } else {
        None
    };
    Ok(engine.monitor(id, File::from(ready), client)?)
}
