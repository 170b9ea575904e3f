//! The container's mounts: Docker's defaults (moby `oci/defaults.go`), adjusted for
//! `--privileged` and `--read-only` as moby's `WithMounts` does, then the user's mounts, parents
//! before children. Also the paths masked or made read-only in `/proc` and `/sys`.

use std::path::{Component, Path};

use oci_spec::runtime::Mount as OciMount;

use super::{Mount, MountKind, RunConfig, SpecError};

/// Docker's masked paths: kernel interfaces that leak host information (`/proc/kcore`,
/// `/proc/keys`...) or allow side channels (`powercap`: CVE-2020-8694).
pub(super) fn masked_paths() -> Vec<String> {
    [
        "/proc/asound",
        "/proc/acpi",
        "/proc/interrupts",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Docker's read-only paths: `/proc` files that would change the host's kernel settings.
pub(super) fn readonly_paths() -> Vec<String> {
    [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> OciMount {
    let mut m = OciMount::default();
    m.set_destination(dest.into());
    m.set_typ(Some(typ.to_owned()));
    m.set_source(Some(source.into()));
    m.set_options(Some(options.iter().map(|o| (*o).to_owned()).collect()));
    m
}

/// Docker's default mounts. `/dev/shm` is a 64 MiB tmpfs (Docker's default `--shm-size`;
/// Docker bind-mounts one it made, Podman mounts a tmpfs as here). `/sys` and the cgroup
/// filesystem (of the container's own cgroup namespace) are read-only unless privileged.
fn defaults(privileged: bool) -> Vec<OciMount> {
    let ro = |opts: &[&'static str]| -> Vec<&'static str> {
        let mut v = opts.to_vec();
        if !privileged {
            v.push("ro");
        }
        v
    };
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &ro(&["nosuid", "noexec", "nodev"]),
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &ro(&["nosuid", "noexec", "nodev", "relatime"]),
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
    ]
}

/// Number of components: Docker mounts shallower destinations first so that `-v /a` does not
/// hide `-v /a/b`.
fn depth(dest: &str) -> usize {
    Path::new(dest)
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count()
}

/// Normalised destination (`/a//b/` is `/a/b`), for duplicate and override checks.
pub(super) fn clean(dest: &str) -> String {
    let parts: Vec<_> = Path::new(dest)
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    format!("/{}", parts.join("/"))
}

fn user_mount(m: &Mount) -> Result<OciMount, SpecError> {
    let mut opts = Vec::new();
    let (typ, source) = match &m.kind {
        MountKind::Bind { source } => {
            opts.push("rbind".to_owned());
            ("bind", source.clone())
        }
        MountKind::Tmpfs => ("tmpfs", "tmpfs".into()),
        MountKind::Volume { name } => {
            return Err(SpecError::invalid(
                "--volume",
                &m.destination,
                format!("volume {name:?} was not resolved to its directory"),
            ))
        }
    };
    if m.read_only {
        opts.push("ro".to_owned());
    }
    opts.extend(m.options.iter().cloned());
    if matches!(m.kind, MountKind::Bind { .. }) && !opts.iter().any(|o| is_propagation(o)) {
        // Docker's default: a bind mount does not propagate to or from the host.
        opts.push("rprivate".to_owned());
    }
    let mut out = OciMount::default();
    out.set_destination(clean(&m.destination).into());
    out.set_typ(Some(typ.to_owned()));
    out.set_source(Some(source));
    out.set_options(Some(opts));
    Ok(out)
}

pub(super) fn is_propagation(o: &str) -> bool {
    matches!(
        o,
        "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
    )
}

/// The defaults not overridden by a user mount (a user `/dev` replaces everything under
/// `/dev` too), then the user's, shallowest first. Two user mounts on one destination are an
/// error, as in Docker.
pub(super) fn mounts(run: &RunConfig) -> Result<Vec<OciMount>, SpecError> {
    let mut seen: Vec<String> = Vec::new();
    for m in &run.mounts {
        let d = clean(&m.destination);
        if !m.destination.starts_with('/') || d == "/" {
            return Err(SpecError::invalid(
                "mount",
                &m.destination,
                "the destination must be an absolute path other than /",
            ));
        }
        if seen.contains(&d) {
            return Err(SpecError::invalid("mount", d, "duplicate mount point"));
        }
        seen.push(d);
    }
    let user_dev = seen.iter().any(|d| d == "/dev");
    let mut out: Vec<OciMount> = defaults(run.privileged)
        .into_iter()
        .filter(|m| {
            let d = m.destination().to_string_lossy();
            let overridden = seen.iter().any(|s| *s == d);
            let under_user_dev = user_dev && d.starts_with("/dev/");
            !overridden && !under_user_dev
        })
        .collect();
    let mut user: Vec<&Mount> = run.mounts.iter().collect();
    user.sort_by_key(|m| depth(&m.destination));
    for m in user {
        out.push(user_mount(m)?);
    }
    Ok(out)
}

/// Docker makes the rootfs `shared` when a bind mount asks for shared propagation (the
/// propagation could not work otherwise) and `rslave` for slave propagation.
pub(super) fn rootfs_propagation(mounts: &[Mount]) -> Option<String> {
    let props: Vec<&str> = mounts
        .iter()
        .filter(|m| matches!(m.kind, MountKind::Bind { .. }))
        .flat_map(|m| m.options.iter().map(String::as_str))
        .collect();
    if props.iter().any(|p| matches!(*p, "shared" | "rshared")) {
        Some("shared".to_owned())
    } else if props.iter().any(|p| matches!(*p, "slave" | "rslave")) {
        Some("rslave".to_owned())
    } else {
        None
    }
}
