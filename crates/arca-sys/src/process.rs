//! Process attributes without a safe wrapper in nix: I/O priority, scheduling policy, fd ranges.

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, prio)`: the I/O priority of the calling process.
pub fn ioprio_set_self(class: i32, level: i32) -> nix::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    const IOPRIO_CLASS_SHIFT: i32 = 13;
    let prio = (class << IOPRIO_CLASS_SHIFT) | level;
    // SAFETY: ioprio_set takes three integers and touches no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) };
    if ret == -1 {
        Err(nix::Error::last())
    } else {
        Ok(())
    }
}

/// Mirrors `struct sched_attr` of `linux/sched/types.h`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
    pub sched_util_min: u32,
    pub sched_util_max: u32,
}

/// `sched_setattr(0, attr, 0)`: the scheduling policy of the calling thread.
pub fn sched_setattr_self(attr: &SchedAttr) -> nix::Result<()> {
    let mut attr = *attr;
    attr.size = u32::try_from(std::mem::size_of::<SchedAttr>()).unwrap_or(u32::MAX);
    // SAFETY: `attr` is a valid sched_attr whose `size` field matches its layout; the kernel
    // only reads it.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if ret == -1 {
        Err(nix::Error::last())
    } else {
        Ok(())
    }
}

/// Marks every fd from `first` upwards close-on-exec (`close_range(CLOSE_RANGE_CLOEXEC)`), so no
/// runtime fd survives into the container's process (CVE-2024-21626).
pub fn cloexec_from(first: u32) -> nix::Result<()> {
    // SAFETY: close_range takes integers only; with CLOSE_RANGE_CLOEXEC it closes nothing, it
    // only sets a flag on descriptors, so no owned fd of ours is invalidated.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if ret == -1 {
        Err(nix::Error::last())
    } else {
        Ok(())
    }
}

/// Closes every fd from `first` upwards (`close_range`): for a long-lived process started by
/// us (the rootless pause process), so it does not hold whatever its invoker leaked to it
/// (a pipe's write end would keep the reader waiting for ever). Call it at the start of
/// `main`, before anything of ours is opened.
pub fn close_inherited_from(first: u32) -> nix::Result<()> {
    // SAFETY: close_range takes integers only. The caller runs it before opening anything, so
    // every fd from `first` on was inherited and has no owner (OwnedFd, File) in this process
    // that could later use or close a reused number.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
    if ret == -1 {
        Err(nix::Error::last())
    } else {
        Ok(())
    }
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)`: a fresh session keyring for the container, so
/// it cannot read the keys of the runtime's session.
pub fn join_session_keyring(name: &std::ffi::CStr) -> nix::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    // SAFETY: `name` is a NUL-terminated string that outlives the call; the kernel only reads it.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if ret == -1 {
        Err(nix::Error::last())
    } else {
        Ok(())
    }
}

/// `fork(2)`, for `arca`'s `--init` reaper, which runs inside containers whose seccomp profile
/// answers `clone3` with ENOSYS (so [`crate::clone::clone_process`] is not an option there):
/// glibc's fork uses `clone`.
///
/// The caller must be single-threaded: the child inherits only the calling thread, and any lock
/// another thread held would stay locked forever in the child.
pub fn fork_single_threaded() -> nix::Result<nix::unistd::ForkResult> {
    // SAFETY: the documented requirement: the caller (the init, which never starts a thread)
    // is single-threaded, so the child is a consistent copy and may run any code before it
    // execs or exits.
    unsafe { nix::unistd::fork() }
}
