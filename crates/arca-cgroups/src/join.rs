//! How a new container init enters its v1 cgroups: by itself, through `tasks`.
//!
//! runc and crun move the init with `pid > cgroup.procs` from the parent. The kernel then takes
//! the global `cgroup_threadgroup_rwsem` for writing, and the first writer after an idle spell
//! waits a whole RCU grace period: ~10 ms on this project's test host, on every container start
//! that is not right after another one (e.g. each single `arca run` at a prompt). A thread that
//! moves itself (`0 > tasks`) cannot exit or exec meanwhile, so the kernel skips that lock
//! (`cgroup_procs_write_start`). A freshly cloned init has one thread, so moving it moves the
//! process. The files are opened by the runtime before the clone: the write is checked against
//! the opener's credentials, so an init already in a new user namespace may make it too.
//!
//! The cgroup2 side needs none of this: `CLONE_INTO_CGROUP` places the child at birth.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use crate::error::CgroupError;

/// The v1 `tasks` files of one cgroup, open for writing, for the process that will join it.
#[derive(Debug)]
pub struct SelfJoin {
    tasks: Vec<(PathBuf, File)>,
}

impl SelfJoin {
    pub(crate) fn open(dirs: impl Iterator<Item = PathBuf>) -> Result<SelfJoin, CgroupError> {
        let tasks = dirs
            .map(|dir| {
                let path = dir.join("tasks");
                // std opens with O_CLOEXEC: nothing the container execs inherits these.
                match std::fs::OpenOptions::new().write(true).open(&path) {
                    Ok(f) => Ok((path, f)),
                    Err(source) => Err(CgroupError::Join { path, source }),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(SelfJoin { tasks })
    }

    /// Moves the calling thread, which must be its process's only one, into every hierarchy,
    /// then closes the files.
    pub fn join(self) -> Result<(), CgroupError> {
        for (path, mut file) in self.tasks {
            file.write_all(b"0")
                .map_err(|source| CgroupError::Join { path, source })?;
        }
        Ok(())
    }

    /// Whether there is nothing to join (a unified host has no v1 hierarchy).
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}
