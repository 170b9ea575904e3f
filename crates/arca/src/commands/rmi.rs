//! `arca rmi` and `arca image prune`: untag or remove images, then collect the blobs, layer
//! snapshots and file objects no image refers to any more (under the exclusive GC lock, so a
//! concurrent pull is never robbed). `system prune` removes images through [`prune_images`].

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{bail, Result};
use arca_engine::Engine;
use arca_image::catalog::ImageRecord;
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
            for line in remove(state, &record)? {
                println!("{line}");
            }
        }
    }
    gc::collect_all(&state.store, &mut state.catalog, &state.snapshots)?;
    Ok(i32::from(failed))
}

/// Removes an image and every name it has; the lines saying so, as `rmi` prints them.
fn remove(state: &mut ImageState, record: &ImageRecord) -> Result<Vec<String>> {
    let mut lines: Vec<String> = record
        .names
        .iter()
        .map(|n| format!("Untagged: {n}"))
        .collect();
    state.catalog.remove(&record.id)?;
    lines.push(format!("Deleted: {}", record.id));
    Ok(lines)
}

/// What [`prune_images`] did.
pub struct PrunedImages {
    /// `Untagged: …` and `Deleted: …` lines.
    pub lines: Vec<String>,
    /// Blob and file-object bytes the collection freed.
    pub bytes: u64,
    /// Leftover ingest files removed.
    pub stale_ingest: usize,
}

/// Docker's image prune: the dangling (unnamed) images, or with `all` every image, except those
/// a container was made from (`in_use`, image ids); then the collection of what no image needs.
pub fn prune_images(
    state: &mut ImageState,
    in_use: &HashSet<String>,
    all: bool,
) -> Result<PrunedImages> {
    let mut lines = Vec::new();
    for record in state.catalog.list()? {
        if (all || record.names.is_empty()) && !in_use.contains(&record.id.to_string()) {
            lines.extend(remove(state, &record)?);
        }
    }
    let c = gc::collect_all(&state.store, &mut state.catalog, &state.snapshots)?;
    Ok(PrunedImages {
        lines,
        bytes: c.blob_bytes + c.object_bytes,
        stale_ingest: state.store.cleanup_ingest(STALE_INGEST)?,
    })
}

/// `image prune [-a]`.
pub fn prune(state: &mut ImageState, engine: &Engine, all: bool) -> Result<i32> {
    let p = prune_images(state, &engine.images_in_use()?, all)?;
    if !p.lines.is_empty() {
        println!("Deleted Images:");
        for line in &p.lines {
            println!("{line}");
        }
        println!();
    }
    if p.stale_ingest > 0 {
        println!("removed {} leftover ingest file(s)", p.stale_ingest);
    }
    println!("Total reclaimed space: {}", units::size(p.bytes));
    Ok(0)
}
