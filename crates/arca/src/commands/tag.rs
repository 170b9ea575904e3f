//! `arca tag SOURCE TARGET`: another name for an image already in the catalog.

use anyhow::{anyhow, Result};

use super::ImageState;

pub fn tag(state: &mut ImageState, source: &str, target: &str) -> Result<i32> {
    let record = state
        .catalog
        .resolve(source)?
        .ok_or_else(|| anyhow!("tag: {source}: no such image"))?;
    if !target.contains(':') || target.ends_with(':') {
        return Err(anyhow!("tag: {target:?}: want REPOSITORY:TAG"));
    }
    state.catalog.tag(&record.id, target)?;
    Ok(0)
}
