//! Rootless mode: containers run by an ordinary user (runc's `--rootless`). What changes:
//! the default state root, the id maps (written directly for the caller's own ids, through the
//! setuid `newuidmap`/`newgidmap` helpers for ranges from /etc/subuid and /etc/subgid), and
//! cgroups (none on v1/hybrid, where a user cannot write; on v2 only where delegated).

use std::path::{Path, PathBuf};
use std::process::Command;

use arca_cgroups::{Cgroup, Hierarchy};
use nix::unistd::{AccessFlags, Pid};
use oci_spec::runtime::LinuxIdMapping;

use crate::error::{Error, Result};

/// Whether we run in the initial user namespace (the full identity map).
pub fn in_initial_userns() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| {
        let f: Vec<&str> = m.split_whitespace().collect();
        f == ["0", "0", "4294967295"]
    })
}

/// `--rootless true|false|auto` (absent = auto): auto means rootless when the effective uid is
/// not 0 or we are not in the initial user namespace, as runc decides.
pub fn detect(flag: Option<&str>) -> Result<bool> {
    match flag.unwrap_or("auto") {
        "true" => Ok(true),
        "false" => Ok(false),
        "auto" => Ok(!nix::unistd::geteuid().is_root() || !in_initial_userns()),
        other => Err(Error::Usage(format!(
            "--rootless {other:?}: expected true, false or auto"
        ))),
    }
}

/// The default `--root`: `/run/arca` for root, else `$XDG_RUNTIME_DIR/arca` (runc uses
/// `$XDG_RUNTIME_DIR/runc`), else `/tmp/arca-<uid>`.
pub fn default_root() -> PathBuf {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        return PathBuf::from("/run/arca");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() && Path::new(&d).is_absolute() => Path::new(&d).join("arca"),
        _ => PathBuf::from(format!("/tmp/arca-{uid}")),
    }
}

/// Whether a rootless container may use `cgroup`: never on v1 or hybrid hosts (warned once,
/// when the spec asks for resources); on v2 when the directory, or the nearest existing
/// ancestor it would be created in, is writable by us (a delegated subtree).
pub fn cgroup_usable(cgroup: &Cgroup, has_resources: bool) -> bool {
    if cgroup.hierarchy() != Hierarchy::Unified {
        if has_resources {
            tracing::warn!(
                "rootless on a cgroup v1/hybrid host: no cgroup is created, \
                 linux.resources are ignored"
            );
        }
        return false;
    }
    let Some(dir) = cgroup.unified_dir() else {
        return false;
    };
    let mut probe: &Path = &dir;
    while !probe.exists() {
        match probe.parent() {
            Some(p) => probe = p,
            None => return false,
        }
    }
    let writable = nix::unistd::access(probe, AccessFlags::W_OK).is_ok();
    if !writable {
        tracing::warn!(
            "rootless: cgroup {} is not delegated to us ({} is not writable): running without \
             a cgroup{}",
            cgroup.path().display(),
            probe.display(),
            if has_resources {
                ", linux.resources are ignored"
            } else {
                ""
            }
        );
    }
    writable
}

/// Whether `maps` is exactly our own id, once (what an unprivileged process may write to
/// its child's map itself).
fn is_own_single(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.host_id() == own && m.size() == 1)
}

/// How the parent wrote the maps: whether setgroups(2) is denied in the new namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapsWritten {
    pub setgroups_denied: bool,
}

/// Writes the uid/gid maps of `pid` (in a new user namespace). As root, directly. As an
/// ordinary user: a map of only our own id directly (for the gid map, after denying
/// setgroups, as the kernel requires); anything else through `newuidmap`/`newgidmap`, which
/// check the ranges against /etc/subuid and /etc/subgid (and leave setgroups allowed).
pub fn write_id_maps(
    pid: Pid,
    uid_maps: &[LinuxIdMapping],
    gid_maps: &[LinuxIdMapping],
) -> Result<MapsWritten> {
    if uid_maps.is_empty() || gid_maps.is_empty() {
        return Err(Error::Usage(
            "linux.uidMappings/gidMappings: required with a new user namespace".into(),
        ));
    }
    let euid = nix::unistd::geteuid();
    if euid.is_root() && in_initial_userns() {
        write_map(pid, "uid_map", "linux.uidMappings", uid_maps)?;
        write_map(pid, "gid_map", "linux.gidMappings", gid_maps)?;
        return Ok(MapsWritten {
            setgroups_denied: false,
        });
    }
    if is_own_single(uid_maps, euid.as_raw()) {
        write_map(pid, "uid_map", "linux.uidMappings", uid_maps)?;
    } else {
        helper("newuidmap", "linux.uidMappings", pid, uid_maps)?;
    }
    let egid = nix::unistd::getegid().as_raw();
    let setgroups_denied = is_own_single(gid_maps, egid);
    if setgroups_denied {
        let p = format!("/proc/{pid}/setgroups");
        std::fs::write(&p, "deny").map_err(|e| Error::io("linux.gidMappings: writing", p, e))?;
        write_map(pid, "gid_map", "linux.gidMappings", gid_maps)?;
    } else {
        helper("newgidmap", "linux.gidMappings", pid, gid_maps)?;
    }
    Ok(MapsWritten { setgroups_denied })
}

fn write_map(pid: Pid, file: &str, field: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    let text: String = maps
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    let p = format!("/proc/{pid}/{file}");
    std::fs::write(&p, text).map_err(|e| Error::Usage(format!("{field}: writing {p}: {e}")))
}

/// `newuidmap <pid> <container> <host> <size>...` (or newgidmap), from Debian's `uidmap`.
fn helper(tool: &str, field: &str, pid: Pid, maps: &[LinuxIdMapping]) -> Result<()> {
    let mut cmd = Command::new(tool);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.arg(m.container_id().to_string())
            .arg(m.host_id().to_string())
            .arg(m.size().to_string());
    }
    let subids = if tool == "newuidmap" {
        "/etc/subuid"
    } else {
        "/etc/subgid"
    };
    let out = cmd.output().map_err(|e| {
        Error::Usage(format!(
            "{field}: mapping more than our own id needs {tool} (apt-get install uidmap): \
             running it: {e}"
        ))
    })?;
    if !out.status.success() {
        return Err(Error::Usage(format!(
            "{field}: {tool} refused the mapping (are the ranges allotted to this user in \
             {subids}?): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(c: u32, h: u32, s: u32) -> LinuxIdMapping {
        serde_json::from_value(serde_json::json!({"containerID": c, "hostID": h, "size": s}))
            .unwrap()
    }

    #[test]
    fn own_single() {
        assert!(is_own_single(&[map(0, 1000, 1)], 1000));
        assert!(!is_own_single(&[map(0, 1000, 2)], 1000));
        assert!(!is_own_single(
            &[map(0, 1000, 1), map(1, 100_000, 65536)],
            1000
        ));
        assert!(!is_own_single(&[map(0, 1001, 1)], 1000));
    }

    #[test]
    fn flag() {
        assert!(detect(Some("true")).unwrap());
        assert!(!detect(Some("false")).unwrap());
        assert!(detect(Some("maybe")).is_err());
    }
}
