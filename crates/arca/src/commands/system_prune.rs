//! `arca system prune [-a] [--volumes]`: Docker's order and semantics, each step the verb of its
//! own (`container prune`, `volume prune`, `image prune`): stopped containers first (so their
//! images and volumes become unused), then unused networks, then, with `--volumes`, unused
//! anonymous volumes (named ones are kept, as Docker 23+ does), then dangling images (with
//! `-a`, every image no container was made from) and what the collection frees.

use anyhow::Result;
use arca_engine::Engine;

use super::{rmi, ImageState};
use crate::units;

pub fn prune(state: &mut ImageState, engine: &Engine, all: bool, volumes: bool) -> Result<i32> {
    let containers = engine.prune()?;
    section("Deleted Containers:", &containers.removed);
    let mut bytes = containers.bytes;

    section("Deleted Networks:", &engine.network_prune()?);

    if volumes {
        let v = engine.volume_prune(true)?;
        section("Deleted Volumes:", &v.removed);
        bytes += v.bytes;
    }

    let images = rmi::prune_images(state, &engine.images_in_use()?, all)?;
    section("Deleted Images:", &images.lines);
    bytes += images.bytes;
    println!("Total reclaimed space: {}", units::size(bytes));
    Ok(0)
}

/// A heading, the lines, a blank line; nothing when nothing went.
fn section(heading: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    println!("{heading}");
    for l in lines {
        println!("{l}");
    }
    println!();
}
