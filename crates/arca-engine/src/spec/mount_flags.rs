//! `-v SRC:DST[:OPTS]`, `--tmpfs DST[:OPTS]` and `--mount type=bind|tmpfs,...` parsed into a
//! [`Mount`], with Docker's syntax and errors that name the part at fault. Nothing here touches
//! the filesystem: the caller checks (or, for `-v`, creates) bind sources.

use std::path::PathBuf;

use super::mounts::is_propagation;
use super::resources::parse_size;
use super::{Mount, MountKind, SpecError};

/// Options a tmpfs accepts besides propagation: Docker's list of mount flags, plus the tmpfs
/// data options.
const TMPFS_FLAGS: [&str; 16] = [
    "ro",
    "rw",
    "exec",
    "noexec",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
];
const TMPFS_DATA: [&str; 7] = [
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

/// `-v SRC:DST[:OPTS]` with `OPTS` a comma list of `ro`, `rw`, a propagation mode, `z`/`Z`
/// (SELinux relabelling: accepted and ignored, as Podman does without SELinux). `SRC` is an
/// absolute host path, or a volume name; `-v DST` alone is an anonymous volume.
pub fn parse_volume(s: &str) -> Result<Mount, SpecError> {
    const FLAG: &str = "--volume";
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        // `-v /dst`: an anonymous volume.
        [dst] => ("", *dst, None),
        [src, dst] => (*src, *dst, None),
        [src, dst, opts] => (*src, *dst, Some(*opts)),
        _ => {
            return Err(SpecError::invalid(
                FLAG,
                s,
                "too many colons: SRC:DST[:OPTS]",
            ))
        }
    };
    if src.is_empty() && parts.len() > 1 {
        return Err(SpecError::invalid(FLAG, s, "empty source"));
    }
    check_destination(FLAG, s, dst)?;
    let mut read_only = false;
    let mut options = Vec::new();
    for o in opts.into_iter().flat_map(|o| o.split(',')) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "z" | "Z" => {}
            p if is_propagation(p) => set_propagation(&mut options, p),
            _ => return Err(SpecError::invalid(FLAG, s, format!("unknown option {o:?}"))),
        }
    }
    let kind = if src.is_empty() {
        MountKind::Volume { name: None }
    } else if src.starts_with('/') {
        MountKind::Bind {
            source: PathBuf::from(src),
        }
    } else {
        // A named volume (its name is checked when it is made).
        MountKind::Volume {
            name: Some(src.to_owned()),
        }
    };
    Ok(Mount {
        kind,
        destination: dst.to_owned(),
        read_only,
        options,
    })
}

/// `--tmpfs DST[:OPTS]`: Docker's defaults `noexec,nosuid,nodev`, then the user's options,
/// a later option replacing an earlier one it contradicts (`exec` after `noexec`).
pub fn parse_tmpfs(s: &str) -> Result<Mount, SpecError> {
    const FLAG: &str = "--tmpfs";
    let (dst, opts) = match s.split_once(':') {
        Some((d, o)) => (d, o),
        None => (s, ""),
    };
    check_destination(FLAG, s, dst)?;
    let mut options: Vec<String> = ["noexec", "nosuid", "nodev"].map(str::to_owned).to_vec();
    let mut read_only = false;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            _ => add_tmpfs_option(FLAG, s, &mut options, o)?,
        }
    }
    Ok(Mount {
        kind: MountKind::Tmpfs,
        destination: dst.to_owned(),
        read_only,
        options,
    })
}

/// `--mount type=bind|tmpfs,source=...,target=...[,readonly][,bind-propagation=...]
/// [,tmpfs-size=...][,tmpfs-mode=...]` (Docker's keys and aliases).
pub fn parse_mount(s: &str) -> Result<Mount, SpecError> {
    const FLAG: &str = "--mount";
    let mut typ = None;
    let mut source = None;
    let mut target = None;
    let mut read_only = false;
    let mut propagation = None;
    let mut tmpfs = Vec::new();
    for field in s.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = |v: Option<&str>| {
            v.filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| SpecError::invalid(FLAG, s, format!("{k}: needs a value")))
        };
        match k.as_str() {
            "type" => typ = Some(need(v)?),
            "source" | "src" => source = Some(need(v)?),
            "target" | "destination" | "dst" => target = Some(need(v)?),
            "readonly" | "ro" => {
                read_only = match v.map(str::to_ascii_lowercase).as_deref() {
                    None | Some("1" | "true") => true,
                    Some("0" | "false") => false,
                    Some(other) => {
                        return Err(SpecError::invalid(
                            FLAG,
                            s,
                            format!("{k}={other}: expected true or false"),
                        ))
                    }
                }
            }
            "bind-propagation" => {
                let p = need(v)?;
                if !is_propagation(&p) {
                    return Err(SpecError::invalid(
                        FLAG,
                        s,
                        format!("bind-propagation={p}: unknown propagation mode"),
                    ));
                }
                propagation = Some(p);
            }
            "tmpfs-size" => {
                let v = need(v)?;
                let bytes = parse_size(&v)
                    .map_err(|r| SpecError::invalid(FLAG, s, format!("tmpfs-size={v}: {r}")))?;
                tmpfs.push(format!("size={bytes}"));
            }
            "tmpfs-mode" => {
                let v = need(v)?;
                let mode = u32::from_str_radix(&v, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| {
                        SpecError::invalid(FLAG, s, format!("tmpfs-mode={v}: not an octal mode"))
                    })?;
                tmpfs.push(format!("mode={mode:o}"));
            }
            "" => {}
            _ => return Err(SpecError::invalid(FLAG, s, format!("unknown key {k:?}"))),
        }
    }
    let target = target.ok_or_else(|| SpecError::invalid(FLAG, s, "target is required"))?;
    check_destination(FLAG, s, &target)?;
    let typ = typ.unwrap_or_else(|| "volume".to_owned());
    match typ.as_str() {
        "bind" => {
            if !tmpfs.is_empty() {
                return Err(SpecError::invalid(FLAG, s, "tmpfs options on a bind mount"));
            }
            let source = source.ok_or_else(|| SpecError::invalid(FLAG, s, "source is required"))?;
            if !source.starts_with('/') {
                return Err(SpecError::invalid(
                    FLAG,
                    s,
                    format!("source {source:?}: must be an absolute host path"),
                ));
            }
            Ok(Mount {
                kind: MountKind::Bind {
                    source: source.into(),
                },
                destination: target,
                read_only,
                options: propagation.into_iter().collect(),
            })
        }
        "volume" => {
            if !tmpfs.is_empty() || propagation.is_some() {
                return Err(SpecError::invalid(
                    FLAG,
                    s,
                    "tmpfs and bind options on a volume mount",
                ));
            }
            Ok(Mount {
                kind: MountKind::Volume { name: source },
                destination: target,
                read_only,
                options: Vec::new(),
            })
        }
        "tmpfs" => {
            if source.is_some() || propagation.is_some() {
                return Err(SpecError::invalid(
                    FLAG,
                    s,
                    "source and bind-propagation do not apply to tmpfs",
                ));
            }
            let mut options: Vec<String> =
                ["noexec", "nosuid", "nodev"].map(str::to_owned).to_vec();
            for o in &tmpfs {
                add_tmpfs_option(FLAG, s, &mut options, o)?;
            }
            Ok(Mount {
                kind: MountKind::Tmpfs,
                destination: target,
                read_only,
                options,
            })
        }
        other => Err(SpecError::invalid(
            FLAG,
            s,
            format!("type={other}: only bind, volume and tmpfs are supported"),
        )),
    }
}

fn check_destination(flag: &'static str, s: &str, dst: &str) -> Result<(), SpecError> {
    if dst.is_empty() {
        return Err(SpecError::invalid(flag, s, "empty destination"));
    }
    if !dst.starts_with('/') {
        return Err(SpecError::invalid(
            flag,
            s,
            format!("destination {dst:?}: must be an absolute path"),
        ));
    }
    if super::mounts::clean(dst) == "/" {
        return Err(SpecError::invalid(flag, s, "destination can't be /"));
    }
    Ok(())
}

fn set_propagation(options: &mut Vec<String>, p: &str) {
    options.retain(|o| !is_propagation(o));
    options.push(p.to_owned());
}

/// Adds `o`, removing what it overrides: its negation (`exec`/`noexec`) or an earlier value
/// of the same key (`size=`).
fn add_tmpfs_option(
    flag: &'static str,
    s: &str,
    options: &mut Vec<String>,
    o: &str,
) -> Result<(), SpecError> {
    if let Some((k, v)) = o.split_once('=') {
        if !TMPFS_DATA.contains(&k) || v.is_empty() {
            return Err(SpecError::invalid(flag, s, format!("unknown option {o:?}")));
        }
        options.retain(|x| x.split_once('=').map(|(xk, _)| xk) != Some(k));
    } else if is_propagation(o) {
        set_propagation(options, o);
        return Ok(());
    } else if TMPFS_FLAGS.contains(&o) {
        let base = o.strip_prefix("no").unwrap_or(o);
        options.retain(|x| x != base && x.strip_prefix("no") != Some(base));
    } else {
        return Err(SpecError::invalid(flag, s, format!("unknown option {o:?}")));
    }
    options.push(o.to_owned());
    Ok(())
}
