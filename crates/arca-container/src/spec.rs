//! Loading and checking a bundle's config.json before anything is created, so that bad input
//! fails with one line that names the file and field and leaves nothing behind.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};
use crate::paths::escapes_root;

/// A validated spec with its bundle and the absolute rootfs path.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Spec,
    pub rootfs: PathBuf,
}

impl Bundle {
    pub fn load(dir: &Path) -> Result<Bundle> {
        let dir = std::path::absolute(dir).map_err(|e| Error::io("resolving bundle", dir, e))?;
        let file = dir.join("config.json");
        let text = match std::fs::read(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(spec_err(&file, "no such file (is --bundle right?)"))
            }
            Err(e) => return Err(Error::io("reading", &file, e)),
        };
        let spec = parse(&text, &file)?;
        let rootfs = validate(&spec, &dir, &file)?;
        Ok(Bundle { dir, spec, rootfs })
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }
}

/// Parses config.json, naming the field of any error. A capability name this runtime does not
/// know (newer than it) is skipped with a warning, as runc does, instead of failing the whole
/// spec: only then is the JSON parsed a second time.
fn parse(text: &[u8], file: &Path) -> Result<Spec> {
    let parsed = |bytes: &[u8]| {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize::<_, Spec>(de)
    };
    let err = match parsed(text) {
        Ok(spec) => return Ok(spec),
        Err(e) => e,
    };
    let path = err.path().to_string();
    if path.starts_with("process.capabilities") {
        if let Some(cleaned) = without_unknown_capabilities(text) {
            if let Ok(spec) = parsed(&cleaned) {
                return Ok(spec);
            }
        }
    }
    let inner = err.into_inner();
    Err(if path == "." {
        spec_err(file, format!("malformed JSON: {inner}"))
    } else {
        spec_err(file, format!("{path}: {inner}"))
    })
}

fn without_unknown_capabilities(text: &[u8]) -> Option<Vec<u8>> {
    let mut v: serde_json::Value = serde_json::from_slice(text).ok()?;
    let caps = v.pointer_mut("/process/capabilities")?.as_object_mut()?;
    for (set, names) in caps.iter_mut() {
        if let Some(list) = names.as_array_mut() {
            list.retain(|name| {
                let known =
                    serde_json::from_value::<oci_spec::runtime::Capability>(name.clone()).is_ok();
                if !known {
                    tracing::warn!(
                        "process.capabilities.{set}: unknown capability {name}: skipped"
                    );
                }
                known
            });
        }
    }
    serde_json::to_vec(&v).ok()
}

fn spec_err(file: &Path, msg: impl Into<String>) -> Error {
    Error::Spec {
        file: file.to_owned(),
        msg: msg.into(),
    }
}

/// hostname, domainname and sysctls change the kernel for everyone unless the container has
/// its own namespace for them: refuse them otherwise (runc's rules), naming the field.
fn check_namespaced_settings(spec: &Spec, file: &Path) -> Result<()> {
    use oci_spec::runtime::LinuxNamespaceType as T;
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let has = |t: T| namespaces.iter().any(|n| n.typ() == t);
    if !has(T::Uts) {
        if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) {
            return Err(spec_err(
                file,
                "hostname: needs a uts namespace (linux.namespaces)",
            ));
        }
        if spec.domainname().as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(spec_err(
                file,
                "domainname: needs a uts namespace (linux.namespaces)",
            ));
        }
    }
    let sysctls = spec
        .linux()
        .as_ref()
        .and_then(|l| l.sysctl().clone())
        .unwrap_or_default();
    for (key, value) in &sysctls {
        check_sysctl_value(key, value).map_err(|m| spec_err(file, m))?;
        let ipc = matches!(
            key.as_str(),
            "kernel.msgmax"
                | "kernel.msgmnb"
                | "kernel.msgmni"
                | "kernel.sem"
                | "kernel.shmall"
                | "kernel.shmmax"
                | "kernel.shmmni"
                | "kernel.shm_rmid_forced"
        ) || key.starts_with("fs.mqueue.");
        let needed = if ipc {
            Some(T::Ipc)
        } else if key.starts_with("net.") {
            Some(T::Network)
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            Some(T::Uts)
        } else {
            None
        };
        match needed {
            Some(t) if has(t) => {}
            Some(t) => {
                return Err(spec_err(
                    file,
                    format!("linux.sysctl {key:?}: needs a {t} namespace (linux.namespaces)"),
                ))
            }
            None => {
                return Err(spec_err(
                    file,
                    format!(
                        "linux.sysctl {key:?}: not a namespaced sysctl, it would change the host"
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// A sysctl value is written as is to its /proc/sys file, but a value must never carry a second
/// setting: CRI-O's pinns joined `key=value` pairs with `+` and split them again, so a value of
/// `1+kernel.core_pattern=|/evil` set a host sysctl (CVE-2022-0811). Refuse `=` (nothing a
/// sysctl takes contains one), newlines and NULs (a second line or a truncated value), and a
/// `+` followed by something shaped like a sysctl key; spaces and tabs (`"0 2147483647"`) are
/// fine.
fn check_sysctl_value(key: &str, value: &str) -> std::result::Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "linux.sysctl {key:?}: value {value:?} {why}, refusing it (CVE-2022-0811)"
        ))
    };
    if value.contains('=') {
        return bad("contains '=', as if it set another sysctl");
    }
    if let Some(c) = value
        .chars()
        .find(|&c| c == '\0' || (c.is_control() && c != ' ' && c != '\t'))
    {
        return bad(&format!("contains the control character {c:?}"));
    }
    let looks_like_key = |s: &str| {
        let s = s.trim_start();
        s.contains('.')
            && s.split('.').next().is_some_and(|first| {
                !first.is_empty() && first.chars().all(|c| c.is_ascii_alphabetic())
            })
    };
    if value.split('+').skip(1).any(looks_like_key) {
        return bad("joins another sysctl key with '+'");
    }
    Ok(())
}

/// Checks what must hold before create starts; returns the absolute rootfs path.
fn validate(spec: &Spec, dir: &Path, file: &Path) -> Result<PathBuf> {
    let version = spec.version();
    let major = version.split('.').next().unwrap_or("");
    if major != "1" {
        return Err(spec_err(
            file,
            format!("ociVersion {version:?} is not supported (this runtime implements 1.x)"),
        ));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| spec_err(file, "root: missing"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        dir.join(root.path())
    };
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(spec_err(
                file,
                format!("root.path {}: not a directory", rootfs.display()),
            ))
        }
        Err(e) => {
            return Err(spec_err(
                file,
                format!("root.path {}: {e}", rootfs.display()),
            ))
        }
    }
    let process = spec.process().as_ref();
    if let Some(p) = process {
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(spec_err(file, "process.args: must not be empty"));
        }
        // Ids above 2^31-1 would wrap to negative (and to root) in some consumers
        // (CVE-2024-40635): refuse them.
        let user = p.user();
        let ids = [user.uid(), user.gid()]
            .into_iter()
            .chain(user.additional_gids().iter().flatten().copied());
        if let Some(bad) = ids.into_iter().find(|id| *id > i32::MAX.cast_unsigned()) {
            return Err(spec_err(
                file,
                format!("process.user: uid/gid {bad} out of range 0-2147483647"),
            ));
        }
        if !p.cwd().is_absolute() {
            return Err(spec_err(
                file,
                format!("process.cwd {:?}: must be an absolute path", p.cwd()),
            ));
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let d = m.destination();
        if escapes_root(d) {
            return Err(spec_err(
                file,
                format!(
                    "mounts[{i}].destination {}: escapes the container root",
                    d.display()
                ),
            ));
        }
    }
    check_namespaced_settings(spec, file)?;
    if let Some(linux) = spec.linux() {
        for (i, p) in linux
            .masked_paths()
            .iter()
            .flatten()
            .chain(linux.readonly_paths().iter().flatten())
            .enumerate()
        {
            if escapes_root(Path::new(p)) {
                return Err(spec_err(
                    file,
                    format!("linux masked/readonly path #{i} {p:?}: escapes the container root"),
                ));
            }
        }
    }
    Ok(rootfs)
}

#[cfg(test)]
mod tests {
    use super::check_sysctl_value;

    #[test]
    fn sysctl_values_with_injected_settings_are_refused() {
        for v in [
            "1+kernel.core_pattern=|/evil",
            "1+kernel.core_pattern",
            "1 + kernel.core_pattern",
            "a=b",
            "1\nkernel.core_pattern=|/evil",
            "1\0",
            "1\r",
        ] {
            let err = check_sysctl_value("kernel.shm_rmid_forced", v).unwrap_err();
            assert!(
                err.contains("linux.sysctl \"kernel.shm_rmid_forced\""),
                "{err}"
            );
        }
    }

    #[test]
    fn plain_sysctl_values_are_accepted() {
        for v in [
            "1",
            "0 2147483647",
            "4096\t87380\t6291456",
            "cubic",
            "",
            "+1",
            "1+2",
        ] {
            check_sysctl_value("net.ipv4.ping_group_range", v).unwrap();
        }
    }
}
