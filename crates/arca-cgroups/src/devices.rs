//! The device rules every container gets besides the spec's own.
//!
//! [`crate::Cgroup::apply`] writes exactly the rules it is given. A typical `config.json` only
//! says "deny all", so the runtime appends these (and an allow rule for each `linux.devices`
//! node) after the spec's rules, as runc's specconv does; otherwise `/dev/null` is unusable.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// One device cgroup rule (None major/minor = any).
pub fn device_rule(
    allow: bool,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow);
    r.set_typ(Some(typ));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_owned()));
    r
}

/// runc's `AllowedDevices`: mknod of anything, and the standard `/dev` nodes (null, random,
/// full, tty, zero, urandom, the pts devices and ptmx). Without `/dev/net/tun`, as runc ≥ 1.2.
pub fn default_allowed_devices() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    vec![
        device_rule(true, C, None, None, "m"),
        device_rule(true, B, None, None, "m"),
        device_rule(true, C, Some(1), Some(3), "rwm"),
        device_rule(true, C, Some(1), Some(8), "rwm"),
        device_rule(true, C, Some(1), Some(7), "rwm"),
        device_rule(true, C, Some(5), Some(0), "rwm"),
        device_rule(true, C, Some(1), Some(5), "rwm"),
        device_rule(true, C, Some(1), Some(9), "rwm"),
        device_rule(true, C, Some(136), None, "rwm"),
        device_rule(true, C, Some(5), Some(2), "rwm"),
    ]
}
