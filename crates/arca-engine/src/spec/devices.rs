//! `--device SRC[:DST[:PERMS]]` and the devices of a privileged container: the nodes to create
//! in the container's `/dev` (`linux.devices`) and the device cgroup rules that let the
//! container use them (`linux.resources.devices`). The rules start with "deny all"; the runtime
//! appends the allow rules for the standard nodes (`/dev/null`, the ptys...) itself.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};
use rustix::fs::FileType;

use super::{RunConfig, SpecError};

const FLAG: &str = "--device";

/// Bounds the walk of a directory given to `--device` (or of `/dev`): symlinked loops and
/// huge trees stop here instead of exhausting memory.
const MAX_DEVICES: usize = 4096;

#[derive(Debug, Default)]
pub(super) struct Devices {
    pub nodes: Vec<LinuxDevice>,
    pub rules: Vec<LinuxDeviceCgroup>,
}

fn rule(
    allow: bool,
    typ: Option<LinuxDeviceType>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow);
    r.set_typ(typ);
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_owned()));
    r
}

/// Docker's rule for a device's permissions: one to three of `r`, `w`, `m`, each once.
fn valid_permissions(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 3
        && p.chars().all(|c| "rwm".contains(c))
        && p.chars().enumerate().all(|(i, c)| !p[..i].contains(c))
}

/// Splits `SRC[:DST[:PERMS]]` as Docker does: with two parts, the second is the permissions
/// if it reads as such, else the destination.
fn split(s: &str) -> Result<(&str, &str, &str), SpecError> {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, perms) = match parts.as_slice() {
        [src] => (*src, *src, "rwm"),
        [src, p] if valid_permissions(p) => (*src, *src, *p),
        [src, dst] => (*src, *dst, "rwm"),
        [src, dst, p] => (*src, *dst, *p),
        _ => return Err(SpecError::invalid(FLAG, s, "expected SRC[:DST[:PERMS]]")),
    };
    if !valid_permissions(perms) {
        return Err(SpecError::invalid(
            FLAG,
            s,
            format!("permissions {perms:?}: expected a combination of r, w and m"),
        ));
    }
    for p in [src, dst] {
        if !p.starts_with('/') {
            return Err(SpecError::invalid(
                FLAG,
                s,
                format!("{p:?}: must be an absolute path"),
            ));
        }
    }
    Ok((src, if dst.is_empty() { src } else { dst }, perms))
}

/// The node for host device `path` (symlinks followed, as Docker resolves them), to appear
/// at `dst`; `None` if `path` is not a device.
fn device(path: &Path, dst: &Path) -> std::io::Result<Option<LinuxDevice>> {
    let st = rustix::fs::stat(path)?;
    let typ = match FileType::from_raw_mode(st.st_mode) {
        FileType::CharacterDevice => LinuxDeviceType::C,
        FileType::BlockDevice => LinuxDeviceType::B,
        _ => return Ok(None),
    };
    let mut d = LinuxDevice::default();
    d.set_path(dst.to_path_buf());
    d.set_typ(typ);
    d.set_major(i64::from(rustix::fs::major(st.st_rdev)));
    d.set_minor(i64::from(rustix::fs::minor(st.st_rdev)));
    d.set_file_mode(Some(st.st_mode & 0o7777));
    d.set_uid(Some(st.st_uid));
    d.set_gid(Some(st.st_gid));
    Ok(Some(d))
}

/// The devices under `dir` (recursively, not following directory symlinks), each at
/// `dst` + its path relative to `dir`. `skip` says which entries of `/dev` to leave alone.
fn walk(
    dir: &Path,
    dst: &Path,
    skip: &dyn Fn(&Path) -> bool,
    out: &mut Vec<LinuxDevice>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if skip(&path) {
            continue;
        }
        let ft = e.file_type()?;
        let target = dst.join(e.file_name());
        if ft.is_dir() {
            walk(&path, &target, skip, out)?;
        } else if !ft.is_symlink() {
            if let Some(d) = device(&path, &target)? {
                out.push(d);
            }
        }
        if out.len() > MAX_DEVICES {
            return Err(std::io::Error::other(format!(
                "more than {MAX_DEVICES} devices"
            )));
        }
    }
    Ok(())
}

/// Every device of the host's `/dev`, as Docker gives a privileged container (containerd's
/// `HostDevices`): not the pty, shm, mqueue and fd directories, nor `/dev/console` and
/// `/dev/ptmx`, which the runtime sets up for the container's own terminal.
fn host_devices() -> Result<Vec<LinuxDevice>, SpecError> {
    let skip = |p: &Path| {
        matches!(
            p.to_str(),
            Some(
                "/dev/pts"
                    | "/dev/shm"
                    | "/dev/fd"
                    | "/dev/mqueue"
                    | "/dev/.lxc"
                    | "/dev/.lxd-mounts"
                    | "/dev/.udev"
                    | "/dev/console"
                    | "/dev/ptmx"
            )
        )
    };
    let mut out = Vec::new();
    walk(Path::new("/dev"), Path::new("/dev"), &skip, &mut out).map_err(|source| {
        SpecError::Io {
            flag: "--privileged",
            value: String::new(),
            path: PathBuf::from("/dev"),
            source,
        }
    })?;
    Ok(out)
}

/// The nodes and rules for `run`: with `--privileged`, every host device and one rule that
/// allows everything; otherwise "deny all" and an allow rule per `--device`.
pub(super) fn devices(run: &RunConfig) -> Result<Devices, SpecError> {
    let mut out = Devices::default();
    if run.privileged {
        out.nodes = host_devices()?;
        out.rules.push(rule(true, None, None, None, "rwm"));
    } else {
        out.rules.push(rule(false, None, None, None, "rwm"));
    }
    for s in &run.devices {
        let (src, dst, perms) = split(s)?;
        let io = |source| SpecError::Io {
            flag: FLAG,
            value: s.clone(),
            path: PathBuf::from(src),
            source,
        };
        let src_path = Path::new(src);
        let mut found = Vec::new();
        if src_path.is_dir() {
            walk(src_path, Path::new(dst), &|_| false, &mut found).map_err(io)?;
            if found.is_empty() {
                return Err(SpecError::invalid(
                    FLAG,
                    s,
                    format!("no devices under {src}"),
                ));
            }
        } else {
            match device(src_path, Path::new(dst)).map_err(io)? {
                Some(d) => found.push(d),
                None => {
                    return Err(SpecError::invalid(
                        FLAG,
                        s,
                        format!("{src}: not a device node"),
                    ))
                }
            }
        }
        for d in found {
            if !run.privileged {
                out.rules.push(rule(
                    true,
                    Some(d.typ()),
                    Some(d.major()),
                    Some(d.minor()),
                    perms,
                ));
            }
            out.nodes.retain(|n| n.path() != d.path());
            out.nodes.push(d);
        }
    }
    Ok(out)
}
