//! Small file helpers for cgroupfs, each mapping failures to a [`CgroupError`] naming the path.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use crate::error::CgroupError;

/// Reads a whole (small) file.
pub(crate) fn read_file(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads a file, `None` if it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, CgroupError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CgroupError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes `value` to control file `dir/file` in one `write(2)`, as cgroupfs expects. Never
/// creates the file: a missing control file means a missing controller and must be reported
/// (as [`CgroupError::MissingFile`]), not papered over.
pub(crate) fn write_file(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    tracing::debug!(path = %path.display(), value, "cgroup write");
    let result = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(CgroupError::MissingFile {
            path,
            value: value.to_owned(),
        }),
        Err(source) => Err(CgroupError::Write {
            path,
            value: value.to_owned(),
            source,
        }),
    }
}

pub(crate) fn mkdir_all(dir: &Path) -> Result<(), CgroupError> {
    std::fs::create_dir_all(dir).map_err(|source| CgroupError::Create {
        path: dir.to_owned(),
        source,
    })
}

/// `mkdir`, an existing directory being fine.
pub(crate) fn mkdir(dir: &Path) -> Result<(), CgroupError> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(CgroupError::Create {
            path: dir.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// The child cgroups (subdirectories) of `dir`.
pub(crate) fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let err = |source| CgroupError::ReadDir {
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        if entry.file_type().map_err(err)?.is_dir() {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Removes `dir` and the cgroups below it, deepest first. A cgroup whose processes were just
/// killed stays busy until the kernel has finished them, so EBUSY is retried briefly (like
/// runc: 5 tries, 10 ms doubling). A missing directory is fine.
pub(crate) fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    match subdirs(dir) {
        Ok(children) => {
            for child in children {
                remove_tree(&child)?;
            }
        }
        Err(CgroupError::ReadDir { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    let mut delay = Duration::from_millis(10);
    let mut retries = 4;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::ResourceBusy && retries > 0 => {
                retries -= 1;
                thread::sleep(delay);
                delay *= 2;
            }
            Err(source) => {
                return Err(CgroupError::Remove {
                    path: dir.to_owned(),
                    source,
                })
            }
        }
    }
}

/// Parses a `cgroup.procs` file.
pub(crate) fn parse_pids(path: &Path, text: &str) -> Result<Vec<i32>, CgroupError> {
    text.split_whitespace()
        .map(|p| {
            p.parse().map_err(|_| CgroupError::Parse {
                path: path.to_owned(),
                reason: format!("{p:?} is not a pid"),
            })
        })
        .collect()
}

/// Reads a control file holding one unsigned number (`memory.current`, `cpu.shares`...).
pub(crate) fn read_u64(path: &Path) -> Result<u64, CgroupError> {
    let text = read_file(path)?;
    text.trim().parse().map_err(|_| CgroupError::Parse {
        path: path.to_owned(),
        reason: format!("{:?} is not a number", text.trim()),
    })
}

/// runc's `CheckMemoryUsage` for `checkBeforeUpdate`: a memory or memory+swap limit at or
/// below the current usage (`usage_file`: v1 `memory.usage_in_bytes`, v2 `memory.current`) is
/// refused rather than letting the kernel reclaim or OOM-kill the container. Best effort like
/// runc: an unreadable usage (cgroup not created yet) lets the update through.
pub(crate) fn check_before_update(
    dir: &Path,
    usage_file: &str,
    limit: i64,
    swap: i64,
) -> Result<(), CgroupError> {
    if limit <= 0 && swap <= 0 {
        return Ok(());
    }
    let path = dir.join(usage_file);
    let Ok(usage) = read_u64(&path) else {
        return Ok(());
    };
    for (what, value) in [("memory+swap limit", swap), ("memory limit", limit)] {
        if u64::try_from(value).is_ok_and(|v| v > 0 && v <= usage) {
            return Err(CgroupError::LimitBelowUsage {
                what,
                limit: value,
                usage,
                path,
            });
        }
    }
    Ok(())
}
