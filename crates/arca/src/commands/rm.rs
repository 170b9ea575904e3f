//! `arca rm`: a container's record, writable snapshot, mount, runtime state and directory
//! (and, with `-v`, its anonymous volumes).

use anyhow::Result;
use arca_engine::Engine;

pub fn rm(engine: &Engine, force: bool, volumes: bool, containers: &[String]) -> Result<i32> {
    super::stop::each(containers, |what| {
        let rec = engine.find(what)?;
        engine.remove(&rec, force)?;
        if volumes {
            engine.remove_anonymous_volumes(&rec.settings);
        }
        Ok(())
    })
}
