//! The pause process: `arca __pause`, which makes the user's user and mount namespaces and
//! then only waits, so they outlive every arca invocation. Its pid is kept in
//! `<run dir>/pause.pid`; `<run dir>/pause.lock` (flock) makes concurrent first invocations
//! agree on one. It is started detached (its own session, stdio on /dev/null) and ends on
//! SIGTERM or SIGKILL (`arca system migrate`); the namespaces die with their last process.
//! When it was killed while containers run, the next invocation joins the namespaces through
//! one of their monitors and starts a replacement there (`__pause --keep`), as Podman rejoins
//! through conmon.

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

/// Its flag for a replacement that keeps the namespaces it was started in.
const KEEP: &str = "--keep";

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
    // `--keep`: a replacement, started inside namespaces that already exist.
    let keep = std::env::args().nth(2).as_deref() == Some(KEEP);
    let made = match keep {
        true => Ok(()),
        false => unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS),
    };
    if let Err(e) = made {
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
    // (It may have ended since: then its namespaces cannot be opened, and another starts.)
    if let Some(ns) = running(dir).and_then(|pid| Namespaces::open(pid).ok()) {
        return ns.enter();
    }
    // The pause process was killed, but containers still run in its namespaces (their
    // monitors hold them): join those and start a replacement there, or these containers'
    // mounts would be out of every later invocation's sight.
    if let Some(ns) = monitor_holding_namespaces().and_then(|pid| Namespaces::open(pid).ok()) {
        ns.enter()?;
        return record(dir, spawn_keeper()?);
    }
    let pid = spawn()?;
    record(dir, pid)?;
    Namespaces::open(pid)?.enter()
}

/// Writes the pause process's pid file (beside, then renamed).
fn record(dir: &Path, pid: i32) -> Result<(), EngineError> {
    let file = pid_file(dir);
    arca_sys::fs::Replace::new()
        .write(&file, format!("{pid}\n").as_bytes())
        .map_err(|e| EngineError::io("write", &file, e))
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
    // Not following a symlink: one in /tmp is another user's to re-point after this check
    // (a directory of ours there only we can rename or remove: /tmp is sticky).
    let meta = std::fs::symlink_metadata(dir).map_err(|e| EngineError::io("stat", dir, e))?;
    if !meta.is_dir()
        || meta.uid() != nix::unistd::getuid().as_raw()
        || meta.permissions().mode() & 0o022 != 0
    {
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

/// A monitor of ours (`arca … __monitor ID`) in a user namespace other than ours: one a
/// killed pause process held. Only looked for when no pause process runs.
///
/// Only processes in our own pid namespace count: a container's, which runs as the user in
/// that same user namespace and could name itself `__monitor`, is always in a pid namespace
/// of its own (the engine has no `--pid host`), and joining its namespaces would put this
/// arca inside the container's filesystem.
fn monitor_holding_namespaces() -> Option<i32> {
    let uid = nix::unistd::getuid().as_raw();
    let own = std::fs::read_link("/proc/self/ns/user").ok()?;
    let own_pids = std::fs::read_link("/proc/self/ns/pid").ok()?;
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        if e.metadata().ok()?.uid() != uid {
            return None;
        }
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let monitor = cmdline.split(|&b| b == 0).any(|a| a == b"__monitor");
        let ns = std::fs::read_link(e.path().join("ns/user")).ok()?;
        let pids = std::fs::read_link(e.path().join("ns/pid")).ok()?;
        (monitor && ns != own && pids == own_pids).then_some(pid)
    })
}

/// Starts a replacement pause process in the namespaces we joined; its pid.
fn spawn_keeper() -> Result<i32, EngineError> {
    let exe = Path::new("/proc/self/exe");
    let mut child = Command::new(exe)
        .arg0("arca")
        .args([VERB, KEEP])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| EngineError::io("start the pause process", exe, e))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    if line.trim() != "ok" {
        let _ = child.kill();
        let _ = child.wait();
        return Err(EngineError::Spec(format!(
            "rootless: the replacement pause process failed: {}",
            line.trim()
        )));
    }
    Ok(i32::try_from(child.id()).unwrap_or(i32::MAX))
}

/// A process's user and mount namespaces, opened (so it may end before we enter them).
struct Namespaces {
    pid: i32,
    user: File,
    mnt: File,
}

impl Namespaces {
    fn open(pid: i32) -> Result<Namespaces, EngineError> {
        let open = |ns: &str| {
            let p = PathBuf::from(format!("/proc/{pid}/ns/{ns}"));
            File::open(&p).map_err(|e| EngineError::io("open", &p, e))
        };
        Ok(Namespaces {
            pid,
            user: open("user")?,
            mnt: open("mnt")?,
        })
    }

    /// Enters the user namespace, then the mount namespace (the user namespace first: it
    /// grants the capabilities entering the mount namespace needs).
    fn enter(self) -> Result<(), EngineError> {
        let pid = self.pid;
        let err = |what: &'static str| {
            move |e: nix::Error| {
                EngineError::Spec(format!(
                    "rootless: joining the {what} namespace of pid {pid} (the user's \
                     namespaces): {e}"
                ))
            }
        };
        setns(&self.user, CloneFlags::CLONE_NEWUSER).map_err(err("user"))?;
        setns(&self.mnt, CloneFlags::CLONE_NEWNS).map_err(err("mount"))
    }
}

/// Stops the pause process (`arca system migrate`): the next invocation makes new namespaces
/// (with the ids /etc/subuid allots by then). Its pid, if one ran.
pub fn stop(dir: &Path) -> Option<i32> {
    let pid = running(dir)?;
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    let _ = std::fs::remove_file(pid_file(dir));
    Some(pid)
}
