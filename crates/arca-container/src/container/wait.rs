//! Foreground `run` and `exec`: forward every signal we get to the container's process and
//! return its exit code the way a shell reports it (128 + signal when killed).

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Error, Result};

/// Blocks forwardable signals; call before the process can exit so no SIGCHLD is missed.
pub fn block_signals() -> Result<SigSet> {
    let mut set = SigSet::all();
    for s in [
        Signal::SIGKILL,
        Signal::SIGSTOP,
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGILL,
        Signal::SIGFPE,
    ] {
        set.remove(s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(|e| Error::sys("sigprocmask", e))?;
    Ok(set)
}

/// Waits for `pid` (our child), forwarding signals to it; returns its exit code.
pub fn wait_forwarding_signals(pid: Pid, set: &SigSet) -> Result<i32> {
    loop {
        if let Some(code) = reap(pid)? {
            return Ok(code);
        }
        let sig = set.wait().map_err(|e| Error::sys("sigwait", e))?;
        match sig {
            Signal::SIGCHLD => {}
            // The controlling terminal's job-control stops must not stop the runtime itself.
            other => {
                let _ = nix::sys::signal::kill(pid, other);
            }
        }
    }
}

/// Reaps every exited child; the exit code of `pid` once it is among them.
pub(crate) fn reap(pid: Pid) -> Result<Option<i32>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p == pid => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == pid => return Ok(Some(128 + sig as i32)),
            Ok(WaitStatus::StillAlive) | Err(nix::Error::ECHILD) => return Ok(None),
            Ok(_) => continue,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Error::sys("waitpid", e)),
        }
    }
}
