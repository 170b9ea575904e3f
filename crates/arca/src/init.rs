//! `--init`: arca as a container's PID 1, what Docker's users get from tini (`docker-init`) and
//! Podman's from catatonit. The engine bind-mounts this binary read-only at `/run/arca-init`
//! and runs `/run/arca-init -- CMD ARGS…`; `main` recognises the name before anything else
//! (no argument parsing, no logging set-up: this is every such container's start-up path).
//!
//! The init blocks every signal but the synchronous ones, forks the command into its own
//! process group (made the terminal's foreground group, so ^C reaches the command once, from
//! the kernel, as tini does), then waits: each signal it receives goes to the command, each
//! SIGCHLD reaps every exited child (orphans are reparented to PID 1, and without a reaper
//! they stay zombies). When the command exits the init exits with its status (128+N when a
//! signal N killed it); the kernel then kills what is left in the pid namespace.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

/// The file name the init is run as (`arca_engine::spec::INIT_PATH`'s).
const NAME: &str = "arca-init";

/// Signals caused by the init's own faults: left unblocked, never forwarded.
const SYNCHRONOUS: [Signal; 7] = [
    Signal::SIGFPE,
    Signal::SIGILL,
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGABRT,
    Signal::SIGTRAP,
    Signal::SIGSYS,
];

/// Whether this process was started as the init (`argv[0]`'s file name is `arca-init`).
pub fn invoked_as_init() -> bool {
    std::env::args_os()
        .next()
        .is_some_and(|a| Path::new(&a).file_name() == Some(OsStr::new(NAME)))
}

/// The init's whole life: exits with the command's status.
pub fn main() -> ! {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let cmd = match args.first() {
        Some(a) if a == "--" => &args[1..],
        _ => &args[..],
    };
    let code = run(cmd).unwrap_or_else(|e| {
        eprintln!("{NAME}: {e}");
        1
    });
    std::process::exit(code)
}

fn run(cmd: &[OsString]) -> Result<i32, String> {
    if cmd.is_empty() {
        return Err(format!("usage: {NAME} -- COMMAND [ARG...]"));
    }
    let argv = cmd
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "an argument holds a NUL byte".to_owned())?;
    let mut blocked = SigSet::all();
    for s in SYNCHRONOUS {
        blocked.remove(s);
    }
    let mut original = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&blocked), Some(&mut original))
        .map_err(|e| format!("blocking signals: {e}"))?;
    if nix::unistd::getpid().as_raw() != 1 {
        // Not the namespace's init (a shared pid namespace): orphans must still come to us.
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    let child = match arca_sys::process::fork_single_threaded()
        .map_err(|e| format!("forking the command: {e}"))?
    {
        ForkResult::Child => exec_command(&argv, &original),
        ForkResult::Parent { child } => child,
    };
    loop {
        // A real-time signal has no `Signal`: nix reports it as an error, and it is dropped.
        let Ok(sig) = blocked.wait() else { continue };
        if sig == Signal::SIGCHLD {
            if let Some(code) = reap(child) {
                return Ok(code);
            }
        } else {
            // The command may have exited already (not yet reaped): nothing to do then.
            let _ = kill(child, sig);
        }
    }
}

/// The child: its own process group (the terminal's foreground one), the original signal
/// mask, then the command, looked up in `PATH` as a shell would.
fn exec_command(argv: &[CString], mask: &SigSet) -> ! {
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    let stdin = std::io::stdin();
    if nix::unistd::isatty(&stdin).unwrap_or(false) {
        // SIGTTOU, which a background group's tcsetpgrp raises, is still blocked here.
        let _ = nix::unistd::tcsetpgrp(&stdin, nix::unistd::getpgrp());
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(mask), None);
    let err = nix::unistd::execvp(&argv[0], argv).unwrap_err();
    eprintln!("{NAME}: {}: {err}", argv[0].to_string_lossy());
    // Docker's codes: 127 not found, 126 found but not runnable. Nothing is buffered that
    // exit could flush twice: the init prints nothing before forking.
    std::process::exit(if err == Errno::ENOENT { 127 } else { 126 })
}

/// Reaps every child that has exited; the command's status once it is among them.
fn reap(command: Pid) -> Option<i32> {
    let mut code = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, c)) if pid == command => code = Some(c),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == command => {
                code = Some(128 + sig as i32);
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return code,
            Ok(_) => {}
        }
    }
}
