//! The engine run by an ordinary user (Podman's rootless model).
//!
//! Every arca process of a user lives in one user namespace (uid 0 inside = the user, ids
//! 1… = the user's /etc/subuid and /etc/subgid ranges) and one mount namespace, both held by a
//! tiny long-lived pause process (see [`pause`]). Each invocation joins them at the top of
//! `main` ([`enter`]), while still single-threaded as `setns(CLONE_NEWUSER)` requires, so that
//! the overlay mounts, network namespaces and container processes one invocation makes are
//! seen by the next: `run -d` in one, `exec`, `logs`, `stop`, `rm` in others. Inside, arca is
//! root: unpack chowns to the image's owners, overlay mounts (Linux ≥ 5.11) and the runtime
//! work as they do for root, and nothing here runs when arca is started as root.
//!
//! What changes for such a user ([`active`]): the store's default root
//! (`$XDG_DATA_HOME/arca`), a run directory of the user's own for network namespaces, console
//! sockets and the pause process ([`run_dir`]), pasta as the default network (CNI bridges need
//! the host's root), and no cgroup unless one is delegated (resource limits are refused, see
//! [`adapt_spec`]).

pub mod pause;
mod subids;

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, Spec};

use crate::error::EngineError;

/// Set by [`enter`] for the process and inherited by its children (the monitor, the
/// protected re-exec): the user's uid outside the namespace.
const ENV: &str = "_ARCA_ROOTLESS_UID";

/// Whether this process is a rootless user's arca (inside the user's namespace).
pub fn active() -> bool {
    outer_uid().is_some()
}

/// The user's own uid, outside the namespace (None when not rootless).
fn outer_uid() -> Option<u32> {
    let uid: u32 = std::env::var(ENV).ok()?.parse().ok()?;
    // Only meaningful once we are "root" in the user's namespace (a stray variable in the
    // environment of the host's root changes nothing; root never pays for the check).
    (nix::unistd::geteuid().is_root() && !arca_container::rootless::in_initial_userns())
        .then_some(uid)
}

/// Joins (or first creates) the user's namespaces; nothing for root. Must run before any
/// thread is started.
pub fn enter() -> Result<(), EngineError> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let uid = nix::unistd::getuid().as_raw();
    let dir = run_dir_for(uid);
    pause::join_or_create(&dir)?;
    std::env::set_var(ENV, uid.to_string());
    Ok(())
}

/// Where the store is by default: `/var/lib/arca` for root, `$XDG_DATA_HOME/arca` (else
/// `~/.local/share/arca`) for a rootless user, as Podman keeps its graph root.
pub fn default_root() -> PathBuf {
    if !active() {
        return PathBuf::from("/var/lib/arca");
    }
    let abs = |v: &str| {
        std::env::var_os(v)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    abs("XDG_DATA_HOME")
        .or_else(|| abs("HOME").map(|h| h.join(".local/share")))
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/arca-data-{}", outer_uid().unwrap_or(0))))
        .join("arca")
}

/// Where network namespaces (`netns/`) and console sockets (`console/`) live: `/run/arca`
/// for root, the user's own [`run_dir_for`] when rootless.
pub fn run_dir() -> PathBuf {
    match outer_uid() {
        Some(uid) => run_dir_for(uid),
        None => PathBuf::from("/run/arca"),
    }
}

/// `$XDG_RUNTIME_DIR/arca-engine`, else `/tmp/arca-engine-<uid>` (not `$XDG_RUNTIME_DIR/arca`,
/// which is `arca-runtime`'s state root and lists every directory in it as a container).
fn run_dir_for(uid: u32) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if Path::new(&d).is_absolute() => Path::new(&d).join("arca-engine"),
        _ => PathBuf::from(format!("/tmp/arca-engine-{uid}")),
    }
}

/// A rootless container's spec: no cgroup limits (there is no cgroup without a delegated v2
/// subtree, so `--memory`, `--cpus`, `--pids-limit` are refused instead of silently
/// ignored; the device rules, which only a cgroup enforces, are dropped: the container's /dev
/// holds bind mounts of the host's nodes, which the user could open anyway), and `/sys`
/// bound from the host where the container shares the host's network namespace (sysfs can
/// only be mounted by the owner of the network namespace).
pub fn adapt_spec(spec: &mut Spec) -> Result<(), EngineError> {
    let Some(linux) = spec.linux_mut() else {
        return Ok(());
    };
    if let Some(r) = linux.resources() {
        let asked = [
            (r.memory().is_some(), "--memory"),
            (r.cpu().is_some(), "--cpus"),
            (r.pids().is_some(), "--pids-limit"),
        ];
        if let Some((_, flag)) = asked.iter().find(|(set, _)| *set) {
            return Err(EngineError::Spec(format!(
                "{flag}: resource limits need a cgroup, and a rootless user has none here \
                 (cgroup v2 with a subtree delegated to the user, e.g. by systemd, is needed)"
            )));
        }
    }
    linux.set_resources(None);
    let host_net = !linux.namespaces().as_ref().is_some_and(|nss| {
        nss.iter()
            .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Network)
    });
    if host_net {
        if let Some(mounts) = spec.mounts_mut() {
            for m in mounts
                .iter_mut()
                .filter(|m| m.typ().as_deref() == Some("sysfs"))
            {
                *m = sys_bind(m);
            }
        }
    }
    Ok(())
}

/// `/sys` as a read-only recursive bind of the host's (what `runc spec --rootless` writes).
fn sys_bind(m: &Mount) -> Mount {
    let mut b = Mount::default();
    b.set_destination(m.destination().clone());
    b.set_typ(Some("none".into()));
    b.set_source(Some("/sys".into()));
    b.set_options(Some(
        ["rbind", "nosuid", "noexec", "nodev", "ro"]
            .map(String::from)
            .to_vec(),
    ));
    b
}
