//! `exec`: a new process in a running container, confined like its init: same namespaces
//! (pid and time joined around the clone so it is our child), same cgroup, its own user,
//! capabilities and no_new_privs from the process spec.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use arca_cgroups::{Cgroup, SelfJoin};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Process};

use crate::channel::{self, Channel, Message};
use crate::error::{Error, Result, SysContext};
use crate::init::{console, process};
use crate::namespaces::{self, JOIN_ORDER};
use crate::seccomp::Prepared;
use crate::state::Status;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub detach: bool,
    pub preserve_fds: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecOutcome {
    Detached(Pid),
    Exited(i32),
}

pub fn exec(store: &Store, id: &str, opts: &ExecOptions) -> Result<ExecOutcome> {
    let st = store.load(id)?;
    let status = st.status(&store.dir(id));
    if !matches!(status, Status::Created | Status::Running) {
        return Err(Error::BadState {
            id: id.to_owned(),
            action: "exec in",
            status: status.to_string(),
        });
    }
    crate::lsm::check(Some(&opts.process), None)?;
    // Without a profile or label of its own, the exec'd process gets the container's (as in
    // runc).
    let lsm = ExecLsm {
        apparmor: crate::lsm::apparmor_profile(Some(&opts.process))
            .or_else(|| crate::lsm::apparmor_profile(st.process.as_ref())),
        selinux: crate::lsm::selinux_label(Some(&opts.process))
            .or_else(|| crate::lsm::selinux_label(st.process.as_ref())),
    };
    if opts.process.terminal() == Some(true) && opts.console_socket.is_none() {
        return Err(Error::Usage(
            "exec with a terminal needs --console-socket".into(),
        ));
    }
    // The container's namespaces that differ from ours, in joining order.
    let mut joins = Vec::new();
    for t in JOIN_ORDER {
        let name = namespaces::proc_name(t);
        let theirs = format!("/proc/{}/ns/{name}", st.pid);
        let ours = format!("/proc/self/ns/{name}");
        let (Ok(a), Ok(b)) = (std::fs::metadata(&theirs), std::fs::metadata(&ours)) else {
            continue;
        };
        if a.ino() != b.ino() || a.dev() != b.dev() {
            let f = File::open(&theirs).map_err(|e| Error::io("opening", &theirs, e))?;
            joins.push((t, f));
        }
    }
    // The namespace files were opened by pid: make sure that pid is still our init (same start
    // time), not a recycled one, now that we hold them.
    if !crate::state::process_alive(st.pid, st.start_time) {
        return Err(Error::BadState {
            id: id.to_owned(),
            action: "exec in",
            status: "stopped".into(),
        });
    }
    let cgroup = if st.no_cgroup {
        None
    } else {
        Some(Cgroup::open(&st.cgroup_path)?)
    };
    // As for the init (see create): born in the cgroup2 directory, into the v1 ones by itself.
    let (clone_into, self_join) = match &cgroup {
        Some(cg) => super::create::cgroup_entry(cg)?,
        None => (None, None),
    };
    let seccomp = match &st.seccomp {
        Some(profile) => Some(Prepared::new(
            profile,
            Some(&super::create::seccomp_cache(store)),
        )?),
        None => None,
    };
    let seccomp_state = st.oci_state(status);
    let sigset = if opts.detach {
        None
    } else {
        Some(super::wait::block_signals()?)
    };
    let (parent, child) = channel::pair()?;
    // Joining a pid (or time) namespace needs CAP_SYS_ADMIN in our own user namespace too:
    // without privilege (rootless), enter the container's user namespace first, for good (a
    // process cannot go back to its parent user namespace). Non-dumpable before that: the
    // container's root must not ptrace a runtime that still holds host fds.
    let privileged = nix::unistd::geteuid().is_root() && crate::rootless::in_initial_userns();
    let mut joins = joins;
    if !privileged {
        if let Some(i) = joins
            .iter()
            .position(|(t, _)| *t == LinuxNamespaceType::User)
        {
            let (t, f) = joins.remove(i);
            nix::sys::prctl::set_dumpable(false).ctx(|| "prctl(PR_SET_DUMPABLE)".into())?;
            namespaces::join(t, &f)?;
        }
    }
    let mut restore = Vec::new();
    for (t, f) in &joins {
        if namespaces::joined_around_clone(*t) {
            let own = File::open(format!("/proc/self/ns/{}", namespaces::proc_name(*t)))
                .map_err(|e| Error::io("opening own namespace", "/proc/self/ns", e))?;
            namespaces::join(*t, f)?;
            restore.push((*t, own));
        }
    }
    let cloned = arca_sys::clone::clone_process(0, clone_into.as_ref().map(|f| f.as_fd()));
    for (t, own) in &restore {
        let _ = namespaces::join(*t, own);
    }
    let pid = match cloned.map_err(|e| Error::sys("clone3 (exec)", e))? {
        arca_sys::clone::CloneResult::Child => {
            drop(parent);
            drop(clone_into);
            let joins: Vec<_> = joins
                .into_iter()
                .filter(|(t, _)| !namespaces::joined_around_clone(*t))
                .collect();
            let seccomp = seccomp.as_ref().map(|s| (s, &seccomp_state));
            let err = match exec_child(&child, self_join, &joins, opts, seccomp, &lsm) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let _ = child.send(&Message::Failed {
                msg: err.to_string(),
            });
            std::process::exit(1)
        }
        arca_sys::clone::CloneResult::Parent(pid) => pid,
    };
    drop(child);
    let fail = |e: Error| {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        e
    };
    drop(self_join);
    if let Some(adj) = opts.process.oom_score_adj() {
        process::write_oom_score_adj(&pid.to_string(), adj).map_err(fail)?;
    }
    parent
        .send(&Message::Go {
            state: serde_json::Value::Null,
        })
        .map_err(fail)?;
    // The channel is close-on-exec: EOF means the exec happened.
    match parent.recv().map_err(fail)? {
        None => {}
        Some(Message::Failed { msg }) => {
            let _ = waitpid(pid, None);
            return Err(Error::Init {
                step: "exec".into(),
                msg,
            });
        }
        Some(other) => return Err(fail(Error::Usage(format!("unexpected message {other:?}")))),
    }
    if let Some(p) = &opts.pid_file {
        super::create::write_pid_file(p, pid.as_raw())?;
    }
    match sigset {
        None => Ok(ExecOutcome::Detached(pid)),
        Some(set) => Ok(ExecOutcome::Exited(super::wait::wait_forwarding_signals(
            pid, &set,
        )?)),
    }
}

/// The AppArmor profile and SELinux label an exec'd process enters, when enabled on the host.
#[derive(Debug)]
struct ExecLsm {
    apparmor: Option<String>,
    selinux: Option<String>,
}

fn exec_child(
    chan: &Channel,
    cgroup_join: Option<SelfJoin>,
    joins: &[(LinuxNamespaceType, File)],
    opts: &ExecOptions,
    seccomp: Option<(&Prepared, &serde_json::Value)>,
    lsm: &ExecLsm,
) -> Result<std::convert::Infallible> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).ctx(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    // As for the init: no ptrace or /proc/<pid> access from the container before execve.
    nix::sys::prctl::set_dumpable(false).ctx(|| "prctl(PR_SET_DUMPABLE)".into())?;
    match chan.recv()? {
        Some(Message::Go { .. }) => {}
        _ => std::process::exit(1),
    }
    if let Some(join) = cgroup_join {
        join.join()?;
    }
    let p = &opts.process;
    let console_stream = match (&opts.console_socket, p.terminal() == Some(true)) {
        (Some(sock), true) => Some(console::connect(sock)?),
        _ => None,
    };
    for (t, f) in joins {
        namespaces::join(*t, f)?;
    }
    // The parent wrote oom_score_adj through the host's /proc: the container's may lie.
    let mut p_no_oom = p.clone();
    p_no_oom.set_oom_score_adj(None);
    process::apply_privileged(&p_no_oom, None)?;
    let console = if p.terminal() == Some(true) {
        let root = std::fs::File::open("/").map_err(|e| Error::io("opening", "/", e))?;
        let size = p.console_size().map(|b| {
            (
                u16::try_from(b.height()).unwrap_or(24),
                u16::try_from(b.width()).unwrap_or(80),
            )
        });
        let (master, slave) = console::open_pty(&root, size)?;
        if let (Some(stream), Some(sock)) = (&console_stream, &opts.console_socket) {
            console::send_master_on(stream, sock, &master)?;
        }
        Some(slave)
    } else {
        None
    };
    let exe = process::find_executable(p)?;
    let argv = process::cstrings(p.args().as_deref().unwrap_or_default())?;
    let env = process::cstrings(&process::with_home(
        p.env().clone().unwrap_or_default(),
        p.user().uid(),
    ))?;
    if let Some(slave) = console {
        nix::unistd::setsid().ctx(|| "setsid".into())?;
        arca_sys::tty::set_controlling_terminal(slave.as_fd())
            .ctx(|| "setting controlling terminal".into())?;
        arca_sys::fd::dup_to_stdio(slave.as_fd()).ctx(|| "dup2 console to stdio".into())?;
    }
    // Same order as the init's (see init/mod.rs).
    if let Some(profile) = &lsm.apparmor {
        crate::lsm::apply_apparmor(profile)?;
    }
    if let Some(label) = &lsm.selinux {
        crate::lsm::apply_selinux(label)?;
    }
    let nnp = p.no_new_privileges() == Some(true);
    if let (false, Some((s, state))) = (nnp, seccomp) {
        s.install(state)?;
    }
    process::apply_identity(p, process::setgroups_allowed())?;
    process::enter_cwd(p.cwd())?;
    arca_sys::process::cloexec_from(3 + opts.preserve_fds)
        .ctx(|| "marking fds close-on-exec".into())?;
    process::reset_signals()?;
    // The exec'd process outlives `exec -d`.
    nix::sys::prctl::set_pdeathsig(None).ctx(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    if let (true, Some((s, state))) = (nnp, seccomp) {
        s.install(state)?;
    }
    let err = nix::unistd::execve(&exe, &argv, &env).unwrap_err();
    Err(Error::sys(format!("exec {}", exe.to_string_lossy()), err))
}
