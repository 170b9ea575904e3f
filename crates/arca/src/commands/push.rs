//! `arca push NAME [DEST]`: an image from the store to a registry, as `docker push` (DEST
//! defaults to NAME, which must then be a registry reference) and `podman push` (an explicit
//! DEST, `--creds`; without it, the login `arca login` stored); or, as Podman, to a `dir:`,
//! `oci:`, `oci-archive:` or `docker-archive:` DEST (see `push_local`). A line per blob says
//! whether the registry had it, mounted it from another repository or received it, then
//! Docker's `NAME: digest: … size: …`. Nothing is recorded:
//! like Docker and Podman, a push does not name the image DEST locally.

use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use arca_image::catalog::ImageRecord;
use arca_image::gc::GcLock;
use arca_image::reference::Reference;
use arca_image::registry::{self, BlobPush, PushOptions};

use super::ImageState;
use crate::cli::PushArgs;

pub fn push(state: &ImageState, a: &PushArgs) -> Result<i32> {
    let (record, name) = find(state, &a.image)?;
    if let Some(d) = &a.destination {
        if let Some(code) = super::push_local::push(state, &record, name.as_deref(), d, a.quiet)? {
            return Ok(code);
        }
    }
    let dest = match (&a.destination, name) {
        (Some(d), _) => Reference::parse(d).with_context(|| format!("push: destination {d:?}"))?,
        (None, Some(name)) => Reference::parse(&name).with_context(|| {
            format!("push: {name:?} is not a registry reference; give a DESTINATION")
        })?,
        // Docker refuses this too: an id says nothing about where the image should go.
        (None, None) => {
            return Err(anyhow!(
                "push: {} is an image id, not a registry reference; give a DESTINATION",
                a.image
            ))
        }
    };
    let auth = super::login::credentials(
        a.registry.creds.as_deref(),
        a.registry.authfile.as_deref(),
        dest.registry(),
    )?;
    let quiet = a.quiet;
    let opts = PushOptions {
        auth,
        mount_from: mount_sources(&record, &dest),
        insecure_hosts: super::pull::insecure_hosts(a.registry.tls_verify, &dest),
        on_blob: Some(Arc::new(move |digest, outcome| {
            if quiet {
                return;
            }
            match outcome {
                BlobPush::Exists => println!("exists blob {digest}"),
                BlobPush::Mounted { from } => println!("mounted blob {digest} from {from}"),
                BlobPush::Pushed => println!("pushed blob {digest}"),
            }
        })),
        ..PushOptions::default()
    };
    // Shared, as for a pull: a concurrent `rmi`/`prune` must not delete blobs being sent.
    let _lock = GcLock::shared(state.store.root())?;
    let pushed = registry::push(&state.store, &record.manifest_digest, &dest, &opts)?;
    let shown = match dest.tag() {
        Some(tag) if dest.digest().is_none() => tag.to_owned(),
        _ => dest.familiar(),
    };
    println!(
        "{shown}: digest: {} size: {}",
        pushed.manifest_digest, pushed.manifest_size
    );
    Ok(0)
}

/// The image by name as given, by its normalised reference (`127.0.0.1:5000/a:1` as pulled is
/// recorded as such; `busybox` as `docker.io/library/busybox:latest`), or by id; with the
/// name it was found by (`None` for an id).
fn find(state: &ImageState, what: &str) -> Result<(ImageRecord, Option<String>)> {
    let mut names = vec![what.to_owned()];
    if let Ok(reference) = Reference::parse(what) {
        if let (Some(tag), None) = (reference.tag(), reference.digest()) {
            names.push(format!(
                "{}/{}:{tag}",
                reference.registry(),
                reference.repository()
            ));
        }
    }
    for name in names {
        if let Some(r) = state.catalog.resolve(&name)? {
            let by_name = r.names.contains(&name).then_some(name);
            return Ok((r, by_name));
        }
    }
    Err(anyhow!("push: {what}: no such image"))
}

/// Repositories of the destination's registry this image is known by (where it was pulled
/// from, or tagged for): the registry may mount its blobs from there instead of receiving them.
fn mount_sources(record: &ImageRecord, dest: &Reference) -> Vec<String> {
    let mut repos: Vec<String> = record
        .names
        .iter()
        .filter_map(|n| Reference::parse(n).ok())
        .filter(|r| r.registry() == dest.registry() && r.repository() != dest.repository())
        .map(|r| r.repository().to_owned())
        .collect();
    repos.sort();
    repos.dedup();
    repos
}
