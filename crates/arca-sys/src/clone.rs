//! `clone3(2)` used as a fork that carries namespace flags and, on cgroup v2, a target cgroup.
//!
//! crun's process model: the container's init is a clone of the runtime that goes straight into
//! container set-up, with no re-exec of the runtime binary.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::unistd::Pid;

/// What the caller of [`clone_process`] is after the call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneResult {
    /// We are the parent; the child has this pid in our pid namespace.
    Parent(Pid),
    /// We are the child.
    Child,
}

/// Mirrors `struct clone_args` of `linux/sched.h` (version 2, with `cgroup`).
#[repr(C)]
#[derive(Debug, Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// `CLONE_INTO_CGROUP` from `linux/sched.h` (not yet in every libc release).
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Forks the calling process with `flags` (the `CLONE_NEW*` namespace flags), like `fork(2)`:
/// the child continues on a copy of the parent's stack. With `cgroup`, the child is born in
/// that cgroup v2 directory (`CLONE_INTO_CGROUP`).
///
/// The caller must be single-threaded: the child inherits only the calling thread, and any lock
/// another thread held would stay locked forever in the child. The runtime never starts threads.
pub fn clone_process(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> nix::Result<CloneResult> {
    let mut args = CloneArgs {
        flags,
        exit_signal: u64::from(libc::SIGCHLD.cast_unsigned()),
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = u64::from(fd.as_raw_fd().cast_unsigned());
    }
    clone3(&mut args)
}

/// The raw `clone3(2)` call shared by the wrappers: fork-like (no stack given).
fn clone3(args: &mut CloneArgs) -> nix::Result<CloneResult> {
    // SAFETY: `args` is a valid, initialised clone_args of the size passed (any pointer in it
    // points to memory that outlives the call); with no stack given the kernel duplicates the
    // caller's stack like fork(2), and the single-threaded caller (documented on the public
    // wrappers) leaves the child in a consistent state.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(nix::Error::last()),
        0 => Ok(CloneResult::Child),
        pid => Ok(CloneResult::Parent(Pid::from_raw(
            i32::try_from(pid).map_err(|_| nix::Error::EOVERFLOW)?,
        ))),
    }
}

/// `CLONE_PIDFD` from `linux/sched.h`.
const CLONE_PIDFD: u64 = 0x1000;

/// Like [`clone_process`] without a cgroup, also returning to the parent a pidfd of the child
/// (`CLONE_PIDFD`): a handle that names the child whatever pid namespace `/proc` shows.
///
/// The same single-threaded requirement applies.
pub fn clone_with_pidfd(flags: u64) -> nix::Result<(CloneResult, Option<OwnedFd>)> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: flags | CLONE_PIDFD,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: u64::from(libc::SIGCHLD.cast_unsigned()),
        ..CloneArgs::default()
    };
    match clone3(&mut args)? {
        CloneResult::Child => Ok((CloneResult::Child, None)),
        parent => {
            // SAFETY: on success the kernel stored a new pidfd in the parent that nothing else
            // owns.
            let fd = unsafe { OwnedFd::from_raw_fd(pidfd) };
            Ok((parent, Some(fd)))
        }
    }
}
