//! `arca load [-i FILE] [-q]`: the images of a docker-archive or oci-archive (detected from its
//! content) into the store, then named in the catalog. As with `pull`, the GC lock is held
//! shared from the first blob stored to the last name recorded, so a concurrent `rmi`/`prune`
//! cannot collect blobs of an image not yet named.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read};

use anyhow::{bail, Context, Result};
use arca_image::archive;
use arca_image::gc::GcLock;
use arca_image::layout::PlatformSpec;

use super::ImageState;
use crate::cli::LoadArgs;

pub fn load(state: &mut ImageState, a: &LoadArgs) -> Result<i32> {
    let (input, name): (Box<dyn Read>, String) = match &a.input {
        Some(path) => (
            Box::new(File::open(path).with_context(|| format!("load: {}", path.display()))?),
            path.display().to_string(),
        ),
        None => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                bail!(
                    "requested load from stdin, but stdin is a terminal; use -i FILE or redirect"
                );
            }
            (Box::new(stdin), "stdin".to_owned())
        }
    };
    let _lock = GcLock::shared(state.store.root())?;
    let loaded = archive::load(
        &state.store,
        BufReader::new(input),
        &name,
        &PlatformSpec::host(),
    )?;
    for l in &loaded {
        super::unpack::unpack_image(state, &l.image, a.quiet)?;
        let record = state
            .catalog
            .record(&l.image, l.names.first().map(String::as_str))?;
        for n in l.names.iter().skip(1) {
            state.catalog.tag(&record.id, n)?;
        }
        if l.names.is_empty() {
            println!("Loaded image ID: {}", record.id);
        }
        for n in &l.names {
            println!("Loaded image: {n}");
        }
    }
    Ok(0)
}
