//! `arca import FILE|- [REFERENCE]`: Docker's `docker import`, a root filesystem tarball
//! (plain, gzip or zstd) as a one-layer image. Prints the image id. The GC lock is held
//! shared from the layer's first byte to the record, as for a pull, since the new blobs are no
//! collection root until the image is recorded.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read};

use anyhow::{bail, Context, Result};
use arca_image::gc::GcLock;
use arca_image::import::{self, ImportOptions};
use arca_image::layout::PlatformSpec;
use arca_image::reference::Reference;

use super::ImageState;
use crate::cli::ImportArgs;

pub fn import(state: &mut ImageState, a: &ImportArgs) -> Result<i32> {
    // Checked before reading a byte: a bad name should not cost a whole layer.
    let name = a.reference.as_deref().map(local_name).transpose()?;
    let platform = match &a.platform {
        Some(p) => PlatformSpec::parse(p).with_context(|| format!("--platform {p:?}"))?,
        None => PlatformSpec::host(),
    };
    let input: Box<dyn Read> = if a.file == "-" {
        let stdin = io::stdin();
        if stdin.is_terminal() {
            bail!("import: requested import from stdin, but stdin is a terminal; redirect it");
        }
        Box::new(stdin)
    } else {
        Box::new(File::open(&a.file).with_context(|| format!("import: {}", a.file))?)
    };
    let opts = ImportOptions {
        changes: a.changes.clone(),
        message: a.message.clone(),
        platform,
    };
    let _lock = GcLock::shared(state.store.root())?;
    let image =
        import::import(&state.store, BufReader::new(input), &a.file, &opts).context("import")?;
    super::unpack::unpack_image(state, &image, true)?;
    let record = state.catalog.record(&image, name.as_deref())?;
    println!("{}", record.id);
    Ok(0)
}

/// The name as given, as `arca tag` records one, with Docker's default tag `latest` added when
/// it has none (`my/app` → `my/app:latest`), so `arca image inspect my/app:latest` finds it.
/// It must be a valid reference, and not by digest: the image is new, no digest names it.
fn local_name(reference: &str) -> Result<String> {
    let r = Reference::parse(reference).with_context(|| format!("import: {reference:?}"))?;
    if r.digest().is_some() {
        bail!("import: {reference:?}: a name cannot hold a digest; give REPOSITORY[:TAG]");
    }
    // The parsed reference defaults its tag; whether one was written is in the last component.
    let tagged = reference
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'));
    Ok(if tagged {
        reference.to_owned()
    } else {
        format!("{reference}:latest")
    })
}
