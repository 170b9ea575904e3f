//! Terminal ioctls: open a pty's peer from its master, and make a terminal the controlling one.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `ioctl(master, TIOCGPTPEER)`: opens the slave side of a pty from its master without a path,
/// so no path in the container's /dev/pts can be swapped under us.
pub fn open_pty_peer(master: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    const TIOCGPTPEER: libc::c_ulong = 0x5441;
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes an int argument and returns a new fd or -1.
    let fd = unsafe { libc::ioctl(master.as_raw_fd(), TIOCGPTPEER as _, flags) };
    if fd < 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `ioctl(fd, TIOCSCTTY, 0)`: makes `fd` the controlling terminal of this session leader.
pub fn set_controlling_terminal(fd: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument and touches no memory of ours.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY as _, 0) };
    if ret < 0 {
        Err(nix::Error::last())
    } else {
        Ok(())
    }
}

/// `ioctl(fd, TIOCSWINSZ)`: the console size the spec asks for.
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> nix::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `ws` is a valid winsize that the kernel only reads.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ as _, &ws as *const _) };
    if ret < 0 {
        Err(nix::Error::last())
    } else {
        Ok(())
    }
}

/// `ioctl(master, TIOCSPTLCK, 0)`: unlocks the slave side of a freshly opened pty master.
pub fn unlock_pty(master: BorrowedFd<'_>) -> nix::Result<()> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int through the pointer, which points at a live local.
    let ret = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCSPTLCK as _,
            &unlock as *const _,
        )
    };
    if ret < 0 {
        Err(nix::Error::last())
    } else {
        Ok(())
    }
}

/// `ioctl(fd, TIOCGWINSZ)`: (rows, cols) of a terminal, or None if `fd` is not one.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `ws` is a valid, writable winsize that outlives the call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ as _, &mut ws as *mut _) };
    (ret == 0).then_some((ws.ws_row, ws.ws_col))
}
