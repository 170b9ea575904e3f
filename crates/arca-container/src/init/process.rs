//! The attributes of the container's process, applied in the order the kernel requires:
//! rlimits and scheduling while privileged, the bounding set, then the user and groups, then
//! the remaining capability sets, no_new_privs last. Shared by init and exec.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{Linux, Process};
use rustix::process::{Resource, Rlimit};

use crate::capabilities;
use crate::error::{Error, Result, SysContext};

/// The JSON name of a spec enum value (`"RLIMIT_NOFILE"`, `"SCHED_FIFO"`...).
fn name_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn rlimit_resource(name: &str) -> Option<Resource> {
    Some(match name {
        "RLIMIT_CPU" => Resource::Cpu,
        "RLIMIT_FSIZE" => Resource::Fsize,
        "RLIMIT_DATA" => Resource::Data,
        "RLIMIT_STACK" => Resource::Stack,
        "RLIMIT_CORE" => Resource::Core,
        "RLIMIT_RSS" => Resource::Rss,
        "RLIMIT_NPROC" => Resource::Nproc,
        "RLIMIT_NOFILE" => Resource::Nofile,
        "RLIMIT_MEMLOCK" => Resource::Memlock,
        "RLIMIT_AS" => Resource::As,
        "RLIMIT_LOCKS" => Resource::Locks,
        "RLIMIT_SIGPENDING" => Resource::Sigpending,
        "RLIMIT_MSGQUEUE" => Resource::Msgqueue,
        "RLIMIT_NICE" => Resource::Nice,
        "RLIMIT_RTPRIO" => Resource::Rtprio,
        "RLIMIT_RTTIME" => Resource::Rttime,
        _ => return None,
    })
}

/// Everything that needs privilege and does not depend on the user: rlimits, oom score, I/O
/// priority, scheduler, personality.
pub fn apply_privileged(process: &Process, linux: Option<&Linux>) -> Result<()> {
    for rl in process.rlimits().iter().flatten() {
        let name = name_of(&rl.typ());
        let res = rlimit_resource(&name)
            .ok_or_else(|| Error::Usage(format!("process.rlimits: unknown type {name}")))?;
        let lim = Rlimit {
            current: Some(rl.soft()).filter(|v| *v != u64::MAX),
            maximum: Some(rl.hard()).filter(|v| *v != u64::MAX),
        };
        rustix::process::setrlimit(res, lim).map_err(|e| {
            Error::sys(
                format!("process.rlimits: setrlimit {name}"),
                nix::Error::from_raw(e.raw_os_error()),
            )
        })?;
    }
    if let Some(adj) = process.oom_score_adj() {
        write_oom_score_adj("self", adj)?;
    }
    if let Some(io) = process.io_priority() {
        let class = match name_of(&io.class()).as_str() {
            "IOPRIO_CLASS_RT" => 1,
            "IOPRIO_CLASS_BE" => 2,
            "IOPRIO_CLASS_IDLE" => 3,
            other => {
                return Err(Error::Usage(format!(
                    "process.ioPriority: unknown class {other}"
                )))
            }
        };
        let level = i32::try_from(io.priority()).unwrap_or(0);
        arca_sys::process::ioprio_set_self(class, level).ctx(|| "process.ioPriority".into())?;
    }
    if let Some(s) = process.scheduler() {
        apply_scheduler(s)?;
    }
    if let Some(p) = linux.and_then(|l| l.personality().as_ref()) {
        let persona = match name_of(&p.domain()).as_str() {
            "LINUX32" => nix::sys::personality::Persona::from_bits_retain(0x0008),
            _ => nix::sys::personality::Persona::empty(),
        };
        nix::sys::personality::set(persona).ctx(|| "linux.personality".into())?;
    }
    Ok(())
}

/// Writes `/proc/<who>/oom_score_adj` through the runtime's (host) procfs. Only call it where
/// /proc is still the host's: before pivot_root in the init, from the parent for exec.
///
/// The file is opened without following a final symlink and written only after `fstatfs` on
/// that very fd says procfs, so a /proc that is not the kernel's (a bind of some directory, a
/// tmpfs) cannot turn the write into one to a host file. (There is no test forcing the
/// negative case: the init writes before pivot_root through the runtime's own /proc, which a
/// bundle cannot replace; the check is what keeps it that way if the call ever moves.)
pub fn write_oom_score_adj(who: &str, adj: i32) -> Result<()> {
    use rustix::fs::{Mode as RMode, OFlags};
    let path = format!("/proc/{who}/oom_score_adj");
    let io = |e: rustix::io::Errno| {
        Error::io(
            "process.oomScoreAdj: writing",
            path.clone(),
            std::io::Error::from(e),
        )
    };
    let fd = rustix::fs::open(
        path.as_str(),
        OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        RMode::empty(),
    )
    .map_err(io)?;
    let fs = rustix::fs::fstatfs(&fd).map_err(io)?;
    if fs.f_type != libc::PROC_SUPER_MAGIC {
        return Err(Error::Usage(format!(
            "process.oomScoreAdj: {path} is not on procfs, refusing to write it"
        )));
    }
    let text = adj.to_string();
    let n = rustix::io::write(&fd, text.as_bytes()).map_err(io)?;
    if n != text.len() {
        return Err(Error::Usage(format!(
            "process.oomScoreAdj: short write to {path}"
        )));
    }
    Ok(())
}

fn apply_scheduler(s: &oci_spec::runtime::Scheduler) -> Result<()> {
    let policy = match name_of(&s.policy()).as_str() {
        "SCHED_OTHER" => 0,
        "SCHED_FIFO" => 1,
        "SCHED_RR" => 2,
        "SCHED_BATCH" => 3,
        "SCHED_IDLE" => 5,
        "SCHED_DEADLINE" => 6,
        other => {
            return Err(Error::Usage(format!(
                "process.scheduler: unsupported policy {other}"
            )))
        }
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match name_of(f).as_str() {
            "SCHED_FLAG_RESET_ON_FORK" => 0x01,
            "SCHED_FLAG_RECLAIM" => 0x02,
            "SCHED_FLAG_DL_OVERRUN" => 0x04,
            "SCHED_FLAG_KEEP_POLICY" => 0x08,
            "SCHED_FLAG_KEEP_PARAMS" => 0x10,
            "SCHED_FLAG_UTIL_CLAMP_MIN" => 0x20,
            "SCHED_FLAG_UTIL_CLAMP_MAX" => 0x40,
            _ => 0,
        };
    }
    let attr = arca_sys::process::SchedAttr {
        sched_policy: policy,
        sched_flags: flags,
        sched_nice: s.nice().unwrap_or(0),
        sched_priority: u32::try_from(s.priority().unwrap_or(0)).unwrap_or(0),
        sched_runtime: s.runtime().unwrap_or(0),
        sched_deadline: s.deadline().unwrap_or(0),
        sched_period: s.period().unwrap_or(0),
        ..Default::default()
    };
    arca_sys::process::sched_setattr_self(&attr).ctx(|| "process.scheduler".into())
}

/// Drops to the spec's user with its capabilities: bounding set, groups and ids (keeping
/// capabilities across the uid change), then the other sets; then umask and no_new_privs.
pub fn apply_identity(process: &Process, may_setgroups: bool) -> Result<()> {
    let user = process.user();
    // 4294967295 is -1 to setresuid(2), "leave unchanged": the process would stay root
    // (CVE-2024-40635). Refuse anything above 2^31-1, whatever path the spec came by.
    let ids = [user.uid(), user.gid()]
        .into_iter()
        .chain(user.additional_gids().iter().flatten().copied());
    if let Some(bad) = ids.into_iter().find(|id| *id > i32::MAX.cast_unsigned()) {
        return Err(Error::Usage(format!(
            "process.user: uid/gid {bad} out of range 0-2147483647"
        )));
    }
    if let Some(caps) = process.capabilities() {
        capabilities::drop_bounding(caps)?;
    }
    nix::sys::prctl::set_keepcaps(true).ctx(|| "prctl(PR_SET_KEEPCAPS)".into())?;
    if !may_setgroups
        && user
            .additional_gids()
            .as_ref()
            .is_some_and(|g| !g.is_empty())
    {
        return Err(Error::Usage(
            "process.user.additionalGids: setgroups is denied in this user namespace (a \
             rootless gid mapping of only the caller's gid); map more gids (newgidmap, \
             /etc/subgid) or drop additionalGids"
                .into(),
        ));
    }
    if may_setgroups {
        let mut groups: Vec<Gid> = user
            .additional_gids()
            .iter()
            .flatten()
            .map(|g| Gid::from_raw(*g))
            .collect();
        groups.dedup();
        nix::unistd::setgroups(&groups).ctx(|| "process.user.additionalGids: setgroups".into())?;
    }
    let gid = Gid::from_raw(user.gid());
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresgid(gid, gid, gid).ctx(|| format!("process.user.gid: setgid {gid}"))?;
    nix::unistd::setresuid(uid, uid, uid).ctx(|| format!("process.user.uid: setuid {uid}"))?;
    nix::sys::prctl::set_keepcaps(false).ctx(|| "prctl(PR_SET_KEEPCAPS)".into())?;
    if let Some(caps) = process.capabilities() {
        capabilities::apply_sets(caps)?;
    }
    nix::sys::stat::umask(Mode::from_bits_truncate(user.umask().unwrap_or(0o022)));
    if process.no_new_privileges() == Some(true) {
        nix::sys::prctl::set_no_new_privs().ctx(|| "process.noNewPrivileges".into())?;
    }
    Ok(())
}

/// Whether setgroups(2) is allowed in our user namespace: not after a rootless runtime wrote
/// "deny" to /proc/<pid>/setgroups to map a single gid itself.
pub fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny")
}

/// The executable `args[0]` names, looked up in the process's own PATH inside the container.
pub fn find_executable(process: &Process) -> Result<CString> {
    let args = process.args().as_deref().unwrap_or_default();
    let arg0 = args
        .first()
        .ok_or_else(|| Error::Usage("process.args: must not be empty".into()))?;
    let is_exec = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let found = if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        let p = if p.is_absolute() {
            p
        } else {
            process.cwd().join(p)
        };
        is_exec(&p).then_some(p)
    } else {
        let path = process
            .env()
            .iter()
            .flatten()
            .find_map(|kv| kv.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(arg0))
            .find(|p| is_exec(p))
    };
    let found = found.ok_or_else(|| {
        Error::Usage(format!(
            "process.args[0] {arg0:?}: executable file not found in $PATH or not executable"
        ))
    })?;
    CString::new(found.into_os_string().into_encoded_bytes())
        .map_err(|_| Error::Usage("process.args[0]: contains NUL".into()))
}

pub fn cstrings(items: &[String]) -> Result<Vec<CString>> {
    items
        .iter()
        .map(|s| {
            CString::new(s.as_bytes()).map_err(|_| Error::Usage(format!("{s:?}: contains NUL")))
        })
        .collect()
}

/// Restores default signal handling and an empty mask: the runtime's dispositions (Rust
/// ignores SIGPIPE) must not leak into the container's process.
pub fn reset_signals() -> Result<()> {
    arca_sys::signal::reset_all().ctx(|| "resetting signal dispositions".into())
}

/// Adds `HOME` from the container's /etc/passwd (or `/`) when the spec did not set it, as runc
/// does. Read after pivot_root, so the file is the container's.
pub fn with_home(mut env: Vec<String>, uid: u32) -> Vec<String> {
    if env.iter().any(|kv| kv.starts_with("HOME=")) {
        return env;
    }
    let home = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let f: Vec<&str> = line.split(':').collect();
                (f.len() >= 6 && f[2].parse::<u32>() == Ok(uid)).then(|| f[5].to_owned())
            })
        })
        .unwrap_or_else(|| "/".to_owned());
    env.push(format!("HOME={home}"));
    env
}

/// Enters `process.cwd` resolved inside the container's root, refusing magic links: a cwd of
/// `/proc/self/fd/N` can never land on a host directory the runtime had open (CVE-2024-21626).
pub fn enter_cwd(cwd: &Path) -> Result<()> {
    use rustix::fs::{Mode, OFlags};
    let root = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys("opening /", nix::Error::from_raw(e.raw_os_error())))?;
    let dir =
        crate::paths::open_in_root(&root, cwd, OFlags::PATH | OFlags::DIRECTORY).map_err(|e| {
            Error::sys(
                format!("process.cwd {}", cwd.display()),
                nix::Error::from_raw(e.raw_os_error()),
            )
        })?;
    nix::unistd::fchdir(&dir).ctx(|| format!("process.cwd {}: fchdir", cwd.display()))?;
    // An unreachable cwd (outside our root) makes getcwd fail: check it as runc does.
    nix::unistd::getcwd()
        .ctx(|| format!("process.cwd {}: outside the container root", cwd.display()))?;
    Ok(())
}
