//! The container's init: the child half of create, running in the new namespaces.
//!
//! One straight line, like Firecracker's jailer: wait for the parent, join namespaces, build the
//! rootfs, hand over the console, let the parent run its hooks, pivot, drop privileges, report
//! ready, block on the exec fifo (or the channel's `Start`), exec. Any error goes back to the parent over the channel.

pub mod console;
pub mod dev;
pub mod idmap;
pub mod mount_options;
pub mod mounts;
pub mod process;
pub mod rootfs;

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use arca_cgroups::Cgroup;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::Spec;

use crate::channel::{Channel, Message};
use crate::error::{Error, Result, SysContext};
use crate::namespaces::{self, NamespacePlan};
use crate::spec::Bundle;

/// What the child needs from the parent's preparations.
#[derive(Debug)]
pub struct InitArgs<'a> {
    pub id: &'a str,
    pub bundle: &'a Bundle,
    pub chan: Channel,
    /// The exec fifo, opened read-write by the parent (a reader alone would see EOF; read-write,
    /// our read blocks until `start` writes). Opened there because a user-namespaced init may
    /// no longer have the right to open it. None when created to start at once: the parent's
    /// `Start` comes on `chan`.
    pub fifo: Option<&'a OwnedFd>,
    pub console_socket: Option<&'a Path>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Fds beyond stdio to keep: `--preserve-fds` plus the socket-activation ones.
    pub preserve_fds: u32,
    /// How many of those came with LISTEN_FDS (the container gets LISTEN_FDS/LISTEN_PID=1).
    pub listen_fds: u32,
    /// The seccomp filter, prepared by the parent, installed as late as possible.
    pub seccomp: Option<&'a crate::seccomp::Prepared>,
    /// None when the container has no cgroup (rootless without delegation).
    pub cgroup: Option<&'a Cgroup>,
    /// The v1 hierarchies to move into on Go, when the parent does not move us.
    pub cgroup_join: Option<arca_cgroups::SelfJoin>,
    pub ns: &'a NamespacePlan,
}

/// Runs the init sequence; never returns: it execs the user's process or exits.
pub fn run(mut args: InitArgs<'_>) -> ! {
    let join = args.cgroup_join.take();
    match setup(&args, join) {
        Ok(never) => match never {},
        Err(e) => {
            let _ = args.chan.send(&Message::Failed { msg: e.to_string() });
            std::process::exit(1)
        }
    }
}

fn setup(a: &InitArgs<'_>, cgroup_join: Option<arca_cgroups::SelfJoin>) -> Result<Infallible> {
    let spec: &Spec = &a.bundle.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Usage("process: missing".into()))?;
    let linux = spec.linux().as_ref();
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).ctx(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    // Not dumpable until execve: nothing in the container may ptrace us or open our
    // /proc/<pid>/{exe,fd,mem} while we still hold host fds (CVE-2016-9962). With a new user
    // namespace created without privilege, only from Go on: a non-dumpable process's
    // /proc/<pid> belongs to root, and the unprivileged parent (or newuidmap, which checks the
    // owner) must write our id maps first. Until Go we only wait; nothing of the container
    // runs yet (runc's nsexec does the same).
    let privileged = nix::unistd::geteuid().is_root() && crate::rootless::in_initial_userns();
    if !a.ns.new_user || privileged {
        nix::sys::prctl::set_dumpable(false).ctx(|| "prctl(PR_SET_DUMPABLE)".into())?;
    }
    let state = match a.chan.recv()? {
        Some(Message::Go { state }) => state,
        _ => std::process::exit(1),
    };
    nix::sys::prctl::set_dumpable(false).ctx(|| "prctl(PR_SET_DUMPABLE)".into())?;
    // Before anything of the container is set up, and before a new cgroup namespace takes
    // the cgroup we are in as its root.
    if let Some(join) = cgroup_join {
        join.join()?;
    }

    for (t, path) in &a.ns.joins {
        if !namespaces::joined_around_clone(*t) {
            let f = namespaces::open_ns(*t, path)?;
            namespaces::join(*t, &f)?;
        }
    }
    if a.ns.new_user {
        nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .ctx(|| "becoming root in the user namespace (is gid 0 mapped?)".into())?;
        nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .ctx(|| "becoming root in the user namespace (is uid 0 mapped?)".into())?;
    }
    if a.ns.new_cgroup {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
            .ctx(|| "unshare cgroup namespace".into())?;
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());

    if let Some(h) = spec.hostname() {
        if !a.ns.new_uts {
            return Err(Error::Usage(
                "hostname: set without a new uts namespace".into(),
            ));
        }
        rustix::system::sethostname(h.as_bytes())
            .map_err(|e| Error::io("hostname: sethostname", h, e.into()))?;
    }
    if let Some(d) = spec.domainname().as_ref().filter(|d| !d.is_empty()) {
        rustix::system::setdomainname(d.as_bytes())
            .map_err(|e| Error::io("domainname: setdomainname", d, e.into()))?;
    }
    if a.ns.new_net {
        // A new network namespace gets a working loopback, as runc and crun give it.
        arca_sys::net::set_link_up("lo")
            .ctx(|| "bringing up lo in the new network namespace".into())?;
    }
    process::apply_privileged(process, linux)?;

    if !a.ns.has_mount_ns() {
        return Err(Error::Usage(
            "linux.namespaces: a mount namespace is required".into(),
        ));
    }
    // Decided while the host's /sys is in view; applied after pivot_root.
    let apparmor = crate::lsm::apparmor_profile(Some(process));
    let selinux = crate::lsm::selinux_label(Some(process));
    let mount_label = crate::lsm::mount_label(linux.and_then(|l| l.mount_label().as_deref()));
    let propagation =
        rootfs::propagation_flags(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
    let root = rootfs::prepare(&a.bundle.rootfs, propagation)?;
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    let ctx = mounts::MountContext {
        bundle: &a.bundle.dir,
        cgroup: a.cgroup,
        new_cgroupns: a.ns.new_cgroup,
        mount_label: mount_label.as_deref(),
    };
    mounts::mount_all(&root, mounts, &ctx)?;
    let dev_is_bind = mounts.iter().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind"))
    });
    if !dev_is_bind {
        let mut nodes = dev::default_nodes();
        for d in linux
            .and_then(|l| l.devices().as_ref())
            .into_iter()
            .flatten()
        {
            nodes.push(dev::Node::from_spec(d)?);
        }
        // Also when the runtime itself runs unprivileged (in a rootless engine's user
        // namespace): mknod is refused there too.
        let in_userns = a.ns.new_user
            || a.ns
                .joins
                .iter()
                .any(|(t, _)| *t == oci_spec::runtime::LinuxNamespaceType::User)
            || !privileged;
        dev::create_nodes(&root, &nodes, in_userns)?;
        dev::create_symlinks(&root)?;
    }
    let console = setup_console(a, &root, process)?;

    // Before any hook runs (nothing of a container that will not exist), and before the
    // seccomp filter is in place; the mounts above overlapped the parent's save.
    await_recorded(a)?;
    let hooks = spec.hooks().as_ref();
    if hooks.is_some_and(|h| has(h.prestart()) || has(h.create_runtime())) {
        a.chan.send(&Message::RunCreateRuntimeHooks)?;
        match a.chan.recv()? {
            Some(Message::HooksDone) => {}
            _ => std::process::exit(1),
        }
    }
    if let Some(h) = hooks.and_then(|h| h.create_container().as_ref()) {
        crate::hooks::run_all("createContainer", h, &state)?;
    }

    rootfs::enter(&root, &a.bundle.rootfs, a.no_pivot)?;
    drop(root);
    if let Some(l) = linux {
        // Sysctls first: /proc/sys is usually among the read-only paths.
        if let Some(s) = l.sysctl() {
            rootfs::write_sysctls(s)?;
        }
        rootfs::mask_paths(
            l.masked_paths().as_deref().unwrap_or_default(),
            mount_label.as_deref(),
        )?;
        rootfs::readonly_paths(l.readonly_paths().as_deref().unwrap_or_default())?;
    }
    if spec
        .root()
        .as_ref()
        .is_some_and(|r| r.readonly() == Some(true))
    {
        rootfs::readonly_root()?;
    }
    if !a.no_new_keyring {
        let name = CString::new(format!("_ses.{}", a.id)).unwrap_or_default();
        match arca_sys::process::join_session_keyring(&name) {
            Ok(()) | Err(nix::Error::ENOSYS) | Err(nix::Error::EPERM) | Err(nix::Error::EACCES) => {
            }
            Err(e) => return Err(Error::sys("joining a new session keyring", e)),
        }
    }

    // The profile and label are entered on execve; written while we are still root (our attr
    // files belong to root while we are not dumpable) and an error still reaches the parent.
    if let Some(profile) = &apparmor {
        crate::lsm::apply_apparmor(profile)?;
    }
    if let Some(label) = &selinux {
        crate::lsm::apply_selinux(label)?;
    }

    let exe = process::find_executable(process)?;
    let argv = process::cstrings(process.args().as_deref().unwrap_or_default())?;
    let env = env_with_listen_fds(process.env().as_deref().unwrap_or_default(), a.listen_fds);
    let env = process::cstrings(&process::with_home(env, process.user().uid()))?;
    nix::unistd::setsid().ctx(|| "setsid".into())?;
    if let Some(slave) = console {
        arca_sys::tty::set_controlling_terminal(slave.as_fd())
            .ctx(|| "setting controlling terminal".into())?;
        arca_sys::fd::dup_to_stdio(slave.as_fd()).ctx(|| "dup2 console to stdio".into())?;
    }
    // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it before the
    // capabilities go; with it, as late as an error can still reach the parent (runc's order).
    let nnp = process.no_new_privileges() == Some(true);
    if let (false, Some(s)) = (nnp, a.seccomp) {
        s.install(&state)?;
    }
    process::apply_identity(process, process::setgroups_allowed())?;
    process::enter_cwd(process.cwd())?;
    arca_sys::process::cloexec_from(3 + a.preserve_fds)
        .ctx(|| "marking fds close-on-exec".into())?;
    process::reset_signals()?;

    // `create` exits once we are ready: from here on we outlive it (the credential change above
    // already cleared the parent-death signal for a non-root user; clear it for root too).
    nix::sys::prctl::set_pdeathsig(None).ctx(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    if let (true, Some(s)) = (nnp, a.seccomp) {
        s.install(&state)?;
    }
    a.chan.send(&Message::Ready)?;
    match a.fifo {
        Some(fifo) => wait_for_start(fifo)?,
        // Created to start at once: the parent says when (or dies, and so do we).
        None if a.chan.await_start()? => {}
        None => std::process::exit(1),
    }
    if let Some(h) = hooks.and_then(|h| h.start_container().as_ref()) {
        let mut state = state;
        state["status"] = "created".into();
        if let Err(e) = crate::hooks::run_all("startContainer", h, &state) {
            eprintln!("arca-runtime: {e}");
            std::process::exit(1);
        }
    }
    let err = nix::unistd::execve(&exe, &argv, &env).unwrap_err();
    eprintln!("arca-runtime: exec {}: {err}", exe.to_string_lossy());
    std::process::exit(127)
}

/// Waits until the parent has recorded our pid (it does so while we set up, so the message is
/// usually here already). Its death before that ends us: nothing would know to delete us.
fn await_recorded(a: &InitArgs<'_>) -> Result<()> {
    match a.chan.recv()? {
        Some(Message::Recorded) => Ok(()),
        _ => std::process::exit(1),
    }
}

fn has(h: &Option<Vec<oci_spec::runtime::Hook>>) -> bool {
    h.as_ref().is_some_and(|v| !v.is_empty())
}

fn setup_console(
    a: &InitArgs<'_>,
    root: &OwnedFd,
    p: &oci_spec::runtime::Process,
) -> Result<Option<OwnedFd>> {
    if p.terminal() != Some(true) {
        return Ok(None);
    }
    let socket = a.console_socket.ok_or_else(|| {
        Error::Usage("process.terminal is true but no --console-socket was given".into())
    })?;
    let size = p.console_size().map(|b| {
        (
            u16::try_from(b.height()).unwrap_or(24),
            u16::try_from(b.width()).unwrap_or(80),
        )
    });
    let (master, slave) = console::open_pty(root, size)?;
    console::mount_console(root, &slave)?;
    console::send_master(socket, &master)?;
    Ok(Some(slave))
}

/// `start` writes one byte to the fifo; until then, block.
fn wait_for_start(fifo: &OwnedFd) -> Result<()> {
    let mut buf = [0u8; 1];
    loop {
        match rustix::io::read(fifo, &mut buf) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::io("reading exec fifo", "exec.fifo", e.into())),
        }
    }
}

/// Socket activation: fds the runtime received as LISTEN_FDS pass through to the container.
fn env_with_listen_fds(env: &[String], listen_fds: u32) -> Vec<String> {
    let mut env = env.to_vec();
    if listen_fds > 0 {
        env.retain(|kv| !kv.starts_with("LISTEN_FDS=") && !kv.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={listen_fds}"));
        env.push("LISTEN_PID=1".into());
    }
    env
}
