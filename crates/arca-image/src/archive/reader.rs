//! Reading an archive we did not write (an `oci-archive`, a `docker-archive`, from a file or
//! stdin) into a private temporary directory, shared by `pull oci-archive:` and `load`.
//!
//! A member name is never joined onto the destination as given: it is split into components
//! (`..`, absolute names and non-UTF-8 names refuse the whole archive, even on entries that
//! would be skipped) and handed to the format's [`Names::place`], which rebuilds a destination
//! from validated parts (a digest's hex, a fixed file name) or skips the member. Only regular
//! files are ever created, in directories we create ourselves, with `create_new`, so a
//! duplicate name cannot replace what was already extracted. Symlinks and hardlinks are
//! refused, since following one is how an archive reaches outside its directory; the single
//! exception is a format's [`Names::tolerated_link`] (Podman's `docker-archive` carries
//! `<id>/layer.tar -> ../<hex>.tar` links for Docker's 1.0 layout), which is skipped unread and
//! never followed. Devices, fifos and other types are refused.

use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::layout::LayoutError;

/// A directory removed (with its contents) on drop. Created 0700 with `mkdir`, which fails
/// rather than reuse an existing path another user could have planted in /tmp.
#[derive(Debug)]
pub(crate) struct TempDir {
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
            let path = base.join(format!("arca-archive.{}.{nanos}.{n}", std::process::id()));
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// What one archive format consists of.
pub(crate) struct Names {
    /// Where a member (its name split into components) goes, relative to the extraction
    /// directory; `Ok(None)` to skip it, `Err(reason)` to refuse the archive.
    pub place: fn(&[&str]) -> Result<Option<PathBuf>, String>,
    /// Names where a symlink or hardlink is skipped instead of refused.
    pub tolerated_link: fn(&[&str]) -> bool,
}

/// The components of a member name; refuses `..`, absolute and non-UTF-8 names.
pub(crate) fn split<'a>(name: &'a Path, at: &str) -> Result<Vec<&'a str>, LayoutError> {
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
    Ok(parts)
}

/// Where `name` goes under `names`, checked as [`extract`] checks it.
pub(crate) fn destination(
    names: &Names,
    name: &Path,
    at: &str,
) -> Result<Option<PathBuf>, LayoutError> {
    let parts = split(name, at)?;
    (names.place)(&parts).map_err(|reason| LayoutError::Invalid {
        at: at.to_owned(),
        reason,
    })
}

/// Extracts the members `names` places from the tar stream `archive` (shown as `name` in
/// errors) into a new private temporary directory. Fails, leaving nothing behind, on the first
/// member refused.
pub(crate) fn extract(
    archive: impl Read,
    name: &str,
    names: &Names,
) -> Result<TempDir, LayoutError> {
    let io_at = |at: String| move |source| LayoutError::Io { at, source };
    let tmp = TempDir::new().map_err(io_at(format!("{name}: creating a temporary directory")))?;
    let mut archive = tar::Archive::new(archive);
    let entries = archive.entries().map_err(io_at(name.to_owned()))?;
    for entry in entries {
        let mut entry = entry.map_err(io_at(name.to_owned()))?;
        let member = entry.path().map_err(io_at(name.to_owned()))?.into_owned();
        let at = format!("{name}: {}", member.display());
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        // Checked for '..' whatever the entry is: a hostile archive is refused whole.
        let dest = destination(names, &member, &at)?;
        if kind.is_dir() {
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            let parts = split(&member, &at)?;
            if (names.tolerated_link)(&parts) {
                tracing::debug!("{at}: link skipped, never followed");
                continue;
            }
            return Err(LayoutError::Invalid {
                at,
                reason: format!("{kind:?} entry refused (links are never extracted)"),
            });
        }
        if !(kind.is_file() || kind.is_contiguous()) {
            return Err(LayoutError::Invalid {
                at,
                reason: format!("{kind:?} entry refused (only regular files are extracted)"),
            });
        }
        let Some(dest) = dest else {
            tracing::debug!("{at}: not part of an image archive, skipped");
            continue;
        };
        let path = tmp.path().join(dest);
        if let Some(parent) = path.parent() {
            fs::DirBuilder::new()
                .mode(0o700)
                .recursive(true)
                .create(parent)
                .map_err(io_at(format!("{at}: extracting")))?;
        }
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
    use crate::archive::names::{ANY_IMAGE, OCI_LAYOUT};

    #[test]
    fn names_outside_the_layout_are_refused_or_skipped() {
        let at = "t";
        let d = |s: &str| destination(&OCI_LAYOUT, Path::new(s), at);
        for bad in [
            "../index.json",
            "/index.json",
            "blobs/../../x",
            "/etc/passwd",
        ] {
            assert!(d(bad).is_err(), "{bad}");
            assert!(
                destination(&ANY_IMAGE, Path::new(bad), at).is_err(),
                "{bad}"
            );
        }
        assert!(d("blobs/sha256/ABC").is_err());
        assert_eq!(d("README").unwrap(), None);
        assert_eq!(d("blobs/sha512/x").unwrap(), None);
        assert_eq!(
            d("./index.json").unwrap(),
            Some(PathBuf::from("index.json"))
        );
    }
}
