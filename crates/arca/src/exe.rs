//! Where this binary is on the host, for `--init` (bind-mounted read-only into the container
//! as its PID 1). A process that protected itself against CVE-2019-5736 runs from a detached
//! read-only bind or a sealed memfd, which has no usable path, so `main` records the path in
//! [`VAR`] before that re-exec; the protected process takes it back only if it still names the
//! file it runs (same device and inode), so a stale or forged value is never mounted.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};

const VAR: &str = "_ARCA_EXE";

/// Records the binary's path for the protected re-exec (a no-op in the protected process,
/// whose own path is not usable).
pub fn remember() {
    if let Some(p) = real_path() {
        std::env::set_var(VAR, p);
    }
}

/// The host path of the running binary.
pub fn host_path() -> Result<PathBuf> {
    real_path()
        .or_else(|| {
            std::env::var_os(VAR)
                .map(PathBuf::from)
                .filter(|p| same_file(p))
        })
        .ok_or_else(|| {
            anyhow!("--init: arca's own binary has no path on the host to mount into the container")
        })
}

fn real_path() -> Option<PathBuf> {
    let p = std::fs::read_link("/proc/self/exe").ok()?;
    same_file(&p).then_some(p)
}

/// Whether `p` is the file this process runs.
fn same_file(p: &Path) -> bool {
    match (std::fs::metadata(p), std::fs::metadata("/proc/self/exe")) {
        (Ok(a), Ok(b)) => a.is_file() && a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}
