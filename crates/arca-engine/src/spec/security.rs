//! `--security-opt`: the seccomp profile and no-new-privileges. Other options (AppArmor and
//! SELinux labels) are refused by name rather than silently ignored, except the two that ask
//! for what arca already does (no LSM profile): `apparmor=unconfined` and `label=disable`.

use std::io::Read;
use std::path::PathBuf;

use oci_spec::runtime::LinuxSeccomp;

use super::SpecError;

const FLAG: &str = "--security-opt";

/// A seccomp profile is a few tens of KiB; this bounds what a wrong path makes us read.
const MAX_PROFILE: u64 = 4 << 20;

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) enum Seccomp {
    /// arca's default profile (`arca_container::seccomp::default_profile`).
    #[default]
    Default,
    Unconfined,
    File(PathBuf),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Security {
    pub seccomp: Seccomp,
    pub no_new_privileges: bool,
}

/// Docker's syntax: `key=value`, or `key:value` (its older form); later options win.
pub(super) fn parse(opts: &[String]) -> Result<Security, SpecError> {
    let mut out = Security::default();
    for opt in opts {
        let (k, v) = match opt.split_once('=').or_else(|| opt.split_once(':')) {
            Some((k, v)) => (k, Some(v)),
            None => (opt.as_str(), None),
        };
        match (k, v) {
            ("seccomp", Some("unconfined")) => out.seccomp = Seccomp::Unconfined,
            ("seccomp", Some("builtin" | "default")) => out.seccomp = Seccomp::Default,
            ("seccomp", Some(f)) if !f.is_empty() => out.seccomp = Seccomp::File(f.into()),
            ("no-new-privileges", None | Some("true")) => out.no_new_privileges = true,
            ("no-new-privileges", Some("false")) => out.no_new_privileges = false,
            ("apparmor", Some("unconfined")) | ("label", Some("disable")) => {}
            ("seccomp" | "no-new-privileges", _) => {
                return Err(SpecError::invalid(FLAG, opt, "invalid value"))
            }
            ("apparmor" | "label" | "systempaths" | "mask" | "unmask" | "proc-opts", _) => {
                return Err(SpecError::invalid(FLAG, opt, "not supported by arca"))
            }
            _ => {
                return Err(SpecError::invalid(
                    FLAG,
                    opt,
                    "unknown option (supported: seccomp=unconfined|FILE, no-new-privileges)",
                ))
            }
        }
    }
    Ok(out)
}

/// The profile for `linux.seccomp`: none when unconfined or privileged (Docker gives a
/// privileged container no filter, even with a profile named), the default, or the file.
pub(super) fn seccomp(s: &Security, privileged: bool) -> Result<Option<LinuxSeccomp>, SpecError> {
    if privileged {
        return Ok(None);
    }
    match &s.seccomp {
        Seccomp::Unconfined => Ok(None),
        Seccomp::Default => Ok(Some(arca_container::seccomp::default_profile())),
        Seccomp::File(path) => read_profile(path).map(Some),
    }
}

/// An OCI `linux.seccomp` object, or a Docker profile whose `archMap` (instead of
/// `architectures`) is flattened. Docker's conditional rules (`includes`/`excludes` by
/// capability, arch or kernel) cannot be evaluated here and are refused rather than applied
/// unconditionally, which would silently allow what they were meant to allow only sometimes.
fn read_profile(path: &PathBuf) -> Result<LinuxSeccomp, SpecError> {
    let value = format!("seccomp={}", path.display());
    let io = |source| SpecError::Io {
        flag: FLAG,
        value: value.clone(),
        path: path.clone(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_PROFILE + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_PROFILE {
        return Err(SpecError::invalid(FLAG, value, "profile larger than 4 MiB"));
    }
    let mut json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| SpecError::invalid(FLAG, value.clone(), format!("not JSON: {e}")))?;
    let Some(obj) = json.as_object_mut() else {
        return Err(SpecError::invalid(FLAG, value, "not a JSON object"));
    };
    if let Some(arch_map) = obj.remove("archMap") {
        if !obj.contains_key("architectures") {
            let mut arches = Vec::new();
            for entry in arch_map.as_array().into_iter().flatten() {
                arches.extend(entry.get("architecture").cloned());
                if let Some(subs) = entry.get("subArchitectures").and_then(|s| s.as_array()) {
                    arches.extend(subs.iter().cloned());
                }
            }
            obj.insert("architectures".to_owned(), serde_json::Value::Array(arches));
        }
    }
    let conditional = obj
        .get("syscalls")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .any(|rule| {
            ["includes", "excludes"].iter().any(|k| {
                rule.get(*k)
                    .and_then(|c| c.as_object())
                    .is_some_and(|c| !c.is_empty())
            })
        });
    if conditional {
        return Err(SpecError::invalid(
            FLAG,
            value,
            "Docker profile templates (rules with includes/excludes) are not supported: give a \
             resolved OCI linux.seccomp profile",
        ));
    }
    let profile: LinuxSeccomp = serde_json::from_value(json).map_err(|e| {
        SpecError::invalid(FLAG, value.clone(), format!("not a seccomp profile: {e}"))
    })?;
    // Compiled once here (a few ms, no side effects) so that a profile the runtime would
    // refuse (unknown syscall or action...) fails `arca run` before anything is created.
    arca_container::seccomp::prepare(&profile, None)
        .map_err(|e| SpecError::invalid(FLAG, value, e.to_string()))?;
    Ok(profile)
}
