//! AppArmor and SELinux, applied as runc does. Both work the same way: the init (and each exec'd
//! process) writes to its own procfs attr file just before it reports ready, so that its execve
//! enters the profile or label. Not earlier: the runtime's own work (mounts, hooks) must not run
//! confined; not later: once the credentials change, a non-dumpable process's attr files are no
//! longer writable, and an error must still reach the parent. The attr file is resolved beneath a
//! /proc fd checked to be procfs, without symlinks: the container's /proc could be anything.
//!
//! SELinux's `linux.mountLabel` becomes the `context=` option of the filesystems the init creates
//! (see `init::mount_options::with_mount_label`), so the container sees its files with its label.
//!
//! Where the host's LSM is off, its fields are ignored with a debug line (runc's behaviour): a
//! spec written for a SELinux host still runs elsewhere, and a label must never reach a kernel
//! that would reject it as an unknown mount option.

use std::path::Path;

use oci_spec::runtime::Process;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::error::{Error, Result};

const APPARMOR_FIELD: &str = "process.apparmorProfile";
const SELINUX_FIELD: &str = "process.selinuxLabel";
const MOUNT_LABEL_FIELD: &str = "linux.mountLabel";

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

fn selinux_field(process: Option<&Process>) -> Option<&str> {
    process
        .and_then(|p| p.selinux_label().as_deref())
        .filter(|s| !s.is_empty())
}

/// Checks a process's LSM fields (and the mount label) against the host.
pub fn check(process: Option<&Process>, mount_label: Option<&str>) -> Result<()> {
    if let Some(profile) = apparmor_field(process) {
        validate(APPARMOR_FIELD, profile)?;
        if !apparmor_enabled() {
            tracing::debug!(
                "AppArmor is not enabled on this host: {APPARMOR_FIELD} {profile:?} ignored"
            );
        }
    }
    for (field, value) in [
        (SELINUX_FIELD, selinux_field(process)),
        (MOUNT_LABEL_FIELD, mount_label.filter(|s| !s.is_empty())),
    ] {
        if let Some(value) = value {
            validate(field, value)?;
            if !selinux_enabled() {
                tracing::debug!("SELinux is not enabled on this host: {field} {value:?} ignored");
            }
        }
    }
    Ok(())
}

/// A profile or label is written to a procfs attr file (and a label to a mount option): a NUL
/// would cut it short, a newline could append a second command.
fn validate(field: &str, value: &str) -> Result<()> {
    if value.contains(['\0', '\n']) {
        return Err(Error::Usage(format!(
            "{field} {value:?}: contains a NUL or newline"
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

/// The SELinux label to apply: the process's, when SELinux is enabled on this host. Read while
/// the host's /sys is still in view.
pub fn selinux_label(process: Option<&Process>) -> Option<String> {
    selinux_field(process)
        .filter(|_| selinux_enabled())
        .map(str::to_owned)
}

/// The label for the filesystems the init creates: `linux.mountLabel`, when SELinux is enabled
/// on this host.
pub fn mount_label(mount_label: Option<&str>) -> Option<String> {
    mount_label
        .filter(|s| !s.is_empty())
        .filter(|_| selinux_enabled())
        .map(str::to_owned)
}

/// What is written to the attr file to change profile on the next execve.
fn apparmor_exec_command(profile: &str) -> String {
    format!("exec {profile}")
}

/// Makes the calling thread's next execve enter AppArmor `profile`: writes `exec <profile>` to
/// its `attr/apparmor/exec` (`attr/exec` on kernels before 5.8). See [`write_exec_attr`].
pub fn apply_apparmor(profile: &str) -> Result<()> {
    validate(APPARMOR_FIELD, profile)?;
    write_exec_attr(
        APPARMOR_FIELD,
        profile,
        &["apparmor/exec", "exec"],
        &apparmor_exec_command(profile),
        |e| {
            (e == Errno::NOENT).then(|| {
                Error::Usage(format!(
                    "{APPARMOR_FIELD} {profile:?}: no such AppArmor profile is loaded"
                ))
            })
        },
    )
}

/// Makes the calling thread's next execve enter SELinux `label` (libselinux's setexeccon, which
/// runc calls right before exec): writes it to its `attr/exec`. See [`write_exec_attr`].
pub fn apply_selinux(label: &str) -> Result<()> {
    validate(SELINUX_FIELD, label)?;
    write_exec_attr(SELINUX_FIELD, label, &["exec"], label, |e| {
        (e == Errno::INVAL).then(|| {
            Error::Usage(format!(
                "{SELINUX_FIELD} {label:?}: not a valid SELinux context in the loaded policy \
                 (EINVAL)"
            ))
        })
    })
}

/// Writes `data` to the first of `files` (relative to `/proc/<pid>/task/<tid>/attr`) that
/// exists, resolved beneath a /proc fd checked to be procfs, without following symlinks or
/// crossing mounts. Call after pivot_root, before the credentials change (a non-dumpable
/// process's attr files belong to root). `explain` turns a write error into a clearer one.
fn write_exec_attr(
    field: &str,
    value: &str,
    files: &[&str],
    data: &str,
    explain: impl Fn(Errno) -> Option<Error>,
) -> Result<()> {
    let fail = |what: &str| {
        let what = format!("{field} {value:?}: {what}");
        move |e: Errno| Error::sys(what, nix::Error::from_raw(e.raw_os_error()))
    };
    let proc = rustix::fs::open(
        "/proc",
        OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(fail("opening /proc"))?;
    let fs = rustix::fs::fstatfs(&proc).map_err(fail("statfs /proc"))?;
    if fs.f_type != libc::PROC_SUPER_MAGIC {
        return Err(Error::Usage(format!(
            "{field} {value:?}: /proc is not procfs: refusing to set it"
        )));
    }
    let pid = rustix::process::getpid().as_raw_nonzero();
    let tid = rustix::thread::gettid().as_raw_nonzero();
    let mut last = Errno::NOENT;
    for file in files {
        let rel = format!("{pid}/task/{tid}/attr/{file}");
        let fd = match rustix::fs::openat2(
            &proc,
            rel.as_str(),
            OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_XDEV,
        ) {
            Ok(fd) => fd,
            Err(e) if e == Errno::NOENT => {
                last = e;
                continue;
            }
            Err(e) => return Err(fail(&format!("opening /proc/{rel}"))(e)),
        };
        return match rustix::io::write(&fd, data.as_bytes()) {
            Ok(_) => Ok(()),
            Err(e) => Err(explain(e).unwrap_or_else(|| fail(&format!("writing /proc/{rel}"))(e))),
        };
    }
    Err(fail(&format!(
        "no attr file {files:?} under /proc/<pid>/task/<tid>/attr"
    ))(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_command() {
        assert_eq!(apparmor_exec_command("arca-test"), "exec arca-test");
    }

    #[test]
    fn newline_refused() {
        let e = validate(APPARMOR_FIELD, "a\nchangeprofile b")
            .unwrap_err()
            .to_string();
        assert!(e.contains("process.apparmorProfile"), "{e}");
        assert!(validate(APPARMOR_FIELD, "docker-default").is_ok());
        let e = validate(SELINUX_FIELD, "system_u:system_r:svirt_t:s0\0x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("process.selinuxLabel"), "{e}");
        assert!(validate(SELINUX_FIELD, "system_u:system_r:svirt_t:s0:c1,c2").is_ok());
    }

    #[test]
    fn check_refuses_newline_in_labels() {
        let p: Process = serde_json::from_str(
            r#"{"cwd": "/", "user": {"uid": 0, "gid": 0}, "selinuxLabel": "a\nb"}"#,
        )
        .unwrap();
        let e = check(Some(&p), None).unwrap_err().to_string();
        assert!(e.contains("process.selinuxLabel"), "{e}");
        let e = check(None, Some("x\ny")).unwrap_err().to_string();
        assert!(e.contains("linux.mountLabel"), "{e}");
        assert!(check(None, None).is_ok());
    }
}
