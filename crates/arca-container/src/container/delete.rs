//! `delete`: kill what is left (with `--force`, or a container that never started), remove the
//! cgroup, run poststop hooks, remove the state. Works on the remains of a create or runtime
//! that was SIGKILLed half-way: the record is written before anything else exists.

use std::time::{Duration, Instant};

use arca_cgroups::Cgroup;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::state::{process_alive, ContainerState, Status};
use crate::store::Store;

pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    let lock = match store.lock(id) {
        Ok(lock) => lock,
        // A create killed between claiming the id and creating its lock file.
        Err(Error::NotFound(_)) if store.dir(id).is_dir() => return store.remove(id),
        Err(Error::NotFound(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let st = match store.load(id) {
        Ok(st) => st,
        // Creates hold the lock until their record is written: no record now means a create
        // was killed before writing it (nothing else of it exists yet), or another delete
        // finished while we waited.
        Err(Error::NotFound(_)) => {
            if store.dir(id).is_dir() {
                return store.remove(id);
            }
            return if force {
                Ok(())
            } else {
                Err(Error::NotFound(id.to_owned()))
            };
        }
        Err(Error::Spec { .. }) if force => return store.remove(id),
        Err(e) => return Err(e),
    };
    let status = st.status(&store.dir(id));
    match status {
        Status::Stopped => {}
        Status::Created | Status::Creating => kill_and_wait(&st),
        Status::Running | Status::Paused if force => kill_and_wait(&st),
        _ => {
            return Err(Error::BadState {
                id: id.to_owned(),
                action: "delete",
                status: status.to_string(),
            })
        }
    }
    if st.no_cgroup {
        // Without a cgroup, strays are found through the container's pid namespace.
        for pid in crate::state::pids_without_cgroup(st.pid, st.start_time) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    } else {
        let cgroup = Cgroup::open(&st.cgroup_path)?;
        if cgroup.exists() {
            // Stray processes (exec'd ones, daemons the init left behind) go with the container.
            let _ = cgroup.kill_all(Signal::SIGKILL);
            thaw_if_frozen(&cgroup);
        }
        if let Some(unit) = &st.systemd_unit {
            // Before removing the directories: systemd would otherwise find its scope's cgroup
            // gone under it.
            arca_cgroups::systemd::stop(unit)?;
        }
        // Every hierarchy, even when the one `exists` looks at is gone: systemd removes only
        // the v1 directories it manages.
        cgroup.remove()?;
    }
    let state = st.oci_state(Status::Stopped);
    for hook in &st.poststop {
        if let Err(e) = crate::hooks::run("poststop", hook, &state) {
            tracing::warn!("{e}");
        }
    }
    let removed = store.remove(id);
    drop(lock);
    removed
}

fn kill_and_wait(st: &ContainerState) {
    if st.pid <= 0 {
        return;
    }
    if st.no_cgroup {
        for pid in crate::state::pids_without_cgroup(st.pid, st.start_time) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = nix::sys::signal::kill(Pid::from_raw(st.pid), Signal::SIGKILL);
    } else if let Ok(cg) = Cgroup::open(&st.cgroup_path) {
        let _ = cg.kill_all(Signal::SIGKILL);
        let _ = nix::sys::signal::kill(Pid::from_raw(st.pid), Signal::SIGKILL);
        // A frozen (paused) task only acts on SIGKILL once thawed (cgroup v1).
        thaw_if_frozen(&cg);
    } else {
        let _ = nix::sys::signal::kill(Pid::from_raw(st.pid), Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_alive(st.pid, st.start_time) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Thaws a cgroup that is frozen (or freezing), so that pending SIGKILLs are acted on. Failures
/// are logged: there may be no freezer at all.
pub(crate) fn thaw_if_frozen(cg: &Cgroup) {
    if let Err(e) = cg.thaw() {
        tracing::debug!("thawing {}: {e}", cg.path().display());
    }
}
