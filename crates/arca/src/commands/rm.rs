//! `arca rm`: a container's record, writable snapshot, mount, runtime state and directory.

use anyhow::Result;
use arca_engine::Engine;

pub fn rm(engine: &Engine, force: bool, containers: &[String]) -> Result<i32> {
    super::stop::each(containers, |what| {
        let rec = engine.find(what)?;
        engine.remove(&rec, force)?;
        Ok(())
    })
}
