//! Foreground `run` of a container with a terminal and no `--console-socket`: the runtime holds
//! the pty master itself and copies between it and its own stdio (raw mode when stdin is a
//! terminal, window size followed), forwarding signals, until the container exits.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::unistd::Pid;

use super::wait::reap;
use crate::error::{Error, Result};

/// Puts the terminal back as it was, whatever way we leave.
struct RawMode(Option<Termios>);

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, t);
        }
    }
}

fn copy_window_size(from: BorrowedFd<'_>, to: BorrowedFd<'_>) {
    if let Some((rows, cols)) = arca_sys::tty::window_size(from) {
        let _ = arca_sys::tty::set_window_size(to, rows, cols);
    }
}

fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(nix::Error::EINTR) => {}
            Err(_) => return,
        }
    }
}

pub fn proxy_until_exit(pid: Pid, master: OwnedFd, set: &SigSet) -> Result<i32> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let _raw = match tcgetattr(&stdin) {
        Ok(saved) => {
            let mut raw = saved.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
            copy_window_size(stdin.as_fd(), master.as_fd());
            RawMode(Some(saved))
        }
        Err(_) => RawMode(None),
    };
    let sfd = SignalFd::with_flags(set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| Error::sys("signalfd", e))?;
    let mut stdin_open = true;
    let mut master_open = true;
    let mut buf = [0u8; 8192];
    loop {
        if let Some(code) = reap(pid)? {
            // Whatever the container printed last is still in the pty: drain it.
            while master_open {
                match nix::unistd::read(&master, &mut buf) {
                    Ok(n) if n > 0 => write_all(stdout.as_fd(), &buf[..n]),
                    _ => master_open = false,
                }
            }
            return Ok(code);
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if master_open {
            fds.push(PollFd::new(master.as_fd(), PollFlags::POLLIN));
        }
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(Error::sys("poll", e)),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            while let Ok(Some(info)) = sfd.read_signal() {
                match Signal::try_from(info.ssi_signo.cast_signed()) {
                    Ok(Signal::SIGCHLD) | Err(_) => {}
                    Ok(Signal::SIGWINCH) => copy_window_size(stdin.as_fd(), master.as_fd()),
                    Ok(sig) => {
                        let _ = nix::sys::signal::kill(pid, sig);
                    }
                }
            }
        }
        let mut i = 1;
        if master_open {
            if ready[i] {
                match nix::unistd::read(&master, &mut buf) {
                    Ok(n) if n > 0 => write_all(stdout.as_fd(), &buf[..n]),
                    // EIO: every slave fd is closed; the container is exiting.
                    _ => master_open = false,
                }
            }
            i += 1;
        }
        if stdin_open && ready[i] {
            match nix::unistd::read(&stdin, &mut buf) {
                Ok(n) if n > 0 => write_all(master.as_fd(), &buf[..n]),
                _ => stdin_open = false,
            }
        }
    }
}
