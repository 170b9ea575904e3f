//! v1 `devices` controller: an allow/deny list replayed rule by rule.

use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::CgroupError;
use crate::fs::write_file;

/// Deny everything, then replay the spec's rules in order, each to `devices.allow` or
/// `devices.deny`: the spec's list is ordered and later rules override earlier ones.
pub(super) fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    write_file(dir, "devices.deny", "a")?;
    for rule in rules {
        let Some(line) = rule_line(rule) else {
            continue;
        };
        let file = if rule.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write_file(dir, file, &line)?;
    }
    Ok(())
}

/// A rule as the v1 devices controller wants it: `type major:minor access`, `*` for wildcards.
/// `None` for FIFOs, which the device controller does not govern.
pub(crate) fn rule_line(rule: &LinuxDeviceCgroup) -> Option<String> {
    let typ = match rule.typ().unwrap_or_default() {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => {
            tracing::debug!("ignoring device rule for FIFOs: {rule}");
            return None;
        }
    };
    let num = |n: Option<i64>| match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".to_owned(),
    };
    let access = rule.access().as_deref().filter(|a| !a.is_empty());
    Some(format!(
        "{typ} {}:{} {}",
        num(rule.major()),
        num(rule.minor()),
        access.unwrap_or("rwm")
    ))
}
