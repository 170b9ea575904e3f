//! `arca save [-o FILE] [--format docker-archive|oci-archive] IMAGE...`: Docker's and Podman's
//! flags. The archive streams from the store to its destination; a file is written beside its
//! final name and renamed into place only when complete, so a failed save never leaves a
//! truncated archive under the name asked for (as Docker does).

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use arca_image::archive::{self, docker_name, Format, SaveImage};

use super::ImageState;
use crate::cli::{ArchiveFormat, SaveArgs};

pub fn save(state: &ImageState, a: &SaveArgs) -> Result<i32> {
    let mut images: Vec<SaveImage> = Vec::new();
    for what in &a.images {
        let normalized = docker_name(what).ok();
        let record = match state.catalog.resolve(what)? {
            Some(r) => Some(r),
            None => match &normalized {
                Some(n) => state.catalog.resolve(n)?,
                None => None,
            },
        }
        .ok_or_else(|| anyhow!("save: {what}: no such image"))?;
        // Saved by a name: under that name. By id: untagged, as Docker does.
        let name = record
            .names
            .iter()
            .find(|n| *n == what || Some(*n) == normalized.as_ref())
            .cloned();
        match images
            .iter_mut()
            .find(|s| s.image.manifest_digest == record.manifest_digest)
        {
            Some(s) => s.names.extend(name.filter(|n| !s.names.contains(n))),
            None => images.push(SaveImage {
                image: archive::stored_image(&state.store, &record.manifest_digest)?,
                names: name.into_iter().collect(),
            }),
        }
    }
    let format = match a.format {
        ArchiveFormat::DockerArchive => Format::DockerArchive,
        ArchiveFormat::OciArchive => Format::OciArchive,
    };
    let Some(path) = &a.output else {
        let stdout = io::stdout();
        if stdout.is_terminal() {
            bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        }
        archive::save(&state.store, &images, format, BufWriter::new(stdout.lock()))?;
        return Ok(0);
    };
    to_file(state, &images, format, path)?;
    io::stdout().flush()?;
    Ok(0)
}

/// Writes the archive beside `path` and renames it into place once complete and synced (also
/// `push`'s, for `oci-archive:`/`docker-archive:` destinations).
pub(super) fn to_file(
    state: &ImageState,
    images: &[SaveImage],
    format: Format,
    path: &Path,
) -> Result<()> {
    arca_sys::fs::Replace::new()
        .durable()
        .write_with(path, |file| {
            let mut out = BufWriter::new(file);
            archive::save(&state.store, images, format, &mut out)?;
            out.flush()?;
            anyhow::Ok(())
        })
        .with_context(|| format!("save: writing {}", path.display()))
}
