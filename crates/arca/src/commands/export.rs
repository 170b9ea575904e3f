//! `arca export [-o FILE] CONTAINER`: the container's filesystem as a tar stream, as `docker
//! export` writes it (what `arca import` reads back). The same fd-based reader as `cp`, from
//! the container's root: nothing of it is followed or run on the host.

use std::path::Path;

use anyhow::{bail, Context, Result};
use arca_engine::copy::{CopyOptions, Dest};
use arca_engine::Engine;

pub fn export(engine: &Engine, container: &str, output: Option<&Path>) -> Result<i32> {
    let rec = engine.find(container)?;
    let opts = CopyOptions {
        follow: false,
        archive: true,
    };
    match output {
        Some(path) => {
            // Written beside and swapped in: an interrupted export leaves no half archive.
            arca_sys::fs::Replace::new()
                .durable()
                .write_with(path, |file| {
                    engine.copy_from(&rec, "/.", Dest::Tar(file), opts)?;
                    anyhow::Ok(())
                })
                .with_context(|| format!("export: writing {}", path.display()))?;
        }
        None => {
            use std::io::IsTerminal;
            if std::io::stdout().is_terminal() {
                bail!("export: stdout is a terminal; use -o FILE or redirect");
            }
            let mut out = std::io::stdout().lock();
            engine.copy_from(&rec, "/.", Dest::Tar(&mut out), opts)?;
        }
    }
    Ok(0)
}
