//! What the prune verbs share: the result (what went, the bytes freed) and how those bytes are
//! measured. `container prune` is in [`crate::manage`], `volume prune` in [`crate::volumes`];
//! `system prune` (the CLI) runs them with image pruning, which needs [`Engine::images_in_use`].

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::engine::Engine;
use crate::error::EngineError;

/// Directories deeper than this are not measured (the bytes are a report, not a promise).
const MAX_DEPTH: usize = 128;

/// What one prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Container ids or volume names, in the order removed.
    pub removed: Vec<String>,
    /// Bytes of file content freed.
    pub bytes: u64,
}

impl Engine {
    /// The ids of the images some container (in any state) was made from: `image prune` and
    /// `system prune -a` keep them, as Docker does.
    pub fn images_in_use(&self) -> Result<HashSet<String>, EngineError> {
        Ok(self
            .records
            .list()?
            .into_iter()
            .map(|r| r.image_id)
            .collect())
    }
}

/// The bytes of the regular files under `dir` whose only link is there: what removing the
/// tree frees (a file hardlinked elsewhere, as the copy driver's layer files are, stays).
/// Symlinks are not followed and other filesystems (mounts) are not entered.
pub(crate) fn freeable_bytes(dir: &Path) -> u64 {
    let Ok(top) = std::fs::symlink_metadata(dir) else {
        return 0;
    };
    walk(dir, top.dev(), 0)
}

fn walk(dir: &Path, dev: u64, depth: usize) -> u64 {
    if depth > MAX_DEPTH {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for ent in entries.flatten() {
        let Ok(meta) = ent.metadata() else { continue };
        if meta.dev() != dev {
            continue;
        }
        if meta.is_dir() {
            total += walk(&ent.path(), dev, depth + 1);
        } else if meta.is_file() && meta.nlink() == 1 {
            total += meta.len();
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_linked_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a"), [0u8; 100]).unwrap();
        std::fs::write(dir.path().join("b"), [0u8; 20]).unwrap();
        std::fs::write(dir.path().join("shared"), [0u8; 1000]).unwrap();
        std::fs::hard_link(dir.path().join("shared"), dir.path().join("shared2")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).unwrap();
        assert_eq!(freeable_bytes(dir.path()), 120);
        assert_eq!(freeable_bytes(&dir.path().join("missing")), 0);
    }
}
