//! Capabilities by Docker's rules (moby `oci/caps`): a default set of 14, `--cap-add` and
//! `--cap-drop` applied to it, everything with `--privileged`. The result goes into the
//! bounding, effective and permitted sets; never inheritable or ambient, which would let
//! capabilities survive `execve` of an unprivileged program (CVE-2022-24769).

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

use super::{RunConfig, SpecError};

/// Docker's default capabilities (moby `oci/caps/defaults.go`), in its order.
pub const DEFAULT: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// Every capability up to Linux 5.9 (`CAP_CHECKPOINT_RESTORE`, 40). The runtime skips with a
/// warning those the running kernel does not know, so listing them all is safe.
pub const ALL: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// A capability or `ALL`, as the user wrote it (normalised).
#[derive(Debug, PartialEq, Eq)]
enum Arg {
    All,
    Cap(Capability),
}

/// `chown`, `CAP_CHOWN`, `Cap_Chown` all name CAP_CHOWN; `all` (any case) is ALL.
fn parse(flag: &'static str, s: &str) -> Result<Arg, SpecError> {
    let upper = s.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if bare == "ALL" {
        return Ok(Arg::All);
    }
    if !ALL.contains(&bare) {
        return Err(SpecError::invalid(flag, s, "unknown capability"));
    }
    serde_json::from_value(serde_json::Value::String(format!("CAP_{bare}")))
        .map(Arg::Cap)
        .map_err(|e| SpecError::invalid(flag, s, e.to_string()))
}

fn set(names: &[&str]) -> Vec<Capability> {
    names
        .iter()
        .filter_map(|n| match parse("", n) {
            Ok(Arg::Cap(c)) => Some(c),
            _ => None,
        })
        .collect()
}

/// The capability list Docker's `TweakCapabilities` computes: with `ALL` added, everything
/// minus the drops; with `ALL` dropped, only the adds; otherwise the defaults minus the drops
/// plus the adds. `--privileged` ignores both flags (as Docker).
pub(super) fn effective_list(run: &RunConfig) -> Result<Vec<Capability>, SpecError> {
    let adds = run
        .cap_add
        .iter()
        .map(|s| parse("--cap-add", s))
        .collect::<Result<Vec<_>, _>>()?;
    let drops = run
        .cap_drop
        .iter()
        .map(|s| parse("--cap-drop", s))
        .collect::<Result<Vec<_>, _>>()?;
    if run.privileged {
        return Ok(set(&ALL));
    }
    let caps_of = |args: &[Arg]| -> Vec<Capability> {
        args.iter()
            .filter_map(|a| match a {
                Arg::Cap(c) => Some(*c),
                Arg::All => None,
            })
            .collect()
    };
    let (add, drop) = (caps_of(&adds), caps_of(&drops));
    let mut out: Vec<Capability> = if adds.contains(&Arg::All) {
        set(&ALL)
            .into_iter()
            .filter(|c| !drop.contains(c))
            .collect()
    } else if drops.contains(&Arg::All) {
        add
    } else {
        set(&DEFAULT)
            .into_iter()
            .filter(|c| !drop.contains(c))
            .chain(add)
            .collect()
    };
    let mut seen = Vec::new();
    out.retain(|c| {
        let new = !seen.contains(c);
        seen.push(*c);
        new
    });
    Ok(out)
}

pub(super) fn capabilities(run: &RunConfig) -> Result<LinuxCapabilities, SpecError> {
    let caps: Capabilities = effective_list(run)?.into_iter().collect();
    let mut c = LinuxCapabilities::default();
    c.set_bounding(Some(caps.clone()));
    c.set_effective(Some(caps.clone()));
    c.set_permitted(Some(caps));
    c.set_inheritable(None);
    c.set_ambient(None);
    Ok(c)
}
