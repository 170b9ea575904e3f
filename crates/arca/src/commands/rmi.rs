//! `arca rmi` and `arca image prune`: untag or remove images, then collect the blobs, layer
//! snapshots and file objects no image refers to any more (under the exclusive GC lock, so a
//! concurrent pull is never robbed).

use std::time::Duration;

use anyhow::{bail, Result};
use arca_image::gc;

use super::ImageState;
use crate::units;

/// Ingest files older than this are leftovers of a pull that died.
const STALE_INGEST: Duration = Duration::from_secs(3600);

pub fn rmi(state: &mut ImageState, images: &[String]) -> Result<i32> {
    if images.is_empty() {
        bail!("rmi: name at least one image");
    }
    let mut failed = false;
    for what in images {
        let Some(record) = state.catalog.resolve(what)? else {
            eprintln!("arca: rmi: {what}: no such image");
            failed = true;
            continue;
        };
        if record.names.iter().any(|n| n == what) {
            println!("Untagged: {what}");
            if let Some(id) = state.catalog.untag(what)? {
                println!("Deleted: {id}");
            }
        } else {
            for n in &record.names {
                println!("Untagged: {n}");
            }
            state.catalog.remove(&record.id)?;
            println!("Deleted: {}", record.id);
        }
    }
    gc::collect_all(&state.store, &mut state.catalog, &state.snapshots)?;
    Ok(i32::from(failed))
}

pub fn prune(state: &mut ImageState) -> Result<i32> {
    let c = gc::collect_all(&state.store, &mut state.catalog, &state.snapshots)?;
    let freed = c.blob_bytes + c.object_bytes;
    let stale = state.store.cleanup_ingest(STALE_INGEST)?;
    if stale > 0 {
        println!("removed {stale} leftover ingest file(s)");
    }
    println!("Total reclaimed space: {}", units::size(freed));
    Ok(0)
}
