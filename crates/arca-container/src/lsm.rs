//! AppArmor and SELinux. An AppArmor profile is applied where AppArmor is enabled: the init (and
//! each exec'd process) writes `exec <profile>` to its own procfs attr file just before it
//! reports ready, so its execve enters the profile, as runc does. SELinux labels are not applied
//! yet: where SELinux is enabled they are refused rather than run without the confinement that
//! was asked for. Where the host's LSM is off, both are ignored with a debug line (runc's
//! behaviour).

use std::path::Path;

use oci_spec::runtime::Process;
use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::error::{Error, Result};

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

fn apparmor_field(process: Option<&Process>) -> Option<&str> {
    process
        .and_then(|p| p.apparmor_profile().as_deref())
        .filter(|s| !s.is_empty())
}

/// Checks a process's LSM fields (and the mount label) against the host.
pub fn check(process: Option<&Process>, mount_label: Option<&str>) -> Result<()> {
    if let Some(profile) = apparmor_field(process) {
        validate_profile(profile)?;
        if !apparmor_enabled() {
            tracing::debug!(
                "AppArmor is not enabled on this host: process.apparmorProfile {profile:?} ignored"
            );
        }
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

fn validate_profile(profile: &str) -> Result<()> {
    if profile.contains(['\0', '\n']) {
        return Err(Error::Usage(format!(
            "process.apparmorProfile {profile:?}: contains a NUL or newline"
        )));
    }
    Ok(())
}

/// The AppArmor profile to apply: the process's, when AppArmor is enabled on this host. Read
/// while the host's /sys is still in view (before pivot_root, or in the runtime for exec).
pub fn apparmor_profile(process: Option<&Process>) -> Option<String> {
    apparmor_field(process)
        .filter(|_| apparmor_enabled())
        .map(str::to_owned)
}

/// What is written to the attr file to change profile on the next execve.
fn apparmor_exec_command(profile: &str) -> String {
    format!("exec {profile}")
}

/// Makes the calling thread's next execve enter `profile`: writes `exec <profile>` to
/// `/proc/<pid>/task/<tid>/attr/apparmor/exec` (`attr/exec` on kernels before 5.8), resolved
/// beneath a /proc fd checked to be procfs, without following symlinks. Call after pivot_root,
/// before the credentials change (a non-dumpable process's attr files belong to root).
pub fn apply_apparmor(profile: &str) -> Result<()> {
    let fail = |what: &str| {
        let what = format!("process.apparmorProfile {profile:?}: {what}");
        move |e: rustix::io::Errno| Error::sys(what, nix::Error::from_raw(e.raw_os_error()))
    };
    validate_profile(profile)?;
    let proc = rustix::fs::open(
        "/proc",
        OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(fail("opening /proc"))?;
    let fs = rustix::fs::fstatfs(&proc).map_err(fail("statfs /proc"))?;
    if fs.f_type != libc::PROC_SUPER_MAGIC {
        return Err(Error::Usage(format!(
            "process.apparmorProfile {profile:?}: /proc is not procfs: refusing to set the profile"
        )));
    }
    let pid = rustix::process::getpid().as_raw_nonzero();
    let tid = rustix::thread::gettid().as_raw_nonzero();
    let task = format!("{pid}/task/{tid}/attr");
    let mut last = rustix::io::Errno::NOENT;
    for rel in [format!("{task}/apparmor/exec"), format!("{task}/exec")] {
        let fd = match rustix::fs::openat2(
            &proc,
            rel.as_str(),
            OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_XDEV,
        ) {
            Ok(fd) => fd,
            Err(e) if e == rustix::io::Errno::NOENT => {
                last = e;
                continue;
            }
            Err(e) => return Err(fail(&format!("opening /proc/{rel}"))(e)),
        };
        return match rustix::io::write(&fd, apparmor_exec_command(profile).as_bytes()) {
            Ok(_) => Ok(()),
            Err(e) if e == rustix::io::Errno::NOENT => Err(Error::Usage(format!(
                "process.apparmorProfile {profile:?}: no such AppArmor profile is loaded"
            ))),
            Err(e) => Err(fail(&format!("writing /proc/{rel}"))(e)),
        };
    }
    Err(fail(
        "no AppArmor attr file under /proc/<pid>/task/<tid>/attr",
    )(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_command() {
        assert_eq!(apparmor_exec_command("arca-test"), "exec arca-test");
    }

    #[test]
    fn profile_with_newline_refused() {
        let e = validate_profile("a\nchangeprofile b")
            .unwrap_err()
            .to_string();
        assert!(e.contains("process.apparmorProfile"), "{e}");
        assert!(validate_profile("docker-default").is_ok());
    }
}
