//! seccomp(2) without libseccomp: installing an already compiled BPF program (so that a program
//! read from the cache costs one syscall) and probing what the kernel supports.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::Error as Errno;

/// `SECCOMP_SET_MODE_FILTER` of `linux/seccomp.h`.
pub const SET_MODE_FILTER: libc::c_uint = 1;
/// `SECCOMP_GET_ACTION_AVAIL` of `linux/seccomp.h`.
pub const GET_ACTION_AVAIL: libc::c_uint = 2;

/// `SECCOMP_FILTER_FLAG_TSYNC`: synchronise every thread of the process to the new filter.
pub const FLAG_TSYNC: u32 = 1 << 0;
/// `SECCOMP_FILTER_FLAG_LOG`: log every action but `SECCOMP_RET_ALLOW` (Linux 4.14).
pub const FLAG_LOG: u32 = 1 << 1;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: keep speculative store bypass enabled (Linux 4.17).
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: return a user-notification fd (Linux 5.0).
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
/// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH`: report a TSYNC failure as ESRCH, which lets TSYNC and
/// NEW_LISTENER be combined (Linux 5.7).
pub const FLAG_TSYNC_ESRCH: u32 = 1 << 4;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`: a notifying task waits killably once the agent
/// has received its notification (Linux 5.19); requires NEW_LISTENER.
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// Largest classic BPF program the kernel accepts (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// One classic BPF instruction (`struct sock_filter`).
pub type SockFilter = libc::sock_filter;

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`: installs `program` on the calling thread
/// (and its future children and execs). With [`FLAG_NEW_LISTENER`] in `flags` the kernel
/// returns the notification fd (close-on-exec), which is handed back.
///
/// Without no_new_privs the caller needs CAP_SYS_ADMIN in its user namespace (else EACCES).
pub fn set_mode_filter(program: &[SockFilter], flags: u32) -> nix::Result<Option<OwnedFd>> {
    let len = u16::try_from(program.len()).map_err(|_| Errno::EINVAL)?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` describes `program`, which is valid for `len` instructions for the whole
    // call; the kernel copies the program and never writes through the pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        return Err(Errno::last());
    }
    if flags & FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    let fd = RawFd::try_from(ret).map_err(|_| Errno::EBADF)?;
    // SAFETY: with NEW_LISTENER the syscall returned a new descriptor that nothing else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Whether the kernel knows the filter flags `flags`, probed as runc does: a filter with a null
/// program fails with EFAULT once the flags are accepted, EINVAL when they are not. Nothing is
/// installed either way. ([`FLAG_WAIT_KILLABLE_RECV`] must be probed with
/// [`FLAG_NEW_LISTENER`].)
pub fn flags_supported(flags: u32) -> bool {
    // SAFETY: a null program pointer is never dereferenced by us; the kernel validates the
    // flags, then fails to copy the program with EFAULT. No filter is installed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SET_MODE_FILTER,
            flags,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    ret == -1 && Errno::last() == Errno::EFAULT
}

/// `seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action)`: whether the kernel knows the filter return
/// action `action` (`SECCOMP_RET_*`, without data).
pub fn action_available(action: u32) -> bool {
    // SAFETY: the kernel reads one u32 from `&action`, which lives across the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    };
    ret == 0
}
