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
            // Written beside and renamed: an interrupted export leaves no half archive.
            let tmp = path.with_extension("partial");
            let mut file = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            engine.copy_from(&rec, "/.", Dest::Tar(&mut file), opts)?;
            file.sync_all()?;
            std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
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
