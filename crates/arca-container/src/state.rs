//! What the runtime remembers about a container between invocations, and how its status is
//! derived from the live system rather than trusted from disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nix::sys::signal::kill;
use nix::unistd::Pid;
use oci_spec::runtime::Hook;
use serde::{Deserialize, Serialize};

/// The on-disk record of a container (`<root>/<id>/state.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    /// Host pid of the container's init; 0 while create has not cloned it yet.
    pub pid: i32,
    /// Start time of `pid` (field 22 of /proc/pid/stat): tells a recycled pid from ours.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Absolute cgroup path, the same under every hierarchy.
    pub cgroup_path: PathBuf,
    /// Kept from the spec: start and delete run them even if the bundle changed or is gone.
    #[serde(default)]
    pub poststart: Vec<Hook>,
    #[serde(default)]
    pub poststop: Vec<Hook>,
    /// The process spec the container was created with: `exec` starts from it, whatever
    /// happened to the bundle since.
    #[serde(default)]
    pub process: Option<oci_spec::runtime::Process>,
    /// The seccomp profile, which confines exec'd processes as much as the init.
    #[serde(default)]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// The cgroup resources in force: the spec's, with every `update` merged in. An update
    /// that gives only part of a resource (say `--memory-swap`) is applied together with the
    /// rest, as runc does, because some values are only meaningful in pairs (v2 swap is
    /// converted from memory+swap using the memory limit; v1 writes limit and swap in an order
    /// that depends on both).
    #[serde(default)]
    pub resources: Option<oci_spec::runtime::LinuxResources>,
    /// True until create finished: a record left like this was interrupted mid-create.
    #[serde(default)]
    pub creating: bool,
    /// Created without a cgroup (rootless on v1/hybrid, or v2 without delegation): delete,
    /// kill --all and ps find the container's processes through its pid namespace instead.
    #[serde(default)]
    pub no_cgroup: bool,
    /// The transient scope holding the cgroup under the systemd driver: delete stops it.
    #[serde(default)]
    pub systemd_unit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The exec fifo `start` writes to; it exists exactly while the container is "created".
pub const EXEC_FIFO: &str = "exec.fifo";

impl ContainerState {
    /// Status from the live system: is our init process (same start time) alive and not a
    /// zombie, and is it still waiting on the exec fifo?
    pub fn status(&self, dir: &Path) -> Status {
        if self.pid <= 0 {
            return if self.creating {
                Status::Creating
            } else {
                Status::Stopped
            };
        }
        if !process_alive(self.pid, self.start_time) {
            return Status::Stopped;
        }
        if self.creating {
            return Status::Creating;
        }
        if !self.no_cgroup && frozen(&self.cgroup_path) {
            return Status::Paused;
        }
        if dir.join(EXEC_FIFO).exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    /// The state as the OCI runtime spec defines it (what `state` prints and hooks receive).
    pub fn oci_state(&self, status: Status) -> serde_json::Value {
        // The spec requires pid while the process exists; like runc, a stopped container
        // reports 0 rather than a pid that may belong to someone else by now.
        let pid = if status == Status::Stopped {
            0
        } else {
            self.pid
        };
        let mut v = serde_json::json!({
            "ociVersion": crate::OCI_VERSION,
            "id": self.id,
            "status": status.as_str(),
            "pid": pid,
            "bundle": self.bundle,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::to_value(&self.annotations).unwrap_or_default();
        }
        v
    }
}

/// The container's processes, found without a cgroup: every process in the init's pid
/// namespace when the container has its own, else the init alone.
pub fn pids_without_cgroup(pid: i32, start_time: u64) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    if pid <= 0 || !process_alive(pid, start_time) {
        return Vec::new();
    }
    let ns = |p: &str| std::fs::metadata(format!("/proc/{p}/ns/pid")).map(|m| (m.dev(), m.ino()));
    let (Ok(theirs), Ok(ours)) = (ns(&pid.to_string()), ns("self")) else {
        return vec![pid];
    };
    if theirs == ours {
        return vec![pid];
    }
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|p| ns(&p.to_string()).is_ok_and(|n| n == theirs))
        .collect();
    pids.sort_unstable();
    pids
}

/// Whether `pid` is alive, is not a zombie, and started at `start_time`.
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    if kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    match proc_stat(pid) {
        Some((state, st)) => state != 'Z' && state != 'X' && (start_time == 0 || st == start_time),
        None => false,
    }
}

/// (state letter, start time) from /proc/<pid>/stat.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    // start time is field 22 overall, i.e. the 20th after the state (field 3).
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether the container's cgroup is frozen (v1 freezer.state or v2 cgroup.freeze), found
/// through the mounted hierarchies: a container paused by another tool is not "running".
fn frozen(cgroup: &Path) -> bool {
    let Ok(cg) = arca_cgroups::Cgroup::open(cgroup) else {
        return false;
    };
    if cg.hierarchy() == arca_cgroups::Hierarchy::Unified {
        let file = cg.unified_dir().map(|d| d.join("cgroup.freeze"));
        return file
            .is_some_and(|f| matches!(std::fs::read_to_string(f), Ok(s) if s.trim() == "1"));
    }
    let file = cg
        .controller_dir("freezer")
        .map(|d| d.join("freezer.state"));
    file.is_some_and(|f| matches!(std::fs::read_to_string(f), Ok(s) if s.trim() == "FROZEN"))
}

/// Now as RFC 3339 with nanoseconds in UTC, as runc writes `created`.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let tod = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        tod / 3600,
        (tod / 60) % 60,
        tod % 60,
        now.subsec_nanos()
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn own_stat() {
        let me = std::process::id().cast_signed();
        let (state, start) = proc_stat(me).unwrap();
        assert!(state == 'R' || state == 'S');
        assert!(process_alive(me, start));
        assert!(!process_alive(me, start + 1));
    }
}
