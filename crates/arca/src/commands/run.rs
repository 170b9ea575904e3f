//! `arca run`, `create` and `start`: a container from an image (pulled first if missing, as
//! `--pull` says), its spec from the image config and Docker's flags, run in the foreground
//! by this process or in the background under a monitor of its own.

use std::io::Read;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use arca_engine::health::{HealthConfig, HealthFlags, ImageHealth};
use arca_engine::spec::{self, RunConfig};
use arca_engine::{CreateRequest, Engine, Record, Settings};
use arca_image::catalog::ImageRecord;
use oci_spec::image::ImageConfiguration;

use super::ImageState;
use crate::cli::{PullArgs, PullPolicy, RunArgs, StartArgs};

/// `run`: create, then start; returns the container's exit status in the foreground.
pub fn run(state: &mut ImageState, engine: &Engine, a: &RunArgs) -> Result<i32> {
    if a.process.detach {
        // The monitor starts up on the other CPU while the container is made.
        let monitor = engine.spawn_monitor(&self_exe()?)?;
        let rec = create_container(state, engine, a, true)?;
        monitor.start(&rec)?;
        println!("{}", rec.id);
        return Ok(0);
    }
    let rec = create_container(state, engine, a, true)?;
    Ok(engine.run_foreground(&rec)?)
}

/// `create`: prints the new container's id.
pub fn create(state: &mut ImageState, engine: &Engine, a: &RunArgs) -> Result<i32> {
    let rec = create_container(state, engine, a, false)?;
    println!("{}", rec.id);
    Ok(0)
}

/// `start`: each container under its monitor; prints what it was given, as Docker does.
/// With `-a`, one container, attached from before it starts; its exit code is arca's.
pub fn start(engine: &Engine, a: &StartArgs) -> Result<i32> {
    let exe = self_exe()?;
    if a.attach {
        let [what] = a.containers.as_slice() else {
            bail!("you cannot start and attach multiple containers at once");
        };
        let opts = super::attach::options(a.interactive, &a.flags)?;
        let rec = engine.find(what)?;
        if engine.status(&rec) == arca_engine::Status::Running {
            return Ok(engine.attach(&rec, &opts)?);
        }
        let (ours, monitors) = arca_engine::attach::pair().context("an attach connection")?;
        engine.start_detached(&rec, &exe, Some(monitors))?;
        return Ok(engine.attach_to(&rec, ours, &opts)?);
    }
    let mut failed = false;
    for what in &a.containers {
        let started = engine.find(what).and_then(|rec| match engine.status(&rec) {
            arca_engine::Status::Running => Ok(()),
            _ => engine.start_detached(&rec, &exe, None),
        });
        match started {
            Ok(()) => println!("{what}"),
            Err(e) => {
                eprintln!("arca: start {what}: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 125 } else { 0 })
}

/// This binary, for the monitor. Not by its path: when arca protected itself by re-running
/// from a detached read-only bind (CVE-2019-5736), that copy has no path, but
/// `/proc/self/exe` still executes it, so the monitor runs from the protected copy too.
fn self_exe() -> Result<std::path::PathBuf> {
    Ok(std::path::PathBuf::from("/proc/self/exe"))
}

fn create_container(
    state: &mut ImageState,
    engine: &Engine,
    a: &RunArgs,
    keep_mounted: bool,
) -> Result<Record> {
    let image = find_or_pull(state, a)?;
    let (config, raw_config) = image_config(state, &image)?;
    let mut run = run_config(a)?;
    let stop_signal = a
        .stop_signal
        .clone()
        .or_else(|| {
            config
                .config()
                .as_ref()
                .and_then(|c| c.stop_signal().clone())
        })
        .unwrap_or_else(|| "SIGTERM".to_owned());
    // Every flag checked before anything is made (volume::attach creates volumes).
    let restart = arca_engine::restart::RestartPolicy::parse(&a.restart).map_err(|e| anyhow!(e))?;
    let health = health(a, &raw_config)?;
    let network = super::network::settings(engine, a, &config)?;
    let volumes = super::volume::attach(engine, &mut run, &config)?;
    let mut req = CreateRequest {
        name: a.name.clone(),
        image_id: image.id.to_string(),
        image: a.image.clone(),
        chain: image.chain.clone(),
        settings: Settings {
            auto_remove: a.rm,
            stop_signal,
            stop_timeout: a.stop_timeout.unwrap_or(10),
            tty: a.process.tty,
            interactive: a.process.interactive,
            // Docker's StdinOnce: set when the client is attached from the start.
            stdin_once: a.process.interactive && !a.process.detach,
            labels: run.labels.clone(),
            restart,
            health,
            network,
            init: a.init,
            ..Settings::default()
        },
        keep_mounted,
    };
    volumes.record(&mut req.settings);
    let net = req.settings.network.clone();
    let rec = engine.create(req, |rootfs, id| {
        engine.populate_volumes(&volumes, rootfs)?;
        run.network = engine.spec_network(id, &net)?;
        spec::build(&config, rootfs, id, &run)
            .map_err(|e| arca_engine::EngineError::Spec(e.to_string()))
    });
    if rec.is_err() {
        engine.discard(&volumes);
    }
    Ok(rec?)
}

/// The image `a.image` from the catalog, pulled first when `--pull` says so.
fn find_or_pull(state: &mut ImageState, a: &RunArgs) -> Result<ImageRecord> {
    let present = state.catalog.resolve(&a.image)?.or_else(|| {
        // `busybox` is stored as docker.io/library/busybox:latest.
        arca_image::reference::Reference::parse(&a.image)
            .ok()
            .and_then(|r| state.catalog.resolve(&r.to_string()).ok().flatten())
    });
    let pull = match (a.pull, &present) {
        (PullPolicy::Always, _) | (PullPolicy::Missing, None) => true,
        (PullPolicy::Never, None) => bail!("{}: no such image (and --pull=never)", a.image),
        _ => false,
    };
    if pull {
        let args = PullArgs {
            image: a.image.clone(),
            platform: a.platform.clone(),
            quiet: true,
            registry: crate::cli::RegistryFlags::default(),
            registries_conf: None,
        };
        super::pull::pull_image(state, &args)?;
    }
    let found = state.catalog.resolve(&a.image)?.or_else(|| {
        arca_image::reference::Reference::parse(&a.image)
            .ok()
            .and_then(|r| state.catalog.resolve(&r.to_string()).ok().flatten())
    });
    let image = found.ok_or_else(|| anyhow!("{}: no such image", a.image))?;
    if image.chain.is_empty() && !image.blobs.is_empty() {
        bail!(
            "{}: the image was stored before snapshots existed; pull it again",
            a.image
        );
    }
    Ok(image)
}

/// The image config, typed, and as JSON for the fields Docker has and the OCI types lack
/// (`Healthcheck`, `Shell`).
fn image_config(
    state: &ImageState,
    image: &ImageRecord,
) -> Result<(ImageConfiguration, serde_json::Value)> {
    let mut text = String::new();
    state
        .store
        .open_blob(&image.config_digest)?
        .read_to_string(&mut text)
        .with_context(|| format!("reading the config of image {}", image.id))?;
    let what = || format!("the config of image {}", image.id);
    Ok((
        serde_json::from_str(&text).with_context(what)?,
        serde_json::from_str(&text).with_context(what)?,
    ))
}

/// The healthcheck: the image's, with the `--health-*` flags over it, or none with
/// `--no-healthcheck`.
fn health(a: &RunArgs, image_config: &serde_json::Value) -> Result<Option<HealthConfig>> {
    let flags = HealthFlags {
        cmd: a.health_cmd.as_deref(),
        interval: a.health_interval.as_deref(),
        timeout: a.health_timeout.as_deref(),
        retries: a.health_retries,
        start_period: a.health_start_period.as_deref(),
        disabled: a.no_healthcheck,
    };
    // --no-healthcheck: what the image says does not matter, even if it cannot be read.
    let image = if a.no_healthcheck {
        ImageHealth::default()
    } else {
        ImageHealth::from_config(image_config).map_err(|e| anyhow!(e))?
    };
    HealthConfig::resolve(&flags, &image).map_err(|e| anyhow!(e))
}

/// Docker's flags as the spec builder takes them.
fn run_config(a: &RunArgs) -> Result<RunConfig> {
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(spec::parse_env_file(std::path::Path::new(f))?);
    }
    env.extend(spec::resolve_env(&a.process.env, |k| std::env::var(k).ok()));
    let mut mounts = Vec::new();
    for v in &a.volume {
        mounts.push(spec::parse_volume(v)?);
    }
    for m in &a.mount {
        mounts.push(spec::parse_mount(m)?);
    }
    for t in &a.tmpfs {
        mounts.push(spec::parse_tmpfs(t)?);
    }
    let labels = a
        .label
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    Ok(RunConfig {
        entrypoint: a.entrypoint.as_ref().map(|e| {
            if e.is_empty() {
                Vec::new()
            } else {
                vec![e.clone()]
            }
        }),
        cmd: a.command.clone(),
        env,
        workdir: a.process.workdir.clone(),
        user: a.process.user.clone(),
        hostname: a.hostname.clone(),
        tty: a.process.tty,
        read_only: a.read_only,
        privileged: a.privileged,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        security_opt: a.security_opt.clone(),
        memory: a.memory.as_deref().map(spec::parse_memory).transpose()?,
        cpus: a.cpus,
        pids_limit: a.pids_limit,
        ulimits: a.ulimit.clone(),
        devices: a.device.clone(),
        mounts,
        // Set per container by the engine (a CNI namespace is named by the id).
        network: spec::Network::None,
        labels,
        init: a.init.then(crate::exe::host_path).transpose()?,
    })
}

/// `stop -t` default and the wait for SIGKILL to land.
pub fn stop_timeout(rec: &Record, flag: Option<u64>) -> Duration {
    Duration::from_secs(flag.unwrap_or(rec.settings.stop_timeout))
}
