//! `oci-archive:FILE`: a tar of a layout, extracted into a private temporary directory.
//!
//! Only the names a layout consists of are extracted (`oci-layout`, `index.json`,
//! `blobs/sha256/<valid hex>`), as regular files, into directories we create ourselves. A name
//! is never joined onto the destination as given: it is matched against that list, so `..`,
//! absolute paths, symlinks and hardlinks in the archive cannot place anything outside the
//! temporary directory (they are refused outright, since no tool writes them in a layout).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::LayoutError;
use crate::digest::Digest;

/// A directory removed (with its contents) on drop. Created 0700 with `mkdir`, which fails
/// rather than reuse an existing path another user could have planted in /tmp.
#[derive(Debug)]
pub(super) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> io::Result<TempDir> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        loop {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default();
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!(
                "arca-oci-archive.{}.{nanos}.{n}",
                std::process::id()
            ));
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Where an archive member goes, relative to the layout root; `None` to skip it.
fn destination(name: &Path, at: &str) -> Result<Option<PathBuf>, LayoutError> {
    let mut parts = Vec::new();
    for c in name.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str().ok_or_else(|| LayoutError::Invalid {
                at: at.to_owned(),
                reason: "name is not UTF-8".to_owned(),
            })?),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(LayoutError::Invalid {
                    at: at.to_owned(),
                    reason: "absolute or '..' name refused".to_owned(),
                })
            }
        }
    }
    Ok(match parts.as_slice() {
        ["oci-layout"] | ["index.json"] => Some(PathBuf::from(parts[0])),
        ["blobs", "sha256", hex] => {
            let digest =
                Digest::parse(&format!("sha256:{hex}")).map_err(|source| LayoutError::Digest {
                    at: at.to_owned(),
                    source,
                })?;
            Some(Path::new("blobs/sha256").join(digest.hex()))
        }
        _ => None,
    })
}

pub(super) fn extract(file: &Path, name: &str) -> Result<TempDir, LayoutError> {
    let io_at = |at: String| move |source| LayoutError::Io { at, source };
    let tmp = TempDir::new().map_err(io_at(format!("{name}: creating a temporary directory")))?;
    let blobs = tmp.path().join("blobs/sha256");
    fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(&blobs)
        .map_err(io_at(format!("{name}: {}", blobs.display())))?;

    let archive = File::open(file).map_err(io_at(name.to_owned()))?;
    let mut archive = tar::Archive::new(archive);
    let entries = archive.entries().map_err(io_at(name.to_owned()))?;
    for entry in entries {
        let mut entry = entry.map_err(io_at(name.to_owned()))?;
        let member = entry.path().map_err(io_at(name.to_owned()))?.into_owned();
        let at = format!("{name}: {}", member.display());
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            // Checked for '..' too, though never created: a hostile archive is refused whole.
            destination(&member, &at)?;
            continue;
        }
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let Some(dest) = destination(&member, &at)? else {
            tracing::debug!("{at}: not part of an image layout, skipped");
            continue;
        };
        if !(kind.is_file() || kind.is_contiguous()) {
            return Err(LayoutError::Invalid {
                at,
                reason: format!("{kind:?} entry refused (only regular files belong in a layout)"),
            });
        }
        let path = tmp.path().join(dest);
        // create_new: a second member with the same name is refused rather than letting the
        // later one silently replace what was already extracted.
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_at(format!("{at}: extracting")))?;
        io::copy(&mut entry, &mut out).map_err(io_at(format!("{at}: extracting")))?;
    }
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_the_layout_are_refused_or_skipped() {
        let at = "t";
        for bad in [
            "../index.json",
            "/index.json",
            "blobs/../../x",
            "/etc/passwd",
        ] {
            assert!(destination(Path::new(bad), at).is_err(), "{bad}");
        }
        assert!(destination(Path::new("blobs/sha256/ABC"), at).is_err());
        assert_eq!(destination(Path::new("README"), at).unwrap(), None);
        assert_eq!(destination(Path::new("blobs/sha512/x"), at).unwrap(), None);
        assert_eq!(
            destination(Path::new("./index.json"), at).unwrap(),
            Some(PathBuf::from("index.json"))
        );
    }
}
