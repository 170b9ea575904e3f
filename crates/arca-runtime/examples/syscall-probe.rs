//! `syscall-probe <name> [pid]`: makes one syscall with harmless arguments and prints `ok` (exit
//! 0) or `errno=<n> <NAME>` (exit 1). Runs inside test containers (static, like every binary of
//! the workspace) to check what a seccomp profile lets through.
//!
//! Probes: `getpid`, `write` (controls), `unshare` (CLONE_NEWNS), `unshare-user`
//! (CLONE_NEWUSER), `mount` (a tmpfs on /tmp), `keyctl` (KEYCTL_JOIN_SESSION_KEYRING),
//! `add_key` (a "user" key in the process keyring), `ptrace <pid>` (PTRACE_ATTACH, then
//! detach), `kexec_load`; and `sleep-as <uid>`, a ptrace target running as another user.

// keyctl, add_key, ptrace and kexec_load have no safe wrapper in nix (without its `ptrace`
// feature) or rustix: they go through `libc::syscall`, one call per unsafe block.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io::Write;
use std::process::ExitCode;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

/// `KEYCTL_JOIN_SESSION_KEYRING` (linux/keyctl.h).
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
/// `KEY_SPEC_PROCESS_KEYRING` (linux/keyctl.h).
const KEY_SPEC_PROCESS_KEYRING: libc::c_long = -2;
/// A kexec_load flag bit the kernel does not know: even a caller with CAP_SYS_BOOT only gets
/// EINVAL (with flags 0 and no segments it would unload the host's loaded kexec image).
const KEXEC_UNKNOWN_FLAG: libc::c_long = 0x8000;

fn result(r: libc::c_long) -> Result<(), Errno> {
    if r == -1 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

fn probe(name: &str, arg: Option<&str>) -> Result<(), String> {
    let errno = |e: Errno| format!("errno={} {e:?}", e as i32);
    match name {
        "getpid" => {
            let _ = nix::unistd::getpid();
            Ok(())
        }
        "write" => std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .and_then(|mut f| f.write_all(b"probe"))
            .map_err(|e| errno(Errno::from_raw(e.raw_os_error().unwrap_or(0)))),
        "unshare" => unshare(CloneFlags::CLONE_NEWNS).map_err(errno),
        "unshare-user" => unshare(CloneFlags::CLONE_NEWUSER).map_err(errno),
        "mount" => mount(
            Some("tmpfs"),
            "/tmp",
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("size=64k"),
        )
        .map_err(errno),
        "keyctl" => {
            // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL) joins a new anonymous session
            // keyring; no pointer is passed.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_keyctl,
                    KEYCTL_JOIN_SESSION_KEYRING,
                    std::ptr::null::<libc::c_char>(),
                )
            };
            result(r).map_err(errno)
        }
        "add_key" => {
            let ty: &CStr = c"user";
            let desc: &CStr = c"arca-probe";
            let payload = b"x";
            // SAFETY: the strings are NUL-terminated and the payload pointer is valid for its
            // length; all outlive the call.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_add_key,
                    ty.as_ptr(),
                    desc.as_ptr(),
                    payload.as_ptr(),
                    payload.len(),
                    KEY_SPEC_PROCESS_KEYRING,
                )
            };
            result(r).map_err(errno)
        }
        "ptrace" => {
            let pid: libc::pid_t = arg
                .and_then(|a| a.parse().ok())
                .ok_or("usage: syscall-probe ptrace <pid>")?;
            // SAFETY: PTRACE_ATTACH takes no pointer (addr and data are ignored).
            let r = unsafe {
                libc::syscall(
                    libc::SYS_ptrace,
                    libc::PTRACE_ATTACH,
                    libc::c_long::from(pid),
                    0,
                    0,
                )
            };
            result(r).map_err(errno)?;
            // Attached: wait for the stop, then let it go again.
            let _ = nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(pid),
                Some(nix::sys::wait::WaitPidFlag::__WALL),
            );
            // SAFETY: PTRACE_DETACH with signal 0 takes no pointer.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_ptrace,
                    libc::PTRACE_DETACH,
                    libc::c_long::from(pid),
                    0,
                    0,
                )
            };
            result(r).map_err(errno)
        }
        "kexec_load" => {
            // SAFETY: no segments, a NULL segment array and an entry of 0; see
            // KEXEC_UNKNOWN_FLAG.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_kexec_load,
                    0,
                    0,
                    std::ptr::null::<libc::c_void>(),
                    KEXEC_UNKNOWN_FLAG,
                )
            };
            result(r).map_err(errno)
        }
        "sleep-as" => {
            // Not a probe: a target for `ptrace` that runs as another user.
            let uid: u32 = arg
                .and_then(|a| a.parse().ok())
                .ok_or("usage: syscall-probe sleep-as <uid>")?;
            let id = nix::unistd::Gid::from_raw(uid);
            nix::unistd::setgroups(&[]).map_err(errno)?;
            nix::unistd::setresgid(id, id, id).map_err(errno)?;
            let id = nix::unistd::Uid::from_raw(uid);
            nix::unistd::setresuid(id, id, id).map_err(errno)?;
            std::thread::sleep(std::time::Duration::from_secs(30));
            Ok(())
        }
        other => Err(format!("unknown probe {other:?}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        eprintln!(
            "usage: syscall-probe <getpid|write|unshare|unshare-user|mount|keyctl|add_key|\
             ptrace PID|kexec_load|sleep-as UID>"
        );
        return ExitCode::from(2);
    };
    match probe(name, args.get(1).map(String::as_str)) {
        Ok(()) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            println!("{msg}");
            ExitCode::FAILURE
        }
    }
}
