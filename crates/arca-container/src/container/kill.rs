//! `kill`: a signal to the init, or with `--all` to every process in the container's cgroup.

use arca_cgroups::Cgroup;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::state::Status;
use crate::store::Store;

pub fn kill(store: &Store, id: &str, signal: Signal, all: bool) -> Result<()> {
    let st = store.load(id)?;
    let status = st.status(&store.dir(id));
    if all && st.no_cgroup {
        // No cgroup (rootless): every process in the container's pid namespace.
        for pid in crate::state::pids_without_cgroup(st.pid, st.start_time) {
            match nix::sys::signal::kill(Pid::from_raw(pid), signal) {
                Ok(()) | Err(nix::Error::ESRCH) => {}
                Err(e) => return Err(Error::sys(format!("kill {pid} {signal}"), e)),
            }
        }
        return Ok(());
    }
    if all {
        let cg = Cgroup::open(&st.cgroup_path)?;
        cg.kill_all(signal)?;
        if signal == Signal::SIGKILL && status == Status::Paused {
            super::delete::thaw_if_frozen(&cg);
        }
        return Ok(());
    }
    // pid 0 or below would signal our own process group (or every process): never.
    if status == Status::Stopped || st.pid <= 0 {
        return Err(Error::BadState {
            id: id.to_owned(),
            action: "kill",
            status: status.to_string(),
        });
    }
    nix::sys::signal::kill(Pid::from_raw(st.pid), signal)
        .map_err(|e| Error::sys(format!("kill {} {signal}", st.pid), e))?;
    // On cgroup v1 a frozen task only dies once thawed (runc thaws for SIGKILL too).
    if signal == Signal::SIGKILL && status == Status::Paused && !st.no_cgroup {
        if let Ok(cg) = Cgroup::open(&st.cgroup_path) {
            super::delete::thaw_if_frozen(&cg);
        }
    }
    Ok(())
}
