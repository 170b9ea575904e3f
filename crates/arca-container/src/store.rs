//! The runtime's state directory (`--root`): one directory per container holding its
//! state.json, its exec fifo and a lock. Safe under concurrent invocations: `mkdir` decides who
//! creates an id, `flock` serialises changes to one container, and writes are temp + rename.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};
use crate::state::ContainerState;

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Held while a command changes a container; released on drop.
#[derive(Debug)]
pub struct Lock {
    _flock: Flock<File>,
}

const STATE_FILE: &str = "state.json";

impl Store {
    pub fn new(root: &Path) -> Result<Store> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|e| Error::io("creating state root", root, e))?;
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

    /// Claims `id`: fails with [`Error::Exists`] if another create got there first.
    pub fn claim(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        let dir = self.dir(id);
        match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::Exists(id.to_owned()))
            }
            Err(e) => Err(Error::io("creating state dir", &dir, e)),
        }
    }

    pub fn lock(&self, id: &str) -> Result<Lock> {
        validate_id(id)?;
        let path = self.dir(id).join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::NotFound(id.to_owned()),
                _ => Error::io("opening lock", &path, e),
            })?;
        let flock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::sys(format!("locking {}", path.display()), e))?;
        Ok(Lock { _flock: flock })
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
        let dir = self.dir(&state.id);
        let tmp = dir.join(".state.json.tmp");
        let path = dir.join(STATE_FILE);
        let data = serde_json::to_vec(state).map_err(|e| Error::Spec {
            file: path.clone(),
            msg: e.to_string(),
        })?;
        let mut f = File::create(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
        f.write_all(&data)
            .map_err(|e| Error::io("writing", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io("renaming", &path, e))
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.dir(id);
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
        store.claim("c1").unwrap();
        assert!(matches!(store.claim("c1"), Err(Error::Exists(_))));
        assert_eq!(store.list().unwrap(), vec!["c1".to_string()]);
    }
}
