//! `arca volume create|ls|rm|inspect|prune`: Docker's named volumes under `<root>/volumes`.

use std::collections::BTreeMap;

use anyhow::Result;
use arca_engine::spec::RunConfig;
use arca_engine::volumes::{AttachedVolumes, Volume};
use arca_engine::{Engine, EngineError};
use oci_spec::image::ImageConfiguration;
use serde_json::{json, Value};

use crate::cli::{Format, VolumeCommand};

pub fn volume(engine: &Engine, cmd: &VolumeCommand) -> Result<i32> {
    match cmd {
        VolumeCommand::Create { name, label } => {
            let labels: BTreeMap<String, String> = label
                .iter()
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap_or((l, ""));
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            let (v, _) = engine.volume_create(name.as_deref(), labels)?;
            println!("{}", v.name);
            Ok(0)
        }
        VolumeCommand::Ls { quiet, format } => {
            let vols = engine.volume_list()?;
            if *quiet {
                for v in &vols {
                    println!("{}", v.name);
                }
            } else if *format == Format::Json {
                for v in &vols {
                    println!(
                        "{}",
                        json!({"Driver": v.driver, "Name": v.name, "Mountpoint": v.mountpoint, "Labels": labels(v), "Scope": "local"})
                    );
                }
            } else {
                println!("{:<16}VOLUME NAME", "DRIVER");
                for v in &vols {
                    println!("{:<16}{}", v.driver, v.name);
                }
            }
            Ok(0)
        }
        VolumeCommand::Rm { force, volumes } => each(volumes, |name| {
            match engine.volume_remove(name, *force) {
                Err(EngineError::NoSuchVolume(_)) if *force => {}
                r => r?,
            }
            println!("{name}");
            Ok(())
        }),
        VolumeCommand::Inspect { volumes } => {
            let mut out = Vec::new();
            let mut failed = false;
            for name in volumes {
                match engine.volume_get(name) {
                    Ok(v) => out.push(inspect(&v)),
                    Err(e) => {
                        eprintln!("arca: {e}");
                        failed = true;
                    }
                }
            }
            println!("{}", serde_json::to_string_pretty(&Value::Array(out))?);
            Ok(if failed { 1 } else { 0 })
        }
        VolumeCommand::Prune { .. } => {
            let removed = engine.volume_prune(false)?.removed;
            if !removed.is_empty() {
                println!("Deleted Volumes:");
                for n in &removed {
                    println!("{n}");
                }
                println!();
            }
            println!("Total reclaimed space: {} volumes", removed.len());
            Ok(0)
        }
    }
}

/// The volumes of `-v`, `--mount type=volume` and the image's `Volumes`, made if missing and
/// turned into binds of their directories.
pub fn attach(
    engine: &Engine,
    run: &mut RunConfig,
    config: &ImageConfiguration,
) -> Result<AttachedVolumes> {
    let image_volumes = config
        .config()
        .as_ref()
        .and_then(|c| c.volumes().clone())
        .unwrap_or_default();
    Ok(engine.attach_volumes(&mut run.mounts, &image_volumes)?)
}

fn labels(v: &Volume) -> Value {
    json!(v.labels)
}

/// Docker's `volume inspect` fields.
fn inspect(v: &Volume) -> Value {
    let t = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(v.created).unwrap_or(0));
    json!({
        "CreatedAt": arca_engine::logs::format_rfc3339_nano(t),
        "Driver": v.driver,
        "Labels": labels(v),
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": null,
        "Scope": "local",
    })
}

/// Runs `f` on each name, reporting failures on stderr; exit 1 if any failed.
pub(super) fn each(names: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<i32> {
    let mut failed = false;
    for n in names {
        if let Err(e) = f(n) {
            eprintln!("arca: {e}");
            failed = true;
        }
    }
    Ok(if failed { 1 } else { 0 })
}
