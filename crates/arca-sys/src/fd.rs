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
