//! A container's life outside its process: created from an image (record, writable snapshot,
//! bundle), stopped, killed, waited for, removed. Starting it is [`crate::monitor`]'s.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arca_image::digest::Digest;
use arca_image::gc::GcLock;
use arca_sys::fs::Replace;
use oci_spec::runtime::Spec;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::names;
use crate::records::{Record, RecordError, Settings, State};

/// What a new container is made of, besides its spec.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// `--name`; a random one when `None`.
    pub name: Option<String>,
    /// The image's id (config digest) and the name the user gave it.
    pub image_id: String,
    pub image: String,
    /// The image's layer chain IDs, base first.
    pub chain: Vec<Digest>,
    pub settings: Settings,
    /// Leave the rootfs mounted (it starts right away, as with `run`); else a created
    /// container holds no mount until it starts.
    pub keep_mounted: bool,
}

/// Seconds since the epoch, now.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// How a container is doing, from its record and what is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Exited(Option<i32>),
    /// Recorded as running, but its monitor is gone (killed): the process may still run,
    /// unwatched. `rm -f` cleans it up.
    MonitorLost {
        running: bool,
    },
}

impl Engine {
    /// Makes a container: reserves its name, prepares its writable snapshot, mounts it at
    /// `rootfs`, asks `build_spec` for its spec (given the mounted rootfs and the id), checks
    /// the command can be run there, and writes the bundle. Anything done is undone on error.
    pub fn create(
        &self,
        req: CreateRequest,
        build_spec: impl FnOnce(&Path, &str) -> Result<Spec, EngineError>,
    ) -> Result<Record, EngineError> {
        if let Some(n) = &req.name {
            if !names::valid_name(n) {
                return Err(EngineError::BadName(n.clone()));
            }
        }
        let id = names::new_id();
        let mut undo = Undo {
            engine: self,
            id: &id,
            armed: true,
        };
        let spec = {
            // Layers are roots for the collector only once the snapshot names them.
            let _gc =
                GcLock::shared(&self.images()).map_err(|e| EngineError::Spec(e.to_string()))?;
            self.snapshots.prepare(&id, &req.chain)?;
            let dir = self.dir(&id);
            let rootfs = self.rootfs(&id);
            std::fs::create_dir_all(&rootfs).map_err(|e| EngineError::io("create", &rootfs, e))?;
            self.snapshots
                .mount_with(&id, &rootfs, req.settings.auto_remove)?;
            let mut spec = build_spec(&rootfs, &id)?;
            if self.rootless {
                crate::rootless::adapt_spec(&mut spec)?;
            }
            if let Some(p) = spec.process() {
                crate::command::check(
                    &rootfs,
                    crate::spec::user_command(p.args().as_deref().unwrap_or_default()),
                    p.env().as_deref().unwrap_or_default(),
                    p.cwd().to_str().unwrap_or("/"),
                )?;
            }
            self.network_files(&id, &req.settings.network, &mut spec)?;
            let mut root = spec.root().clone().unwrap_or_default();
            root.set_path("rootfs".into());
            spec.set_root(Some(root));
            write_spec(&dir, &spec, false)?;
            spec
        };
        let mut settings = req.settings;
        // The user's command, as Docker shows it, also under `--init`.
        settings.command = spec
            .process()
            .as_ref()
            .and_then(|p| p.args().as_deref())
            .map(|a| crate::spec::user_command(a).to_vec())
            .unwrap_or_default();
        settings.chain = req.chain.iter().map(ToString::to_string).collect();
        let mut record = Record {
            id: id.clone(),
            name: req.name.clone().unwrap_or_else(names::random_name),
            image_id: req.image_id,
            image: req.image,
            created: now(),
            state: State::Created,
            pid: None,
            monitor_pid: None,
            started: None,
            finished: None,
            exit_code: None,
            settings,
        };
        // A generated name that is taken is drawn again; a given one is the user's problem.
        let mut tries = 0;
        loop {
            match self.records.insert(&record) {
                Ok(()) => break,
                Err(RecordError::NameInUse(_)) if req.name.is_none() && tries < 20 => {
                    tries += 1;
                    record.name = names::random_name();
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !req.keep_mounted {
            self.unmount(&id);
        }
        undo.armed = false;
        Ok(record)
    }

    /// The container named `what` (id, name or id prefix).
    pub fn find(&self, what: &str) -> Result<Record, EngineError> {
        self.records
            .resolve(what)?
            .ok_or_else(|| EngineError::NoSuchContainer(what.to_owned()))
    }

    /// Where `rec` stands now.
    pub fn status(&self, rec: &Record) -> Status {
        match rec.state {
            State::Created => Status::Created,
            State::Exited => Status::Exited(rec.exit_code),
            State::Running => {
                let init_alive = rec.pid.is_some_and(alive);
                match rec.monitor_pid {
                    Some(m) if !alive(m) => Status::MonitorLost {
                        running: init_alive,
                    },
                    _ => Status::Running,
                }
            }
        }
    }

    /// Sends `signal` to the container's process (`kill`).
    pub fn kill(&self, rec: &Record, signal: nix::sys::signal::Signal) -> Result<(), EngineError> {
        if !matches!(
            self.status(rec),
            Status::Running | Status::MonitorLost { running: true }
        ) {
            return Err(EngineError::BadState {
                name: rec.name.clone(),
                state: "not running".into(),
                hint: "only a running container can be signalled",
            });
        }
        self.mark_stopped(&rec.id);
        arca_container::container::kill(&self.runtime, &rec.id, signal, false)?;
        Ok(())
    }

    /// Tells the monitor the user stopped the container: no restart follows.
    fn mark_stopped(&self, id: &str) {
        let _ = std::fs::write(crate::restart::stopped_marker(&self.dir(id)), b"");
    }

    /// Docker's `stop`: the stop signal, `timeout` to exit, then SIGKILL; returns once the
    /// exit is recorded. A container that is not running is left as it is.
    pub fn stop(&self, rec: &Record, timeout: Duration) -> Result<(), EngineError> {
        // Also when it is between two runs of its restart policy: it must not come back.
        self.mark_stopped(&rec.id);
        if self.status(rec) != Status::Running {
            return Ok(());
        }
        let signal = arca_container::signal::parse(&rec.settings.stop_signal)
            .unwrap_or(nix::sys::signal::Signal::SIGTERM);
        // It may have exited since the record was read: a failed signal is not an error then.
        let _ = arca_container::container::kill(&self.runtime, &rec.id, signal, false);
        if self.wait_exited(&rec.id, timeout)?.is_some() {
            return Ok(());
        }
        let _ = arca_container::container::kill(
            &self.runtime,
            &rec.id,
            nix::sys::signal::Signal::SIGKILL,
            true,
        );
        self.wait_exited(&rec.id, Duration::from_secs(30))?;
        Ok(())
    }

    /// Waits up to `timeout` for the record of `id` to show an exit (or the record to go, as
    /// a `--rm` container's does); returns it, or `None` on timeout.
    pub fn wait_exited(&self, id: &str, timeout: Duration) -> Result<Option<Record>, EngineError> {
        let deadline = Instant::now() + timeout;
        loop {
            let rec = match self.records.resolve(id)? {
                None => return Ok(Some(gone(id))),
                Some(r) => r,
            };
            match self.status(&rec) {
                Status::Exited(_) | Status::MonitorLost { running: false } => return Ok(Some(rec)),
                _ => {}
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `rm`: the runtime's container, the mount, the writable snapshot, the directory and
    /// the record. A running container needs `force` (it is killed first).
    pub fn remove(&self, rec: &Record, force: bool) -> Result<(), EngineError> {
        match self.status(rec) {
            Status::Running | Status::MonitorLost { running: true } if !force => {
                return Err(EngineError::BadState {
                    name: rec.name.clone(),
                    state: "running".into(),
                    hint: "stop it first, or use rm -f",
                })
            }
            Status::Running => {
                self.mark_stopped(&rec.id);
                let _ = arca_container::container::kill(
                    &self.runtime,
                    &rec.id,
                    nix::sys::signal::Signal::SIGKILL,
                    true,
                );
                // The monitor records the exit (and, with --rm, removes everything itself).
                self.wait_exited(&rec.id, Duration::from_secs(30))?;
            }
            _ => {}
        }
        self.cleanup(&rec.id)
    }

    /// Removes whatever of container `id` exists. Idempotent, so a monitor's `--rm` and a
    /// user's `rm` may both run it.
    pub(crate) fn cleanup(&self, id: &str) -> Result<(), EngineError> {
        match arca_container::container::delete(&self.runtime, id, true) {
            Ok(()) | Err(arca_container::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        self.network_down(id);
        self.unmount(id);
        self.snapshots.remove(id)?;
        let dir = self.dir(id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(EngineError::io("remove", &dir, e)),
        }
        self.records.remove(id)?;
        Ok(())
    }

    /// Mounts the writable snapshot at `rootfs` unless it is mounted.
    pub(crate) fn mount(&self, rec: &Record) -> Result<(), EngineError> {
        let rootfs = self.rootfs(&rec.id);
        if !is_mountpoint(&rootfs) {
            self.snapshots
                .mount_with(&rec.id, &rootfs, rec.settings.auto_remove)?;
        }
        Ok(())
    }

    /// Unmounts `rootfs` if mounted (lazily if busy).
    pub(crate) fn unmount(&self, id: &str) {
        let rootfs = self.rootfs(id);
        while is_mountpoint(&rootfs) {
            if arca_image::snapshot::unmount(&rootfs).is_err() {
                break;
            }
        }
    }
}

/// What [`Engine::wait_exited`] returns for a container whose record is gone (`--rm`): its
/// exit is unknown to the records.
fn gone(id: &str) -> Record {
    Record {
        id: id.to_owned(),
        name: String::new(),
        image_id: String::new(),
        image: String::new(),
        created: 0,
        state: State::Exited,
        pid: None,
        monitor_pid: None,
        started: None,
        finished: None,
        exit_code: None,
        settings: Settings::default(),
    }
}

/// Removes a half-made container (record included) on error.
struct Undo<'a> {
    engine: &'a Engine,
    id: &'a str,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Err(e) = self.engine.cleanup(self.id) {
            tracing::warn!("cleaning up after a failed create: {e}");
        }
    }
}

/// The container's config.json. `rewrite`: it replaces the one written at create, so it is
/// synced (a power loss must not leave a stopped container an empty spec); the first one is
/// not (a container is not recorded until its create finishes).
pub(crate) fn write_spec(dir: &Path, spec: &Spec, rewrite: bool) -> Result<(), EngineError> {
    let path = dir.join("config.json");
    let text = serde_json::to_vec_pretty(spec)
        .map_err(|e| EngineError::Spec(format!("serializing the spec: {e}")))?;
    let replace = if rewrite {
        Replace::new().durable()
    } else {
        Replace::new()
    };
    replace
        .write(&path, &text)
        .map_err(|e| EngineError::io("write", &path, e))
}

/// Whether a process with this pid exists (signal 0).
pub(crate) fn alive(pid: i32) -> bool {
    pid > 0
        && rustix::process::Pid::from_raw(pid)
            .is_some_and(|p| rustix::process::test_kill_process(p).is_ok())
}

/// Whether `path` is the root of a mount (its mount id differs from its parent's).
pub(crate) fn is_mountpoint(path: &Path) -> bool {
    use rustix::fs::{statx, AtFlags, StatxFlags, CWD};
    let id = |p: &Path| {
        statx(CWD, p, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::MNT_ID)
            .ok()
            .map(|s| s.stx_mnt_id)
    };
    match (id(path), path.parent().and_then(id)) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    }
}
