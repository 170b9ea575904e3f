//! `arca __monitor ID` (hidden): the body of a detached container's monitor process, started
//! by `run -d` and `start`. Its stdout is the pipe the starting command reads "ok" from.

use anyhow::Result;
use arca_engine::Engine;

pub fn monitor(engine: &Engine, id: &str) -> Result<i32> {
    let ready = std::io::stdout();
    Ok(engine.monitor(id, ready)?)
}
