//! One function per verb: turn parsed flags into calls on the runtime library.

mod events;
mod exec;
mod ps;
mod spec;
mod update;

use std::io::Write;

use anyhow::{bail, Result};
use arca_container::container::{self, CreateOptions};
use arca_container::store::Store;

use crate::cli::{Cli, Command, CreateArgs, Format};

pub fn dispatch(cli: Cli) -> Result<i32> {
    if cli.version {
        println!("arca-runtime version {}", env!("CARGO_PKG_VERSION"));
        println!("spec: {}", arca_container::OCI_VERSION);
        return Ok(0);
    }
    let Some(command) = cli.command else {
        bail!("no command given (see --help)");
    };
    let root = cli
        .root
        .clone()
        .unwrap_or_else(arca_container::rootless::default_root);
    let store = || Store::new(&root);
    let rootless = || arca_container::rootless::detect(cli.rootless.as_deref());
    match command {
        Command::Create(a) => {
            container::create(
                &store()?,
                &create_options(a, rootless()?, cli.systemd_cgroup),
            )?;
            Ok(0)
        }
        Command::Start { id } => {
            container::start(&store()?, &id)?;
            Ok(0)
        }
        Command::Run { create, detach, .. } => {
            let opts = create_options(create, rootless()?, cli.systemd_cgroup);
            Ok(container::run(&store()?, &opts, detach)?)
        }
        Command::State { id } => {
            let store = store()?;
            let st = store.load(&id)?;
            let status = st.status(&store.dir(&id));
            println!("{}", serde_json::to_string_pretty(&st.oci_state(status))?);
            Ok(0)
        }
        Command::Kill { id, signal, all } => {
            let sig = arca_container::signal::parse(&signal)?;
            container::kill(&store()?, &id, sig, all)?;
            Ok(0)
        }
        Command::Delete { id, force } => {
            container::delete(&store()?, &id, force)?;
            Ok(0)
        }
        Command::List { quiet, format } => list(&store()?, quiet, format),
        Command::Exec(a) => exec::exec(&store()?, a),
        Command::Ps {
            id,
            format,
            ps_args,
        } => ps::ps(&store()?, &id, format, &ps_args),
        Command::Spec { bundle } => {
            let rootless = cli.rootless.as_deref().is_some_and(|v| v != "false");
            spec::write(&bundle, rootless)
        }
        Command::Pause { id } => {
            container::pause(&store()?, &id)?;
            Ok(0)
        }
        Command::Resume { id } => {
            container::resume(&store()?, &id)?;
            Ok(0)
        }
        Command::Update(a) => update::update(&store()?, a),
        Command::Events {
            id,
            interval,
            stats,
        } => events::events(&store()?, &id, &interval, stats),
        Command::Features => {
            println!(
                "{}",
                serde_json::to_string_pretty(&arca_container::features::features())?
            );
            Ok(0)
        }
    }
}

fn create_options(a: CreateArgs, rootless: bool, systemd_cgroup: bool) -> CreateOptions {
    CreateOptions {
        id: a.id,
        bundle: a.bundle,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        rootless,
        systemd_cgroup,
        start: false,
    }
}

fn list(store: &Store, quiet: bool, format: Format) -> Result<i32> {
    let entries = container::list(store)?;
    let mut out = std::io::stdout().lock();
    if quiet {
        for e in &entries {
            writeln!(out, "{}", e.id)?;
        }
    } else if format == Format::Json {
        writeln!(out, "{}", serde_json::to_string(&entries)?)?;
    } else {
        let w = entries.iter().map(|e| e.id.len()).max().unwrap_or(2).max(2) + 3;
        writeln!(
            out,
            "{:w$}{:<10}{:<10}{:<40}{:<32}OWNER",
            "ID", "PID", "STATUS", "BUNDLE", "CREATED"
        )?;
        for e in &entries {
            writeln!(
                out,
                "{:w$}{:<10}{:<10}{:<40}{:<32}{}",
                e.id,
                e.pid,
                e.status,
                e.bundle.display(),
                e.created,
                e.owner
            )?;
        }
    }
    Ok(0)
}
