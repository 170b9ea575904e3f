//! `create`: validate the bundle, claim the id, make the cgroup, clone the init with its
//! namespaces (born in its cgroup on v2), write its id maps, run the createRuntime hooks when
//! it asks, and return once it waits on the exec fifo (or, with `start`, once it exec'd). Any
//! failure undoes everything.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use arca_cgroups::systemd::Unit;
use arca_cgroups::{Cgroup, SelfJoin};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, LinuxResources, Spec};

use crate::channel::{self, Message};
use crate::error::{Error, Result, SysContext};
use crate::init::{self, InitArgs};
use crate::namespaces::{self, NamespacePlan};
use crate::seccomp::Prepared;
use crate::spec::Bundle;
use crate::state::{self, ContainerState, Status, EXEC_FIFO};
use crate::store::Store;

#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Rootless mode (see [`crate::rootless`]): cgroups only where delegated on v2.
    pub rootless: bool,
    /// The systemd cgroup driver (`--systemd-cgroup`): the cgroup is a transient scope unit
    /// named from `linux.cgroupsPath` (`slice:prefix:name`), see [`arca_cgroups::systemd`].
    pub systemd_cgroup: bool,
    /// Start it too, before returning, for a caller that would call `start` right away
    /// (the engine's monitor): no exec fifo is made (nobody else could start the container),
    /// the init waits for `Start` on its sync channel, and the call returns once the user's
    /// process runs, after the poststart hooks, as `start` would.
    pub start: bool,
}

/// Undoes a half-done create unless disarmed: kills the init, removes cgroup and state.
struct Undo<'a> {
    store: &'a Store,
    id: &'a str,
    cgroup: Option<Cgroup>,
    unit: Option<Unit>,
    child: Option<Pid>,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.child {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        if let Some(unit) = &self.unit {
            if let Err(e) = unit.stop() {
                tracing::warn!("stopping the container's unit after failed create: {e}");
            }
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.kill_all(Signal::SIGKILL);
            if let Err(e) = cg.remove() {
                tracing::warn!("removing cgroup after failed create: {e}");
            }
        }
        let _ = self.store.remove(self.id);
    }
}

/// How a new process enters `cg` without its parent writing `cgroup.procs`: the cgroup2
/// directory to clone it into (`CLONE_INTO_CGROUP`), and the v1 `tasks` files it writes `0` to
/// itself (see `arca_cgroups::SelfJoin`). Shared by the init and `exec`.
pub(super) fn cgroup_entry(cg: &Cgroup) -> Result<(Option<File>, Option<SelfJoin>)> {
    let into = cg
        .unified_dir()
        .map(|d| File::open(&d).map_err(|e| Error::io("opening the cgroup", &d, e)))
        .transpose()?;
    let join = cg.self_join()?;
    Ok((into, (!join.is_empty()).then_some(join)))
}

/// Creates the container; its init is our child until we exit (so `run` can wait for it).
pub fn create(store: &Store, opts: &CreateOptions) -> Result<ContainerState> {
    crate::store::validate_id(&opts.id)?;
    create_from(store, opts, Bundle::load(&opts.bundle)?)
}

/// Does ahead of time what a create would do on its way and may keep: prepares the default
/// seccomp profile (hashing it into its cache key alone costs ~0.15 ms). For a process that has
/// a moment before its container exists: the monitor of `run -d` waits for the id meanwhile.
/// (Reading the cgroup mounts here too was tried: it contends with the overlay mount the
/// command makes at that moment, for the namespace's mount lock.)
pub fn warm_up(store: &Store) {
    crate::seccomp::prepare_ahead(&crate::seccomp::default_profile(), &seccomp_cache(store));
}

/// [`create`] with the bundle already loaded (`run` looks at it first).
pub fn create_from(store: &Store, opts: &CreateOptions, bundle: Bundle) -> Result<ContainerState> {
    crate::store::validate_id(&opts.id)?;
    let spec = &bundle.spec;
    let linux = spec.linux().as_ref();
    let ns = NamespacePlan::from_spec(
        linux
            .and_then(|l| l.namespaces().as_deref())
            .unwrap_or_default(),
    )
    .map_err(|e| spec_error(&bundle, e))?;
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    if terminal && opts.console_socket.is_none() {
        return Err(Error::Spec {
            file: bundle.config_path(),
            msg: "process.terminal is true: --console-socket is required".into(),
        });
    }
    crate::lsm::check(
        spec.process().as_ref(),
        linux.and_then(|l| l.mount_label().as_deref()),
    )
    .map_err(|e| spec_error(&bundle, e))?;
    let unit =
        match opts.systemd_cgroup {
            true if opts.rootless => {
                return Err(Error::Usage(
                    "--systemd-cgroup with --rootless (a user's systemd) is not supported".into(),
                ))
            }
            true if !arca_cgroups::systemd::booted() => return Err(Error::Usage(
                "--systemd-cgroup: systemd is not running on this host (use the cgroupfs driver)"
                    .into(),
            )),
            true => Some(
                Unit::parse(
                    linux
                        .and_then(|l| l.cgroups_path().as_deref())
                        .and_then(Path::to_str),
                    &opts.id,
                )
                .map_err(|e| spec_error(&bundle, Error::Usage(e.to_string())))?,
            ),
            false => None,
        };
    let cgroup_path = match &unit {
        Some(u) => u.cgroup_path()?,
        None => cgroup_path(spec, &opts.id)?,
    };
    let resources = linux.and_then(|l| l.resources().as_ref());
    // Decided before anything exists, so the record delete reads says whether to look for one.
    let cgroup = match Cgroup::open(&cgroup_path) {
        Ok(cg) if !opts.rootless || crate::rootless::cgroup_usable(&cg, resources.is_some()) => {
            Some(cg)
        }
        Ok(_) => None,
        Err(e) if opts.rootless => {
            tracing::warn!("rootless: no usable cgroup hierarchy ({e}): running without a cgroup");
            None
        }
        Err(e) => return Err(e.into()),
    };
    // Locked until create returns: a concurrent delete waits instead of pulling the state away.
    let (dir, lock) = store.claim(&opts.id)?;
    let mut undo = Undo {
        store,
        id: &opts.id,
        cgroup: None,
        unit: None,
        child: None,
        armed: true,
    };
    let hooks = spec.hooks().as_ref();
    let mut st = ContainerState {
        id: opts.id.clone(),
        pid: 0,
        start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: state::now_rfc3339(),
        owner: String::new(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        cgroup_path: cgroup_path.clone(),
        poststart: hooks
            .and_then(|h| h.poststart().clone())
            .unwrap_or_default(),
        poststop: hooks.and_then(|h| h.poststop().clone()).unwrap_or_default(),
        process: spec.process().clone(),
        seccomp: linux.and_then(|l| l.seccomp().clone()),
        resources: resources.cloned(),
        creating: true,
        no_cgroup: cgroup.is_none(),
        systemd_unit: unit.as_ref().map(|u| u.name().to_owned()),
    };
    store.save(&st)?;
    let fifo = dir.join(EXEC_FIFO);
    if !opts.start {
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o622))
            .ctx(|| format!("mkfifo {}", fifo.display()))?;
    }

    if let Some(cgroup) = &cgroup {
        // Cleanup kills everything in the container's cgroup: it must not hold anyone else.
        if cgroup.exists() && !cgroup.pids()?.is_empty() {
            return Err(Error::Spec {
                file: bundle.config_path(),
                msg: format!(
                    "linux.cgroupsPath {}: cgroup is not empty (in use by other processes)",
                    cgroup_path.display()
                ),
            });
        }
        undo.cgroup = Some(cgroup.clone());
        // Under systemd the scope is made around the cloned init (below).
        if unit.is_none() {
            cgroup.create()?;
            if let Some(res) = resources {
                cgroup.apply(&with_default_devices(res, linux))?;
            }
        }
    }
    // The init is born in its cgroup2 directory (CLONE_INTO_CGROUP) and moves itself into the
    // v1 ones on Go: a parent's write to cgroup.procs could wait an RCU grace period (see
    // arca_cgroups::SelfJoin). Under systemd the parent moves it, below.
    let (clone_into, self_join) = match &cgroup {
        Some(cg) if unit.is_none() => cgroup_entry(cg)?,
        _ => (None, None),
    };

    let fifo = match opts.start {
        true => None,
        false => Some(
            rustix::fs::open(
                &fifo,
                rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| Error::io("opening exec fifo", &fifo, e.into()))?,
        ),
    };
    // Compiled (or read from the cache) here, where the host paths and the state root are
    // ours; the clone inherits the program.
    let seccomp = match linux.and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => Some(Prepared::new(profile, Some(&seccomp_cache(store)))?),
        None => None,
    };
    // Idmapped mount trees need CAP_SYS_ADMIN over the source filesystem, which a
    // user-namespaced init never has: the runtime builds them; the clone inherits the fds.
    let _idmapped = crate::init::idmap::prepare(spec, &bundle.dir)?;
    let (parent, child) = channel::pair()?;
    let listen = listen_fds();
    let preserve_fds = opts.preserve_fds + listen;
    let mut clone_flags = ns.clone_flags;
    let restore = enter_around_clone(&ns, spec, &mut clone_flags)?;
    let cloned = arca_sys::clone::clone_process(
        u64::from(clone_flags.bits().cast_unsigned()),
        clone_into.as_ref().map(|f| f.as_fd()),
    );
    let pid = match cloned {
        Ok(arca_sys::clone::CloneResult::Child) => {
            // The init must not keep the lock's open file (flock follows it) while it waits, and
            // must close it without unlocking it for the parent too.
            lock.close_inherited();
            drop(clone_into);
            drop(parent);
            std::mem::forget(undo);
            init::run(InitArgs {
                id: &opts.id,
                bundle: &bundle,
                chan: child,
                fifo: fifo.as_ref(),
                console_socket: opts.console_socket.as_deref(),
                no_pivot: opts.no_pivot,
                no_new_keyring: opts.no_new_keyring,
                preserve_fds,
                listen_fds: listen,
                seccomp: seccomp.as_ref(),
                cgroup: cgroup.as_ref(),
                cgroup_join: self_join,
                ns: &ns,
            })
        }
        Ok(arca_sys::clone::CloneResult::Parent(pid)) => pid,
        Err(e) => {
            leave_around_clone(restore);
            return Err(Error::sys("clone3 (container init)", e));
        }
    };
    leave_around_clone(restore);
    drop(child);
    drop(fifo);
    undo.child = Some(pid);
    st.pid = pid.as_raw();

    if ns.new_user {
        let l = spec.linux().as_ref();
        crate::rootless::write_id_maps(
            pid,
            l.and_then(|l| l.uid_mappings().as_deref())
                .unwrap_or_default(),
            l.and_then(|l| l.gid_mappings().as_deref())
                .unwrap_or_default(),
        )?;
    }
    if let (Some(u), Some(cg)) = (&unit, &cgroup) {
        // systemd makes the scope and moves the init into it; the hierarchies systemd does not
        // manage (v1) are joined and every limit written through cgroupfs, as without systemd.
        let res = resources.map(|r| with_default_devices(r, linux));
        undo.unit = Some(u.clone());
        u.start(
            pid.as_raw().cast_unsigned(),
            &opts.id,
            res.as_ref(),
            cg.hierarchy(),
        )?;
        cg.create()?;
        cg.add_pid(pid.as_raw())?;
        if let Some(res) = &res {
            cg.apply(res)?;
        }
    }
    drop(self_join);
    parent.send(&Message::Go {
        state: st.oci_state(Status::Creating),
    })?;
    // Recorded while the init sets itself up on another CPU; it waits for `Recorded` before
    // anything outlives us (hooks, or dropping its parent-death signal), so a create killed
    // at any point still leaves delete a pid to kill.
    record_init(store, &mut st, &parent)?;
    if let Err(e) = parent.send(&Message::Recorded) {
        return Err(init_failure(&parent, e));
    }
    loop {
        match parent.recv()? {
            Some(Message::RunCreateRuntimeHooks) => {
                let state = st.oci_state(Status::Creating);
                if let Some(h) = hooks {
                    crate::hooks::run_all(
                        "prestart",
                        h.prestart().as_deref().unwrap_or_default(),
                        &state,
                    )?;
                    crate::hooks::run_all(
                        "createRuntime",
                        h.create_runtime().as_deref().unwrap_or_default(),
                        &state,
                    )?;
                }
                parent.send(&Message::HooksDone)?;
            }
            Some(Message::Ready) => break,
            Some(Message::Failed { msg }) => {
                return Err(Error::Init {
                    step: "set-up".into(),
                    msg,
                })
            }
            Some(other) => {
                return Err(Error::Init {
                    step: "sync".into(),
                    msg: format!("unexpected message {other:?}"),
                })
            }
            None => {
                let status = waitpid(pid, None)
                    .map(|s| format!("{s:?}"))
                    .unwrap_or_default();
                undo.child = None;
                return Err(Error::Init {
                    step: "set-up".into(),
                    msg: format!("init exited unexpectedly ({status})"),
                });
            }
        }
    }
    st.creating = false;
    store.save(&st)?;
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, pid.as_raw())?;
    }
    if opts.start {
        parent.send(&Message::Start)?;
        // The init's end closes on exec (or with the init): then the user's process runs.
        while parent.recv()?.is_some() {}
    }
    undo.armed = false;
    drop(lock);
    if opts.start {
        super::start::run_poststart(&st);
    }
    Ok(st)
}

/// The init's pid and start time into state.json (without the start time a recycled pid could
/// pass for ours later). If the init is already gone, its own report says why.
fn record_init(store: &Store, st: &mut ContainerState, parent: &channel::Channel) -> Result<()> {
    match state::proc_stat(st.pid) {
        Some((_, start_time)) => st.start_time = start_time,
        None => {
            let gone = Error::Init {
                step: "clone".into(),
                msg: "init exited before it could be recorded".into(),
            };
            return Err(init_failure(parent, gone));
        }
    }
    store.save(st)
}

/// Why the init went, as it reported it (`Failed`) before exiting; else `otherwise`. Never
/// waits: an init still alive waits for us (for `Recorded`), and the caller's error return
/// kills it.
fn init_failure(parent: &channel::Channel, otherwise: Error) -> Error {
    match parent.try_recv() {
        Ok(Some(Message::Failed { msg })) => Error::Init {
            step: "set-up".into(),
            msg,
        },
        _ => otherwise,
    }
}

fn spec_error(bundle: &Bundle, e: Error) -> Error {
    match e {
        Error::Usage(msg) => Error::Spec {
            file: bundle.config_path(),
            msg,
        },
        other => other,
    }
}

/// The spec's device rules followed by runc's defaults and an allow rule per `linux.devices`
/// node: a config that says only "deny all" must still leave /dev/null usable.
fn with_default_devices(
    res: &LinuxResources,
    linux: Option<&oci_spec::runtime::Linux>,
) -> LinuxResources {
    let mut res = res.clone();
    if let Some(rules) = res.devices().clone() {
        let mut rules = rules;
        rules.extend(arca_cgroups::default_allowed_devices());
        for d in linux
            .and_then(|l| l.devices().as_ref())
            .into_iter()
            .flatten()
        {
            let (major, minor) = (Some(d.major()), Some(d.minor()));
            rules.push(arca_cgroups::device_rule(
                true,
                d.typ(),
                major,
                minor,
                "rwm",
            ));
        }
        res.set_devices(Some(rules));
    }
    res
}

/// runc's rules for `linux.cgroupsPath`: absolute as given, relative below the runtime's own
/// cgroup, and `/<id>` when absent.
fn cgroup_path(spec: &Spec, id: &str) -> Result<PathBuf> {
    let p = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    Ok(match p {
        Some(p) if p.is_absolute() => p,
        Some(p) if !p.as_os_str().is_empty() => arca_cgroups::own_cgroup_path()?.join(p),
        _ => Path::new("/").join(id),
    })
}

/// Compiled seccomp programs, keyed by a hash of the profile (crun's cache).
pub(crate) fn seccomp_cache(store: &Store) -> PathBuf {
    store.root().join(".seccomp-cache")
}

/// Sockets passed by systemd socket activation are preserved like `--preserve-fds`.
/// Only when LISTEN_PID names us, as sd_listen_fds(3) requires: fds inherited from some other
/// activated process are not ours to hand on.
fn listen_fds() -> u32 {
    let for_us = std::env::var("LISTEN_PID").is_ok_and(|p| p == std::process::id().to_string());
    if !for_us {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

type Restore = Vec<(LinuxNamespaceType, File)>;

/// Joins (or, for a new time namespace with offsets, unshares) the namespaces that only take
/// effect for children, so the clone is born inside them; returns how to go back.
fn enter_around_clone(ns: &NamespacePlan, spec: &Spec, flags: &mut CloneFlags) -> Result<Restore> {
    let mut restore = Vec::new();
    for (t, path) in &ns.joins {
        if namespaces::joined_around_clone(*t) {
            let own = File::open(format!("/proc/self/ns/{}", namespaces::proc_name(*t)))
                .map_err(|e| Error::io("opening own namespace", "/proc/self/ns", e))?;
            let target = namespaces::open_ns(*t, path)?;
            namespaces::join(*t, &target)?;
            restore.push((*t, own));
        }
    }
    let newtime = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
    let offsets = spec.linux().as_ref().and_then(|l| l.time_offsets().clone());
    if flags.contains(newtime) && offsets.is_some() {
        flags.remove(newtime);
        let own = File::open("/proc/self/ns/time")
            .map_err(|e| Error::io("opening", "/proc/self/ns/time", e))?;
        nix::sched::unshare(newtime).ctx(|| "unshare time namespace".into())?;
        let mut text = String::new();
        for (clock, off) in offsets.iter().flatten() {
            text.push_str(&format!(
                "{clock} {} {}\n",
                off.secs().unwrap_or(0),
                off.nanosecs().unwrap_or(0)
            ));
        }
        std::fs::write("/proc/self/timens_offsets", text)
            .map_err(|e| Error::io("linux.timeOffsets: writing", "/proc/self/timens_offsets", e))?;
        restore.push((LinuxNamespaceType::Time, own));
    }
    Ok(restore)
}

fn leave_around_clone(restore: Restore) {
    for (t, own) in restore {
        if let Err(e) = namespaces::join(t, &own) {
            tracing::warn!(
                "returning to own {} namespace: {e}",
                namespaces::proc_name(t)
            );
        }
    }
}

/// Atomically writes the pid file (containerd and conmon read it as soon as create returns).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    arca_sys::fs::Replace::new()
        .write(path, pid.to_string().as_bytes())
        .map_err(|e| Error::io("writing pid file", path, e))
}
