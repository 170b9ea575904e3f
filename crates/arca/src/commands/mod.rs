//! One module per verb; each turns parsed flags into calls on arca-image (images) or
//! arca-engine (containers).

mod attach;
mod container_inspect;
mod cp;
mod docs;
mod exec;
mod export;
mod images;
mod import;
mod inspect;
mod load;
mod login;
mod logs;
mod manage;
mod migrate;
pub mod monitor;
mod network;
mod ps;
mod pull;
mod push;
mod push_local;
mod rm;
mod rmi;
mod run;
mod save;
mod stop;
mod system;
mod system_prune;
mod tag;
mod unpack;
mod volume;

use std::path::Path;

use anyhow::{Context, Result};
use arca_engine::Engine;
use arca_image::catalog::Catalog;
use arca_image::snapshot::{Driver, Snapshots};
use arca_image::store::Store;

use crate::cli::{Cli, Command, ContainerCommand, ImageCommand, SystemCommand};

/// The image store, catalog and snapshots under `<root>/images`.
pub struct ImageState {
    pub store: Store,
    pub catalog: Catalog,
    pub snapshots: Snapshots,
}

impl ImageState {
    pub fn open(root: &Path, driver: Option<&str>) -> Result<ImageState> {
        let dir = root.join("images");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let store = Store::open(&dir)?;
        let catalog = Catalog::open(&dir.join("catalog.db"))?;
        let snapshots = Snapshots::open(&dir, driver.and_then(Driver::parse))?;
        Ok(ImageState {
            store,
            catalog,
            snapshots,
        })
    }
}

pub fn dispatch(cli: Cli) -> Result<i32> {
    let state = || ImageState::open(&cli.root, cli.storage_driver.as_deref());
    let cni = arca_net::cni::PluginPath::from_list(cli.cni_plugin_dir.as_deref());
    let open_engine = |snapshots: Snapshots| -> Result<Engine> {
        let mut e = Engine::open(&cli.root, snapshots)?;
        e.set_cni_plugin_path(cni.clone());
        Ok(e)
    };
    let engine = || -> Result<Engine> { open_engine(state()?.snapshots) };
    match cli.command {
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => pull::pull(&mut state()?, &a),
        Command::Push(a) => push::push(&state()?, &a),
        // No store needed: credentials live in their own file.
        Command::Login(a) => login::login(&a),
        Command::Logout(a) => login::logout(&a),
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::list(&state()?, &a),
        Command::Rmi { images } | Command::Image(ImageCommand::Rm { images }) => {
            rmi::rmi(&mut state()?, &images)
        }
        Command::Tag { source, target } => tag::tag(&mut state()?, &source, &target),
        Command::Save(a) => save::save(&state()?, &a),
        Command::Load(a) => load::load(&mut state()?, &a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => {
            import::import(&mut state()?, &a)
        }
        Command::Image(ImageCommand::Inspect { images }) => inspect::inspect(&state()?, &images),
        Command::Image(ImageCommand::Prune { all, .. }) => {
            let mut s = state()?;
            let engine = open_engine(s.snapshots.clone())?;
            rmi::prune(&mut s, &engine, all)
        }
        Command::System(SystemCommand::Df(a)) => system::df(&state()?, &a),
        Command::System(SystemCommand::Migrate) => migrate::migrate(&engine()?),
        Command::System(SystemCommand::Prune {
            all,
            volumes,
            force: _,
        }) => {
            let mut s = state()?;
            let engine = open_engine(s.snapshots.clone())?;
            system_prune::prune(&mut s, &engine, all, volumes)
        }
        Command::Run(a) => {
            let mut s = state()?;
            let engine = open_engine(s.snapshots.clone())?;
            run::run(&mut s, &engine, &a)
        }
        Command::Create(a) => {
            let mut s = state()?;
            let engine = open_engine(s.snapshots.clone())?;
            run::create(&mut s, &engine, &a)
        }
        Command::Start(a) => run::start(&engine()?, &a),
        Command::Attach(a) => attach::attach(&engine()?, &a),
        Command::Ps(a) => ps::ps(&engine()?, &a),
        Command::Logs(a) => logs::logs(&engine()?, &a),
        Command::Exec(a) => exec::exec(&engine()?, &a),
        Command::Export { output, container } => {
            export::export(&engine()?, &container, output.as_deref())
        }
        Command::Pause { containers } => manage::pause(&engine()?, &containers),
        Command::Unpause { containers } => manage::unpause(&engine()?, &containers),
        Command::Rename { container, name } => manage::rename(&engine()?, &container, &name),
        Command::Top { container } => manage::top(&engine()?, &container),
        Command::Stats {
            no_stream,
            containers,
        } => manage::stats(&engine()?, &containers, no_stream),
        Command::Container(ContainerCommand::Prune { .. }) => manage::prune(&engine()?),
        Command::Version => manage::version(),
        Command::Completion { shell } => docs::completion(shell),
        Command::Man { dir } => docs::man(&dir),
        Command::Info => {
            let s = state()?;
            let driver = s.snapshots.driver().name();
            manage::info(&Engine::open(&cli.root, s.snapshots.clone())?, driver)
        }
        Command::Stop { time, containers } => stop::stop(&engine()?, time, &containers),
        Command::Kill { signal, containers } => stop::kill(&engine()?, &signal, &containers),
        Command::Wait { containers } => stop::wait(&engine()?, &containers),
        Command::Rm {
            force,
            volumes,
            containers,
        } => rm::rm(&engine()?, force, volumes, &containers),
        Command::Inspect(a) => container_inspect::inspect(&engine()?, &a.containers),
        Command::Volume(v) => volume::volume(&engine()?, &v),
        Command::Network(n) => network::network(&engine()?, &n),
        Command::Port { container, port } => network::port(&engine()?, &container, port.as_deref()),
        Command::Cp(a) => cp::cp(&engine()?, &a),
        Command::Monitor { id, attached } => monitor::MonitorArgs {
            root: cli.root,
            storage_driver: cli.storage_driver,
            cni_plugin_dir: cli.cni_plugin_dir,
            id,
            attached,
        }
        .run(),
    }
}
