//! AppArmor and SELinux. arca does not apply profiles or labels yet; like runc, it ignores
//! them where the host's LSM is off (saying so in --debug), and where the LSM is on it refuses
//! to start rather than run the container without the confinement that was asked for.

use std::path::Path;

use oci_spec::runtime::Process;

use crate::error::{Error, Result};

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Checks a process's LSM fields (and the mount label) against the host.
pub fn check(process: Option<&Process>, mount_label: Option<&str>) -> Result<()> {
    let profile = process
        .and_then(|p| p.apparmor_profile().as_deref())
        .filter(|s| !s.is_empty());
    if let Some(profile) = profile {
        if apparmor_enabled() {
            return Err(Error::Usage(format!(
                "process.apparmorProfile {profile:?}: AppArmor is enabled on this host and arca cannot apply profiles yet"
            )));
        }
        tracing::debug!(
            "AppArmor is not enabled on this host: process.apparmorProfile {profile:?} ignored"
        );
    }
    let label = process
        .and_then(|p| p.selinux_label().as_deref())
        .filter(|s| !s.is_empty());
    for (field, value) in [
        ("process.selinuxLabel", label),
        ("linux.mountLabel", mount_label.filter(|s| !s.is_empty())),
    ] {
        if let Some(value) = value {
            if selinux_enabled() {
                return Err(Error::Usage(format!(
                    "{field} {value:?}: SELinux is enabled on this host and arca cannot apply labels yet"
                )));
            }
            tracing::debug!("SELinux is not enabled on this host: {field} {value:?} ignored");
        }
    }
    Ok(())
}
