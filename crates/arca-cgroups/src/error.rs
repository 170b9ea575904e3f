//! The one error type of this crate: every variant names the path and the operation that failed,
//! so a message printed by the CLI is enough to find the cause without a debugger.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sys::signal::Signal;

/// Errors from discovering, creating, configuring and removing cgroups.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A file (control file, mountinfo, /proc/self/cgroup) could not be read.
    #[error("reading {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },

    /// A control file could not be written.
    #[error("writing {value:?} to {}: {source}", path.display())]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },

    /// A new process could not move itself into its cgroup (see [`crate::SelfJoin`]).
    #[error("moving the container's process into cgroup {}: {source}", path.display())]
    Join { path: PathBuf, source: io::Error },

    /// A control file does not exist: the controller is not mounted (v1), not enabled in the
    /// parent's `cgroup.subtree_control` (v2), or the kernel lacks the feature.
    #[error(
        "writing {value:?} to {}: the file does not exist (controller missing or not enabled?)",
        path.display()
    )]
    MissingFile { path: PathBuf, value: String },

    /// The spec asks for a resource whose v1 controller is not mounted at all.
    #[error("cannot set {file}: no cgroup v1 {controller} controller is mounted")]
    MissingController {
        controller: &'static str,
        file: &'static str,
    },

    /// A cgroup directory could not be created.
    #[error("creating cgroup {}: {source}", path.display())]
    Create { path: PathBuf, source: io::Error },

    /// A cgroup directory could not be removed.
    #[error("removing cgroup {}: {source}", path.display())]
    Remove { path: PathBuf, source: io::Error },

    /// A cgroup directory could not be listed.
    #[error("listing cgroup {}: {source}", path.display())]
    ReadDir { path: PathBuf, source: io::Error },

    /// `statfs` failed while detecting the hierarchy.
    #[error("statfs {}: {source}", path.display())]
    Statfs { path: PathBuf, source: Errno },

    /// `/sys/fs/cgroup` is neither cgroup2 nor a tmpfs holding v1 hierarchies.
    #[error("{} is not a cgroup mount (filesystem type {fs_type})", path.display())]
    UnknownFilesystem { path: PathBuf, fs_type: String },

    /// No cgroup filesystem was found in the mount table.
    #[error("no cgroup filesystem is mounted (read {})", path.display())]
    NoHierarchy { path: PathBuf },

    /// A file had content we could not make sense of.
    #[error("parsing {}: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },

    /// The cgroup path given to [`crate::Cgroup::open`] is unusable.
    #[error("invalid cgroup path {}: {reason}", path.display())]
    InvalidPath { path: PathBuf, reason: &'static str },

    /// The spec's resources are inconsistent (e.g. swap below the memory limit).
    #[error("invalid {resource}: {reason}")]
    InvalidResource {
        resource: &'static str,
        reason: String,
    },

    /// `checkBeforeUpdate` (or the kernel, with EBUSY) refused a memory limit at or below what
    /// the cgroup already uses: lowering it further would only make the kernel reclaim or
    /// OOM-kill, so the update is refused with both numbers instead.
    #[error(
        "refusing to set the {what} to {limit} bytes: the cgroup already uses {usage} bytes ({})",
        path.display()
    )]
    LimitBelowUsage {
        what: &'static str,
        limit: i64,
        usage: u64,
        path: PathBuf,
    },

    /// The spec asks for something this cgroup version has no file for (e.g. realtime CPU
    /// bandwidth on cgroup v2, `unified` on cgroup v1).
    #[error("cannot set {resource} on {hierarchy}: {reason}")]
    Unsupported {
        resource: String,
        hierarchy: &'static str,
        reason: &'static str,
    },

    /// Signalling a process of the cgroup failed (other than it having exited already).
    #[error("sending {signal} to pid {pid}: {source}")]
    Kill {
        pid: i32,
        signal: Signal,
        source: Errno,
    },

    /// Loading or attaching the cgroup v2 device program failed.
    #[error("device eBPF program for {}: {op}: {source}", path.display())]
    Bpf {
        path: PathBuf,
        op: String,
        source: Errno,
    },

    /// Freezing or thawing did not reach the wanted state in time.
    #[error("{} did not become {want} (still {state:?})", path.display())]
    FreezeTimeout {
        path: PathBuf,
        want: &'static str,
        state: String,
    },

    /// `linux.cgroupsPath` is not in the systemd driver's `slice:prefix:name` form.
    #[error("linux.cgroupsPath {path:?} for the systemd cgroup driver: {reason}")]
    InvalidSystemdPath { path: String, reason: String },

    /// A call to systemd failed (D-Bus error, or the unit did not come up).
    #[error("systemd unit {unit:?}: {op}: {reason}")]
    Systemd {
        unit: String,
        op: &'static str,
        reason: String,
    },
}
