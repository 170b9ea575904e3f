//! `arca pull`: an image from a registry (Docker's reference syntax), an OCI layout, an
//! archive or a `dir:` directory into the store, verified blob by blob, each layer unpacked
//! into its snapshot (while it downloads, from a registry), then named in the catalog. The GC
//! lock is held shared from the first blob to the record, so a concurrent `rmi`/`prune` cannot
//! collect the blobs or snapshots of an image not yet named.

use anyhow::{Context, Result};
use arca_image::catalog::ImageRecord;
use arca_image::dir::DirSource;
use arca_image::gc::GcLock;
use arca_image::layout::{Image, ImageReference, PlatformSpec};
use arca_image::reference::Reference;
use arca_image::registry::{self, PullOptions, RegistriesConf};

use super::ImageState;
use crate::cli::PullArgs;

pub fn pull(state: &mut ImageState, a: &PullArgs) -> Result<i32> {
    let record = pull_image(state, a)?;
    println!("{}", record.id);
    Ok(0)
}

/// The pull itself; returns the image's record (`pull` prints its id).
pub fn pull_image(state: &mut ImageState, a: &PullArgs) -> Result<ImageRecord> {
    let platform = match &a.platform {
        Some(p) => PlatformSpec::parse(p).with_context(|| format!("--platform {p:?}"))?,
        None => PlatformSpec::host(),
    };
    if let Some(dir) = a.image.strip_prefix("dir:") {
        return pull_dir(state, a, &platform, dir);
    }
    if let Some(file) = a.image.strip_prefix("docker-archive:") {
        return pull_docker_archive(state, a, &platform, file);
    }
    let Some(transport) = ["oci:", "oci-archive:"]
        .iter()
        .find(|t| a.image.starts_with(**t))
    else {
        return pull_registry(state, a, platform);
    };
    let source = ImageReference::parse(&a.image)?;
    let layout = source.open()?;
    let image = layout.image(source.reference(), &platform)?;
    let _lock = GcLock::shared(state.store.root())?;
    report_blobs(state, a, &image);
    layout.import_into(&state.store, &image)?;
    super::unpack::unpack_image(state, &image, a.quiet)?;
    let name = local_name(transport, &source);
    let record = state.catalog.record(&image, Some(&name))?;
    if !a.quiet {
        println!("{name}: manifest {}", image.manifest_digest);
    }
    Ok(record)
}

/// `dir:DIR`, as skopeo writes it. Podman (4.3) gives such an image no name, since a
/// directory says nothing about one: it is shown as `<none>` and used by id, and so here.
fn pull_dir(
    state: &mut ImageState,
    a: &PullArgs,
    platform: &PlatformSpec,
    dir: &str,
) -> Result<ImageRecord> {
    anyhow::ensure!(!dir.is_empty(), "pull: {}: empty path", a.image);
    let source = DirSource::open(dir)?;
    let image = source.image(platform)?;
    let _lock = GcLock::shared(state.store.root())?;
    report_blobs(state, a, &image);
    source.import_into(&state.store, &image)?;
    super::unpack::unpack_image(state, &image, a.quiet)?;
    let record = state.catalog.record(&image, None)?;
    if !a.quiet {
        println!("{}: manifest {}", source.name(), image.manifest_digest);
    }
    Ok(record)
}

/// `docker-archive:FILE` (what `docker save` writes): its first image, named as the archive
/// names it (`load` takes every image of an archive).
fn pull_docker_archive(
    state: &mut ImageState,
    a: &PullArgs,
    platform: &PlatformSpec,
    file: &str,
) -> Result<ImageRecord> {
    anyhow::ensure!(!file.is_empty(), "pull: {}: empty path", a.image);
    let input = std::fs::File::open(file).with_context(|| format!("pull: {file}"))?;
    let _lock = GcLock::shared(state.store.root())?;
    let loaded =
        arca_image::archive::load(&state.store, std::io::BufReader::new(input), file, platform)?;
    let first = loaded
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("pull: {file}: the archive holds no image"))?;
    super::unpack::unpack_image(state, &first.image, a.quiet)?;
    let record = state
        .catalog
        .record(&first.image, first.names.first().map(String::as_str))?;
    for n in first.names.iter().skip(1) {
        state.catalog.tag(&record.id, n)?;
    }
    if !a.quiet {
        println!("{file}: manifest {}", first.image.manifest_digest);
    }
    Ok(record)
}

/// A line per blob, before copying: whether the store has it already.
fn report_blobs(state: &ImageState, a: &PullArgs, image: &Image) {
    if a.quiet {
        return;
    }
    for blob in std::iter::once(&image.config_digest).chain(image.layers.iter().map(|l| &l.digest))
    {
        let verb = if state.store.has(blob) {
            "exists"
        } else {
            "copying"
        };
        println!("{verb} blob {blob}");
    }
}

fn pull_registry(
    state: &mut ImageState,
    a: &PullArgs,
    platform: PlatformSpec,
) -> Result<ImageRecord> {
    let reference = Reference::parse(&a.image)?;
    let auth = super::login::credentials(
        a.registry.creds.as_deref(),
        a.registry.authfile.as_deref(),
        reference.registry(),
    )?;
    let registries = match &a.registries_conf {
        Some(path) => RegistriesConf::load(path)?,
        None => RegistriesConf::load_default()?,
    };
    let opts = PullOptions {
        platform,
        auth,
        progress: crate::progress::reporter(a.quiet),
        insecure_hosts: insecure_hosts(a.registry.tls_verify, &reference),
        registries,
        ..PullOptions::default()
    };
    let _lock = GcLock::shared(state.store.root())?;
    let registry::Pulled {
        image,
        chain,
        layers,
    } = registry::pull_snapshots(
        &reference,
        &state.store,
        &state.snapshots,
        &opts,
        crate::progress::extraction(a.quiet),
    )?;
    super::unpack::record_layers(state, &image, &chain, &layers)?;
    // A pull by digest gets no name, as in Docker (`<none>` in `images`).
    let name = match (reference.tag(), reference.digest()) {
        (Some(tag), None) => Some(format!(
            "{}/{}:{tag}",
            reference.registry(),
            reference.repository()
        )),
        _ => None,
    };
    let record = state.catalog.record(&image, name.as_deref())?;
    if !a.quiet {
        println!("{reference}: manifest {}", image.manifest_digest);
    }
    Ok(record)
}

/// `--tls-verify=false`: the reference's registry may be reached over plain HTTP.
pub(super) fn insecure_hosts(tls_verify: bool, reference: &Reference) -> Vec<String> {
    if tls_verify {
        Vec::new()
    } else {
        vec![reference.registry().to_owned()]
    }
}

/// The name an image from a layout gets, as Podman names them: `localhost/<last path
/// component>:<ref or latest>`.
fn local_name(transport: &str, source: &ImageReference) -> String {
    let path = match source {
        ImageReference::Oci { dir, .. } => dir,
        ImageReference::OciArchive { file, .. } => file,
    };
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let stem = if transport == "oci-archive:" {
        stem.trim_end_matches(".tar").to_owned()
    } else {
        stem
    };
    let repo: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!(
        "localhost/{repo}:{}",
        source.reference().unwrap_or("latest")
    )
}
