//! Writing `dir:DIR`, as `podman push IMAGE dir:DIR` does: every blob as the store holds it
//! (layers stay compressed, the manifest keeps its exact bytes and so its digest).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{renameat_with, RenameFlags, CWD};

use super::{invalid, version_supported, VERSION};
use crate::digest::Digest;
use crate::layout::{copy_store_blob, Image, LayoutError};
use crate::store::Store;

/// What is at the destination, and so how the finished directory takes its place.
enum Existing {
    Nothing,
    /// An empty directory: `rename` replaces it.
    Empty,
    /// A directory this transport wrote: swapped with the new one, then removed, as Podman
    /// replaces it (one image per directory).
    Image,
}

/// Removes the directory being built unless it was renamed into place (or swapped out).
struct Building {
    path: PathBuf,
    keep: bool,
}

impl Drop for Building {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Writes the image `image` (all of whose blobs are in `store`) to the directory `dest`.
/// `on_blob` hears of each blob before it is copied. Refuses a destination that is neither
/// absent, empty nor a directory this transport wrote, so no unrelated data is ever replaced.
pub fn write(
    store: &Store,
    image: &Image,
    dest: &Path,
    on_blob: &mut dyn FnMut(&Digest),
) -> Result<(), LayoutError> {
    let name = format!("dir:{}", dest.display());
    let existing = existing(dest, &name)?;
    let file_name = dest
        .file_name()
        .ok_or_else(|| invalid(&name, "not a directory name"))?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut building = Building {
        path: parent.join(format!(
            ".{}.arca-{}",
            file_name.to_string_lossy(),
            std::process::id()
        )),
        keep: false,
    };
    let io_err = |what: &str| {
        let at = format!("{name}: {what}");
        move |source| LayoutError::Io { at, source }
    };
    fs::create_dir(&building.path).map_err(io_err("creating the directory"))?;
    write_file(&building.path.join("version"), VERSION.as_bytes()).map_err(io_err("version"))?;
    let blobs = std::iter::once(&image.config_digest).chain(image.layers.iter().map(|l| &l.digest));
    for digest in blobs {
        on_blob(digest);
        copy_blob(store, digest, &building.path.join(digest.hex()), &name)?;
    }
    // Last, as containers/image writes it: a directory with a manifest is a complete image.
    copy_blob(
        store,
        &image.manifest_digest,
        &building.path.join("manifest.json"),
        &name,
    )?;
    sync_dir(&building.path).map_err(io_err("fsync"))?;
    match existing {
        Existing::Nothing | Existing::Empty => {
            fs::rename(&building.path, dest).map_err(io_err("renaming into place"))?;
            building.keep = true;
        }
        Existing::Image => {
            renameat_with(CWD, &building.path, CWD, dest, RenameFlags::EXCHANGE)
                .map_err(|e| io_err("replacing the old image")(e.into()))?;
            // `building.path` now holds the old image, which its drop removes.
        }
    }
    sync_dir(&parent).map_err(io_err("fsync"))?;
    Ok(())
}

fn existing(dest: &Path, name: &str) -> Result<Existing, LayoutError> {
    let meta = match fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(source) => {
            return Err(LayoutError::Io {
                at: name.to_owned(),
                source,
            })
        }
    };
    if !meta.is_dir() {
        return Err(invalid(name, "exists and is not a directory"));
    }
    let io_err = |source| LayoutError::Io {
        at: name.to_owned(),
        source,
    };
    if fs::read_dir(dest).map_err(io_err)?.next().is_none() {
        return Ok(Existing::Empty);
    }
    match fs::read_to_string(dest.join("version")) {
        Ok(v) if version_supported(&v) => Ok(Existing::Image),
        _ => Err(invalid(
            name,
            "is not empty and holds no image of this transport (no version file); \
             refusing to overwrite it",
        )),
    }
}

fn copy_blob(store: &Store, digest: &Digest, to: &Path, name: &str) -> Result<(), LayoutError> {
    copy_store_blob(store, digest, name, |from| {
        let mut out = OpenOptions::new().write(true).create_new(true).open(to)?;
        io::copy(from, &mut out)?;
        out.sync_all()
    })
}

fn write_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}
