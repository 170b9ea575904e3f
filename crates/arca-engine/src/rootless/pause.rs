//! The pause process: `arca __pause`, which makes the user's user and mount namespaces and
//! then only waits, so they outlive every arca invocation. Its pid is kept in
//! `<run dir>/pause.pid`; `<run dir>/pause.lock` (flock) makes concurrent first invocations
//! agree on one. It is started detached (its own session, stdio on /dev/null) and ends on
//! SIGTERM or SIGKILL (`arca system migrate`); the namespaces die with their last process.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::Pid;

use crate::error::EngineError;

/// The hidden verb the pause process runs as.
pub const VERB: &str = "__pause";

/// Whether this process was started as the pause process (checked first thing in `main`).
pub fn invoked() -> bool {
    std::env::args().nth(1).as_deref() == Some(VERB)
}

/// The pause process: new user and mount namespaces (mapped by the parent, which waits for
/// "ok"), then detached and waiting forever.
pub fn main() -> ! {
    // Nothing its invoker leaked (fds 3 and up) is held for the pause process's lifetime.
    let _ = arca_sys::process::close_inherited_from(3);
    let mut out = std::io::stdout();
    if let Err(e) = unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS) {
        let _ = writeln!(out, "unshare(CLONE_NEWUSER|CLONE_NEWNS): {e}");
        std::process::exit(1);
    }
    let _ = writeln!(out, "ok");
    let _ = out.flush();
    let _ = nix::unistd::setsid();
    let _ = std::env::set_current_dir("/");
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
    loop {
        nix::unistd::pause();
    }
}

fn pid_file(dir: &Path) -> PathBuf {
    dir.join("pause.pid")
}

/// The recorded pause process, if it is still ours and still the pause process (a recycled
/// pid is not).
pub fn running(dir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file(dir))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let owner = std::fs::metadata(&proc).ok()?.uid();
    let cmdline = std::fs::read(proc.join("cmdline")).ok()?;
    let is_pause = cmdline.split(|&b| b == 0).nth(1) == Some(VERB.as_bytes());
    (is_pause && owner == nix::unistd::getuid().as_raw()).then_some(pid)
}

/// Joins the user's namespaces, starting the pause process first where none runs.
pub(super) fn join_or_create(dir: &Path) -> Result<(), EngineError> {
    make_private_dir(dir)?;
    let lock_path = dir.join("pause.lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| EngineError::io("open", &lock_path, e))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| EngineError::io("lock", &lock_path, e.into()))?;
    if let Some(pid) = running(dir) {
        // It may have ended since: then start another.
        if join(pid).is_ok() {
            return Ok(());
        }
    }
    let pid = spawn()?;
    let file = pid_file(dir);
    let tmp = dir.join(".pause.pid.tmp");
    std::fs::write(&tmp, format!("{pid}\n"))
        .and_then(|()| std::fs::rename(&tmp, &file))
        .map_err(|e| EngineError::io("write", &file, e))?;
    join(pid)
}

/// The run directory, 0700 and the user's own (a directory under /tmp someone else made
/// first is refused).
fn make_private_dir(dir: &Path) -> Result<(), EngineError> {
    match std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) => return Err(EngineError::io("create", dir, e)),
    }
    let meta = std::fs::metadata(dir).map_err(|e| EngineError::io("stat", dir, e))?;
    if meta.uid() != nix::unistd::getuid().as_raw() || meta.permissions().mode() & 0o022 != 0 {
        return Err(EngineError::Spec(format!(
            "{}: not a private directory of this user (owner {}, mode {:o}): refusing to keep \
             the rootless namespaces' state there",
            dir.display(),
            meta.uid(),
            meta.permissions().mode() & 0o7777
        )));
    }
    Ok(())
}

/// Starts the pause process and maps its namespace's ids; its pid.
fn spawn() -> Result<i32, EngineError> {
    let exe = Path::new("/proc/self/exe");
    let mut child = Command::new(exe)
        .arg0("arca")
        .arg(VERB)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| EngineError::io("start the pause process", exe, e))?;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let fail = |child: &mut std::process::Child, msg: String| {
        let _ = child.kill();
        let _ = child.wait();
        EngineError::Spec(format!("rootless: {msg}"))
    };
    if line.trim() != "ok" {
        return Err(fail(
            &mut child,
            format!(
                "the pause process could not make a user namespace ({}); are unprivileged \
                 user namespaces allowed (sysctl kernel.unprivileged_userns_clone, \
                 user.max_user_namespaces)?",
                line.trim()
            ),
        ));
    }
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name);
    let group = nix::unistd::Group::from_gid(gid)
        .ok()
        .flatten()
        .map(|g| g.name);
    let mapped =
        super::subids::maps("/etc/subuid", uid.as_raw(), name.as_deref()).and_then(|uids| {
            let gids = super::subids::maps("/etc/subgid", gid.as_raw(), name.as_deref())
                .or_else(|_| super::subids::maps("/etc/subgid", gid.as_raw(), group.as_deref()))?;
            arca_container::rootless::write_id_maps(Pid::from_raw(pid), &uids, &gids)
                .map_err(EngineError::from)
        });
    if let Err(e) = mapped {
        return Err(fail(
            &mut child,
            format!("mapping the user namespace's ids: {e}"),
        ));
    }
    Ok(pid)
}

/// Enters the pause process's user namespace, then its mount namespace (the user namespace
/// first: it grants the capabilities entering the mount namespace needs).
fn join(pid: i32) -> Result<(), EngineError> {
    let open = |ns: &str| {
        let p = PathBuf::from(format!("/proc/{pid}/ns/{ns}"));
        File::open(&p).map_err(|e| EngineError::io("open", &p, e))
    };
    let (user, mnt) = (open("user")?, open("mnt")?);
    let err = |what: &str| {
        let what = what.to_owned();
        move |e: nix::Error| {
            EngineError::Spec(format!(
                "rootless: joining the pause process's {what} namespace (pid {pid}): {e}"
            ))
        }
    };
    setns(&user, CloneFlags::CLONE_NEWUSER).map_err(err("user"))?;
    setns(&mnt, CloneFlags::CLONE_NEWNS).map_err(err("mount"))
}

/// Stops the pause process (`arca system migrate`): the next invocation makes new namespaces
/// (with the ids /etc/subuid allots by then). Its pid, if one ran.
pub fn stop(dir: &Path) -> Option<i32> {
    let pid = running(dir)?;
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    let _ = std::fs::remove_file(pid_file(dir));
    Some(pid)
}
