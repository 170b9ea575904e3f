//! Which namespaces a container creates in the clone, which it joins by path, and in which
//! process each join has to happen.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;

use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct NamespacePlan {
    /// `CLONE_NEW*` flags for the clone itself.
    pub clone_flags: CloneFlags,
    /// Namespaces to join by path, user first, mount last.
    pub joins: Vec<(LinuxNamespaceType, PathBuf)>,
    /// A new cgroup namespace: unshared by the child once it sits in its cgroup.
    pub new_cgroup: bool,
    pub new_user: bool,
    pub new_pid: bool,
    pub new_net: bool,
    pub new_uts: bool,
    pub new_mount: bool,
}

pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The name of the namespace in /proc/<pid>/ns/.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Joining order: the user namespace first (it grants the rights for the rest), mount last
/// (after it, host paths are gone).
pub const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Mount,
];

impl NamespacePlan {
    pub fn from_spec(namespaces: &[LinuxNamespace]) -> Result<NamespacePlan> {
        let mut plan = NamespacePlan {
            clone_flags: CloneFlags::empty(),
            joins: Vec::new(),
            new_cgroup: false,
            new_user: false,
            new_pid: false,
            new_net: false,
            new_uts: false,
            new_mount: false,
        };
        for t in JOIN_ORDER {
            let Some(ns) = namespaces.iter().find(|n| n.typ() == t) else {
                continue;
            };
            match ns.path() {
                Some(p) if !p.as_os_str().is_empty() => plan.joins.push((t, p.clone())),
                _ => {
                    match t {
                        LinuxNamespaceType::Cgroup => plan.new_cgroup = true,
                        _ => plan.clone_flags |= clone_flag(t),
                    }
                    match t {
                        LinuxNamespaceType::User => plan.new_user = true,
                        LinuxNamespaceType::Pid => plan.new_pid = true,
                        LinuxNamespaceType::Network => plan.new_net = true,
                        LinuxNamespaceType::Uts => plan.new_uts = true,
                        LinuxNamespaceType::Mount => plan.new_mount = true,
                        _ => {}
                    }
                }
            }
        }
        let joins_user = plan
            .joins
            .iter()
            .any(|(t, _)| *t == LinuxNamespaceType::User);
        if joins_user && !plan.clone_flags.is_empty() {
            return Err(Error::Usage(
                "linux.namespaces: joining a user namespace by path while creating other \
                 namespaces is not supported"
                    .into(),
            ));
        }
        Ok(plan)
    }

    pub fn has_mount_ns(&self) -> bool {
        self.new_mount
            || self
                .joins
                .iter()
                .any(|(t, _)| *t == LinuxNamespaceType::Mount)
    }
}

/// Opens a namespace file and checks it is a namespace of the expected type.
pub fn open_ns(t: LinuxNamespaceType, path: &std::path::Path) -> Result<File> {
    let f = File::open(path).map_err(|e| Error::Spec {
        file: path.to_owned(),
        msg: format!("linux.namespaces ({}): {e}", proc_name(t)),
    })?;
    Ok(f)
}

pub fn join(t: LinuxNamespaceType, file: &File) -> Result<()> {
    setns(file.as_fd(), clone_flag(t)).map_err(|e| Error::sys(format!("setns {}", proc_name(t)), e))
}

/// Namespaces for which `setns` in the runtime only affects its future children: the runtime
/// joins these just around the clone (and goes back after), so the child is born inside.
pub fn joined_around_clone(t: LinuxNamespaceType) -> bool {
    matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time)
}
