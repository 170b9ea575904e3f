//! `exec`: the process comes from `--process`, or from the container's own process spec with
//! the command line's args, env, cwd, user and capabilities laid over it (as runc does).

use std::collections::HashSet;

use anyhow::{bail, Context, Result};
use arca_container::container::{self, exec::ExecOutcome, ExecOptions};
use arca_container::store::Store;
use oci_spec::runtime::{Capability, Process};

use crate::cli::ExecArgs;

pub fn exec(store: &Store, a: ExecArgs) -> Result<i32> {
    let process = match &a.process {
        Some(path) => {
            let text =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_slice::<Process>(&text)
                .with_context(|| format!("{}: malformed process JSON", path.display()))?
        }
        None => from_args(store, &a)?,
    };
    let outcome = container::exec(
        store,
        &a.id,
        &ExecOptions {
            process,
            console_socket: a.console_socket.clone(),
            pid_file: a.pid_file.clone(),
            detach: a.detach,
            preserve_fds: a.preserve_fds,
        },
    )?;
    Ok(match outcome {
        ExecOutcome::Detached(_) => 0,
        ExecOutcome::Exited(code) => code,
    })
}

fn from_args(store: &Store, a: &ExecArgs) -> Result<Process> {
    if a.command.is_empty() {
        bail!("exec: give a command or --process");
    }
    let st = store.load(&a.id)?;
    let mut p = st.process.clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &a.env {
        let key = kv.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(user) = &a.user {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        let uid: u32 = uid
            .parse()
            .with_context(|| format!("--user {user:?}: not a numeric uid[:gid]"))?;
        p.user_mut().set_uid(uid);
        if let Some(g) = gid {
            p.user_mut().set_gid(
                g.parse()
                    .with_context(|| format!("--user {user:?}: bad gid"))?,
            );
        }
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if a.apparmor.is_some() {
        p.set_apparmor_profile(a.apparmor.clone());
    }
    if a.process_label.is_some() {
        p.set_selinux_label(a.process_label.clone());
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let mut add: HashSet<Capability> = HashSet::new();
        for c in &a.cap {
            let name = if c.starts_with("CAP_") {
                c.clone()
            } else {
                format!("CAP_{c}")
            };
            add.insert(
                serde_json::from_value(serde_json::Value::String(name.clone()))
                    .with_context(|| format!("--cap {c}: unknown capability"))?,
            );
        }
        let merge = |set: &Option<HashSet<Capability>>| -> Option<HashSet<Capability>> {
            Some(
                set.clone()
                    .unwrap_or_default()
                    .union(&add)
                    .copied()
                    .collect(),
            )
        };
        caps.set_bounding(merge(caps.bounding()));
        caps.set_effective(merge(caps.effective()));
        caps.set_permitted(merge(caps.permitted()));
        caps.set_ambient(merge(caps.ambient()));
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}
