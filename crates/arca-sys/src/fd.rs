//! File descriptor plumbing around exec.

use std::os::fd::{AsRawFd, BorrowedFd};

/// Makes `fd` the process's stdin, stdout and stderr (a console's slave side).
pub fn dup_to_stdio(fd: BorrowedFd<'_>) -> nix::Result<()> {
    for target in 0..3 {
        // SAFETY: dup2 onto 0, 1 and 2 replaces the standard streams, which no Rust owner
        // tracks as an OwnedFd; `fd` stays open and owned by the caller.
        if unsafe { libc::dup2(fd.as_raw_fd(), target) } < 0 {
            return Err(nix::Error::last());
        }
    }
    Ok(())
}

/// Takes ownership of an fd that arrived in an SCM_RIGHTS message.
pub fn own_received(fd: std::os::fd::RawFd) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: the kernel installed this fd in our table for the message just received; nothing
    // else in the process knows its number, so this is its only owner.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}
