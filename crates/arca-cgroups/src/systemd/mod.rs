//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is a transient scope
//! unit that systemd creates and owns, so systemd's view of the machine (and its accounting,
//! `systemctl status`, shutdown ordering) includes the container, as kubelet and containerd
//! expect on systemd hosts.
//!
//! As in runc, systemd is told the main limits as unit properties (it re-applies them on
//! `daemon-reload`, which would otherwise reset the files), and the cgroupfs code then writes
//! every resource itself: systemd cannot express them all. `Delegate=yes` keeps systemd out
//! of the container's own subtree.

mod bus;
mod name;
mod properties;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;

use crate::error::CgroupError;
use crate::Hierarchy;

pub use name::Unit;

/// Where systemd, when it runs as the init, says so (sd_booted(3)).
const SYSTEMD_RUNTIME_DIR: &str = "/run/systemd/system";

/// How long systemd may take to run the start job and move the init into the scope.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether systemd is the host's init.
pub fn booted() -> bool {
    Path::new(SYSTEMD_RUNTIME_DIR).is_dir()
}

impl Unit {
    /// Asks systemd for the transient scope holding `pid` and waits until the kernel shows
    /// `pid` in it. `resources` become unit properties where systemd has one (see
    /// [`properties`]); the caller writes them to cgroupfs afterwards too.
    pub fn start(
        &self,
        pid: u32,
        id: &str,
        resources: Option<&LinuxResources>,
        hierarchy: Hierarchy,
    ) -> Result<(), CgroupError> {
        let props = properties::for_scope(self, pid, id, resources, hierarchy)?;
        let bus = bus::Bus::connect()?;
        bus.start_transient_unit(self.name(), props)?;
        let want = self.cgroup_path()?;
        let deadline = Instant::now() + START_TIMEOUT;
        let mut round = 0u32;
        loop {
            if in_cgroup(pid, &want) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let state = bus
                    .active_state(self.name())
                    .unwrap_or_else(|e| e.to_string());
                return Err(CgroupError::Systemd {
                    unit: self.name().to_owned(),
                    op: "waiting for the scope",
                    reason: format!(
                        "pid {pid} not moved to {} within {START_TIMEOUT:?} (unit state: {state})",
                        want.display()
                    ),
                });
            }
            round += 1;
            std::thread::sleep(Duration::from_millis(if round < 20 { 1 } else { 10 }));
        }
    }

    /// See [`stop`].
    pub fn stop(&self) -> Result<(), CgroupError> {
        stop(self.name())
    }
}

/// Tells systemd the new limits of unit `name` after an `update` (SetUnitProperties, runtime
/// only), so that a `daemon-reload` keeps them instead of restoring the ones given at start.
pub fn update(
    name: &str,
    resources: &LinuxResources,
    hierarchy: Hierarchy,
) -> Result<(), CgroupError> {
    let props = properties::limits_only(resources, hierarchy)?;
    if props.is_empty() {
        return Ok(());
    }
    bus::Bus::connect()?.set_unit_properties(name, props)
}

/// Stops unit `name` (systemd kills what is left and removes its cgroup). A unit that no
/// longer exists (systemd collects a scope once it is empty) is not an error.
pub fn stop(name: &str) -> Result<(), CgroupError> {
    bus::Bus::connect()?.stop_unit(name)
}

/// Whether `/proc/<pid>/cgroup` puts `pid` at `path` (the cgroup2 line, or the name=systemd
/// line on a v1 or hybrid host, which is the hierarchy systemd itself uses).
fn in_cgroup(pid: u32, path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return false;
    };
    text.lines().any(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, p) = (parts.next(), parts.next(), parts.next());
        matches!(controllers, Some("" | "name=systemd"))
            && p.map(PathBuf::from).as_deref() == Some(path)
    })
}
