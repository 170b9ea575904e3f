//! `arca cp`: CONTAINER:SRC to a host path or `-` (a tar stream on stdout), or a host path or
//! `-` (a tar stream on stdin) to CONTAINER:DEST. The copying is arca-engine's
//! ([`arca_engine::copy`]), within the container's root by file descriptor.

use std::path::PathBuf;

use anyhow::{bail, Result};
use arca_engine::copy::{CopyOptions, Dest, Source};
use arca_engine::Engine;

use crate::cli::CpArgs;

/// Docker's reading of a cp argument: `CONTAINER:PATH`, unless it is an absolute path or
/// starts with `.` (a local path that may hold a colon).
fn split(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') || arg.starts_with('.') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() && !c.contains('/') => (Some(c), p),
        _ => (None, arg),
    }
}

pub fn cp(engine: &Engine, a: &CpArgs) -> Result<i32> {
    let opts = CopyOptions {
        follow: a.follow,
        archive: a.archive,
    };
    match (split(&a.src), split(&a.dest)) {
        ((Some(_), _), (Some(_), _)) => bail!("copying between containers is not supported"),
        ((None, _), (None, _)) => {
            bail!("must specify at least one container source (CONTAINER:PATH)")
        }
        ((Some(c), path), (None, dest)) => {
            let rec = engine.find(c)?;
            let path = if path.is_empty() { "/" } else { path };
            if dest == "-" {
                let mut out = std::io::stdout().lock();
                engine.copy_from(&rec, path, Dest::Tar(&mut out), opts)?;
            } else {
                engine.copy_from(&rec, path, Dest::Host(PathBuf::from(dest)), opts)?;
            }
        }
        ((None, src), (Some(c), path)) => {
            let rec = engine.find(c)?;
            let path = if path.is_empty() { "/" } else { path };
            if src == "-" {
                let mut input = std::io::stdin().lock();
                engine.copy_into(&rec, Source::Tar(&mut input), path, opts)?;
            } else {
                engine.copy_into(&rec, Source::Host(PathBuf::from(src)), path, opts)?;
            }
        }
    }
    Ok(0)
}
