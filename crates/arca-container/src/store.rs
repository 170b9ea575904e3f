//! The runtime's state directory (`--root`): one directory per container holding its
//! state.json, its exec fifo and a lock. Safe under concurrent invocations: `mkdir` decides who
//! creates an id, `flock` serialises changes to one container, and every write replaces a whole file
//! (`arca_sys::fs::Replace`).

use std::fs::File;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use arca_sys::fs::Replace;

use crate::error::{Error, Result};
use crate::state::ContainerState;

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Held while a command changes a container; released when the last fd on it is closed (no
/// explicit unlock: a cloned init that closes its inherited copy must not release the
/// parent's lock, as `LOCK_UN` on the shared open file would).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// For a cloned child: closes its copy of the fd, leaving the parent's lock in place.
    pub fn close_inherited(self) {
        drop(self);
    }
}

const LOCK_FILE: &str = "lock";

const STATE_FILE: &str = "state.json";

impl Store {
    pub fn new(root: &Path) -> Result<Store> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|e| Error::io("creating state root", root, e))?;
        // Hooks recorded here run as root on delete: nobody else may write to it.
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(root).map_err(|e| Error::io("stat state root", root, e))?;
        if meta.uid() != nix::unistd::geteuid().as_raw() || meta.mode() & 0o022 != 0 {
            return Err(Error::Usage(format!(
                "--root {}: must be owned by uid {} and not writable by group or others",
                root.display(),
                nix::unistd::geteuid()
            )));
        }
        Ok(Store {
            root: root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Claims `id` and returns its directory, locked: fails with [`Error::Exists`] if another
    /// create got there first.
    pub fn claim(&self, id: &str) -> Result<(PathBuf, Lock)> {
        validate_id(id)?;
        let dir = self.dir(id);
        match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(id.to_owned()))
            }
            Err(e) => return Err(Error::io("creating state dir", &dir, e)),
        }
        let path = dir.join(LOCK_FILE);
        let file = File::options()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("creating lock", &path, e))?;
        Ok((dir, flock(file, &path)?))
    }

    /// Locks an existing container. The lock file is never created here, so a command waiting
    /// on a container being deleted cannot re-create files in a directory on its way out.
    pub fn lock(&self, id: &str) -> Result<Lock> {
        validate_id(id)?;
        let path = self.dir(id).join(LOCK_FILE);
        let file = File::options()
            .write(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::NotFound(id.to_owned()),
                _ => Error::io("opening lock", &path, e),
            })?;
        flock(file, &path)
    }

    pub fn load(&self, id: &str) -> Result<ContainerState> {
        validate_id(id)?;
        let path = self.dir(id).join(STATE_FILE);
        let text = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(id.to_owned()),
            _ => Error::io("reading", &path, e),
        })?;
        serde_json::from_slice(&text).map_err(|e| Error::Spec {
            file: path,
            msg: format!("corrupt state: {e}"),
        })
    }

    /// Writes the state atomically: a crash leaves the old or the new file, never half of one.
    pub fn save(&self, state: &ContainerState) -> Result<()> {
        let path = self.dir(&state.id).join(STATE_FILE);
        let data = serde_json::to_vec(state).map_err(|e| Error::Spec {
            file: path.clone(),
            msg: e.to_string(),
        })?;
        Replace::new()
            .write(&path, &data)
            .map_err(|e| Error::io("writing", &path, e))
    }

    /// Removes a container's record: state.json first (so a command that was waiting on the
    /// lock finds the container gone), then the directory.
    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.dir(id);
        let _ = std::fs::remove_file(dir.join(STATE_FILE));
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("removing", &dir, e)),
        }
    }

    /// Ids of every container directory, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let rd = std::fs::read_dir(&self.root)
            .map_err(|e| Error::io("reading state root", &self.root, e))?;
        for entry in rd.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                if let Some(name) = entry.file_name().to_str() {
                    ids.push(name.to_owned());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }
}

fn flock(file: File, path: &Path) -> Result<Lock> {
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive) {
            Ok(()) => return Ok(Lock { _file: file }),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                return Err(Error::sys(
                    format!("locking {}", path.display()),
                    nix::Error::from_raw(e.raw_os_error()),
                ))
            }
        }
    }
}

/// runc's rule: `^[\w+-\.]+$`, and never `.` or `..`.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("abc-1.2_3+x").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "../x"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn claim_twice_fails() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path()).unwrap();
        let (_, lock) = store.claim("c1").unwrap();
        assert!(matches!(store.claim("c1"), Err(Error::Exists(_))));
        drop(lock);
        assert_eq!(store.list().unwrap(), vec!["c1".to_string()]);
    }
}
