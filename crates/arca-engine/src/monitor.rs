//! Running a container: in the foreground (the `arca` process itself creates, starts and
//! waits, the container's stdio being arca's), or detached, under a monitor process of its
//! own, what conmon is to Podman: `arca __monitor <id>`, started by `start`/`run -d`, which
//! outlives the command that started it. The monitor
//!
//! - gives the container pipes (or a pty with `-t`) for stdout and stderr and writes what
//!   comes out to the container's log ([`crate::logs`]);
//! - with `-i`, gives it a stdin pipe and keeps the write end open (Docker keeps stdin open
//!   with `-i` even when nobody is attached), and serves `attach` clients on a socket in the
//!   container's directory, in the same poll loop ([`crate::attach`]);
//! - is the parent of the container's init (the runtime library clones it from the monitor,
//!   in-process), so it reaps it and records the real exit status and time;
//! - applies `--rm`, and exits with the container.
//!
//! It tells the starting command "ok" or the error on its stdout, then lets go of it, so
//! `run -d` returns as soon as the container runs and reports a failed start as its own.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Stdio};

use arca_container::container::{self as rt, CreateOptions};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use rustix::event::{PollFd, PollFlags};

use crate::attach::server::AttachServer;
use crate::console::ConsoleSocket;
use crate::container::now;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::health::HealthConfig;
use crate::live::{Health, Live};
use crate::logs::{LogOptions, LogWriter, Stream};
use crate::records::Record;
use crate::restart;

/// How the monitor subcommand is named on arca's command line (hidden from help).
pub const MONITOR_VERB: &str = "__monitor";
/// How much of the container's output the monitor reads at once (one log write, one packet
/// to each attached client).
pub(crate) const READ_SIZE: usize = 64 * 1024;
/// The monitor's flag saying its stdin is an attach client's connection.
pub const ATTACHED_FLAG: &str = "--attached";
/// The id a monitor started before its container is given (`run -d`): it reads the real one
/// from its stdin.
pub const AWAIT_ID: &str = "-";

/// Docker's status for a process that ended: its code, or 128 + the signal that killed it.
fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

impl Engine {
    /// The engine creates and starts in one call (no exec fifo, no second look at the state):
    /// nothing else could start its containers in between.
    fn runtime_options(&self, id: &str) -> CreateOptions {
        CreateOptions {
            id: id.to_owned(),
            bundle: self.dir(id),
            // No cgroup unless one is delegated (see `arca_container::rootless`).
            rootless: self.rootless,
            start: true,
            ..CreateOptions::default()
        }
    }

    /// Runs the created container `rec` in the foreground and returns its exit status: its
    /// stdio is ours, signals sent to us are forwarded to it, a terminal is proxied with `-t`.
    pub fn run_foreground(&self, rec: &Record) -> Result<i32, EngineError> {
        let id = &rec.id;
        self.mount(rec)?;
        let opts = self.runtime_options(id);
        let code = self.network_up(rec).and_then(|()| {
            if rec.settings.tty {
                (|| {
                    let console = ConsoleSocket::bind(&self.console_dir())?;
                    let mut opts = opts.clone();
                    opts.console_socket = Some(console.path.clone());
                    let set = rt::wait::block_signals()?;
                    let st = rt::create(&self.runtime, &opts)?;
                    let master = console.receive()?;
                    self.records.set_running(id, st.pid, None, now())?;
                    let pid = Pid::from_raw(st.pid);
                    Ok(rt::console_proxy::proxy_until_exit(pid, master, &set)?)
                })()
            } else {
                (|| {
                    let set = rt::wait::block_signals()?;
                    let st = rt::create(&self.runtime, &opts)?;
                    self.records.set_running(id, st.pid, None, now())?;
                    Ok(rt::wait_forwarding_signals(Pid::from_raw(st.pid), &set)?)
                })()
            }
        });
        // Also after a failed start: its runtime state and mount go, and --rm removes it.
        self.finish(rec, code.as_ref().ok().copied())?;
        code
    }

    /// After the container ended: its exit recorded, its runtime state and mount gone, and
    /// with `--rm`, everything.
    fn finish(&self, rec: &Record, code: Option<i32>) -> Result<(), EngineError> {
        if rec.settings.auto_remove {
            // Network included.
            let r = self.cleanup(&rec.id);
            self.remove_anonymous_volumes(&rec.settings);
            return r;
        }
        self.network_down(&rec.id);
        let _ = rt::delete(&self.runtime, &rec.id, true);
        self.records.set_exited(&rec.id, code, now())?;
        self.unmount(&rec.id);
        Ok(())
    }

    /// Starts the created (or exited) container `rec` under a monitor: runs `exe` (arca
    /// itself) as `exe --root ROOT __monitor ID` and returns once it reported the container
    /// started, or its error. `attach`: one end of an [`crate::attach::pair`], given to the
    /// monitor as its stdin (`__monitor --attached`): its first client, before any output.
    pub fn start_detached(
        &self,
        rec: &Record,
        exe: &Path,
        attach: Option<OwnedFd>,
    ) -> Result<(), EngineError> {
        // A user's start lifts an earlier stop: the restart policy applies again.
        let _ = std::fs::remove_file(restart::stopped_marker(&self.dir(&rec.id)));
        let mut cmd = self.monitor_command(exe, &rec.id);
        if attach.is_some() {
            cmd.arg(ATTACHED_FLAG);
        }
        let child = cmd
            .stdin(attach.map_or_else(Stdio::null, Stdio::from))
            .spawn()
            .map_err(|e| EngineError::io("start the monitor", exe, e))?;
        started_report(child, &rec.id)
    }

    /// Starts a monitor for a container not made yet (`run -d`): it starts up (exec, the
    /// store) on another CPU while this process creates the container, which then goes to
    /// it with [`PendingMonitor::start`] (~1 ms of a `run -d` less). Dropped unused, the
    /// monitor reads EOF and exits.
    pub fn spawn_monitor(&self, exe: &Path) -> Result<PendingMonitor, EngineError> {
        let mut child = self
            .monitor_command(exe, AWAIT_ID)
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| EngineError::io("start the monitor", exe, e))?;
        let id_pipe = child.stdin.take();
        Ok(PendingMonitor {
            child: Some(child),
            id_pipe,
        })
    }

    /// `exe --root ROOT --cni-plugin-dir DIRS __monitor ID`, stdout piped (the report),
    /// stderr to /dev/null.
    fn monitor_command(&self, exe: &Path, id: &str) -> Command {
        let mut cmd = Command::new(exe);
        // The plugins that set the network up must also tear it down, from the monitor.
        cmd.arg("--root")
            .arg(self.root())
            .arg("--cni-plugin-dir")
            .arg(self.networks.plugins.joined())
            .arg(MONITOR_VERB)
            .arg(id)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        cmd
    }

    /// What the runtime can do before the container exists (the monitor of `run -d` waits for
    /// its id meanwhile).
    pub fn warm_up(&self) {
        rt::warm_up(&self.runtime);
    }

    /// The monitor process's body (`arca __monitor ID`): see the module documentation.
    /// `ready` is where the starting command waits for "ok" or "error <why>"; `client`, an
    /// attach connection made before the start (`start -a`).
    pub fn monitor(
        &self,
        id: &str,
        mut ready: impl Write,
        client: Option<OwnedFd>,
    ) -> Result<i32, EngineError> {
        // Out of the starting command's session: its terminal closing must not reach us.
        let _ = rustix::process::setsid();
        let rec = self.find(id)?;
        // Listening before the start, so an `attach` right after `run -d` finds the socket.
        let attach = AttachServer::bind(&self.dir(id), rec.settings.stdin_once).map(|mut a| {
            if let Some(c) = client {
                a.add_client(c);
            }
            a
        });
        let started = attach.and_then(|a| Ok((a, self.start_monitored(&rec)?)));
        let (mut attach, started) = match started {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(ready, "error {e}");
                // Created (or even started) before the step that failed: its init goes too.
                let _ = rt::delete(&self.runtime, id, true);
                let _ = self.records.set_exited(id, None, now());
                self.network_down(id);
                self.unmount(id);
                return Err(e);
            }
        };
        let _ = writeln!(ready, "ok");
        drop(ready);
        let dir = self.dir(id);
        let mut live = Live {
            health: rec.settings.health.as_ref().map(|_| Health::Starting),
            ..Live::default()
        };
        live.save(&dir);
        let mut started = started;
        loop {
            let code = self.pump(&rec, started, &mut live, &mut attach);
            let again = |live: &Live| {
                !restart::stopped_marker(&dir).exists()
                    && rec.settings.restart.restarts(code, live.restart_count)
            };
            // Attached clients get the code once the exit is recorded, so what they run next
            // (`inspect`, `rm`) sees the container stopped.
            if !again(&live) {
                let finished = self.finish(&rec, code);
                attach.exited(code);
                finished?;
                return Ok(code.unwrap_or(125));
            }
            let _ = rt::delete(&self.runtime, id, true);
            let recorded = self.records.set_exited(id, code, now());
            attach.exited(code);
            recorded?;
            std::thread::sleep(restart::backoff(live.restart_count));
            // A `stop` or `rm -f` while we waited wins.
            if !again(&live) {
                self.finish(&rec, code)?;
                return Ok(code.unwrap_or(125));
            }
            started = match self.start_monitored(&rec) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("container {id}: restart failed: {e}");
                    self.finish(&rec, None)?;
                    return Err(e);
                }
            };
            // Counted once it runs again: a reader never sees the new count with the old
            // exit.
            live.restart_count += 1;
            live.health = live.health.map(|_| Health::Starting);
            live.failing_streak = 0;
            live.save(&dir);
        }
    }

    /// Runs the healthcheck once: its exit code, or -1 when it could not run or timed out.
    fn health_check(&self, rec: &Record, cfg: &HealthConfig) -> i32 {
        let req = crate::exec::ExecRequest {
            args: cfg.test.clone(),
            detach: true,
            ..Default::default()
        };
        let Ok(process) = self.exec_process(rec, &req) else {
            return -1;
        };
        let opts = rt::ExecOptions {
            process,
            console_socket: None,
            pid_file: None,
            detach: true,
            preserve_fds: 0,
        };
        let Ok(rt::exec::ExecOutcome::Detached(pid)) = rt::exec(&self.runtime, &rec.id, &opts)
        else {
            return -1;
        };
        let pidfd = rustix::process::Pid::from_raw(pid.as_raw()).and_then(|p| {
            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
        });
        let timed_out = pidfd.is_some_and(|fd| {
            let mut fds = [PollFd::new(&fd, PollFlags::IN)];
            let t =
                rustix::time::Timespec::try_from(cfg.timeout).unwrap_or(rustix::time::Timespec {
                    tv_sec: 30,
                    tv_nsec: 0,
                });
            matches!(rustix::event::poll(&mut fds, Some(&t)), Ok(0))
        });
        if timed_out {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
        let code = waitpid(pid, None).ok().and_then(exit_code).unwrap_or(-1);
        if timed_out {
            -1
        } else {
            code
        }
    }

    /// Creates and starts the container with its output going to pipes (or a pty) we read.
    fn start_monitored(&self, rec: &Record) -> Result<Started, EngineError> {
        let id = &rec.id;
        self.mount(rec)?;
        self.network_up(rec)?;
        let mut opts = self.runtime_options(id);
        let devnull = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|e| EngineError::io("open", Path::new("/dev/null"), e))?;
        let sys = |what: &'static str| {
            move |e: rustix::io::Errno| EngineError::io(what, Path::new("/"), e.into())
        };
        let mut outputs = Vec::new();
        let mut input = None;
        let console = if rec.settings.tty {
            let c = ConsoleSocket::bind(&self.console_dir())?;
            opts.console_socket = Some(c.path.clone());
            Some(c)
        } else {
            let (out_r, out_w) =
                rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(sys("pipe"))?;
            let (err_r, err_w) =
                rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(sys("pipe"))?;
            // The init inherits fds 0-2 (dup2 clears close-on-exec on them).
            rustix::stdio::dup2_stdout(&out_w).map_err(sys("dup2"))?;
            rustix::stdio::dup2_stderr(&err_w).map_err(sys("dup2"))?;
            outputs.push((out_r, Stream::Stdout));
            outputs.push((err_r, Stream::Stderr));
            None
        };
        if rec.settings.interactive && !rec.settings.tty {
            let (in_r, in_w) =
                rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(sys("pipe"))?;
            rustix::stdio::dup2_stdin(&in_r).map_err(sys("dup2"))?;
            input = Some(in_w);
        } else {
            rustix::stdio::dup2_stdin(&devnull).map_err(sys("dup2"))?;
        }
        let created = rt::create(&self.runtime, &opts);
        // Our copies of the container's ends go, so the pipes end when the container's do.
        rustix::stdio::dup2_stdin(&devnull).map_err(sys("dup2"))?;
        rustix::stdio::dup2_stdout(&devnull).map_err(sys("dup2"))?;
        rustix::stdio::dup2_stderr(&devnull).map_err(sys("dup2"))?;
        let st = created?;
        if let Some(c) = console {
            let master = c.receive()?;
            if rec.settings.interactive {
                input = Some(rustix::io::fcntl_dupfd_cloexec(&master, 0).map_err(sys("dup"))?);
            }
            outputs.push((master, Stream::Stdout));
        }
        let monitor = i32::try_from(std::process::id()).ok();
        self.records.set_running(id, st.pid, monitor, now())?;
        Ok(Started {
            pid: st.pid,
            outputs,
            input,
        })
    }

    /// Copies the container's output to its log and attached clients until its init exits,
    /// running the healthcheck on its schedule; returns the init's status.
    fn pump(
        &self,
        rec: &Record,
        started: Started,
        live: &mut Live,
        attach: &mut AttachServer,
    ) -> Option<i32> {
        let health = rec.settings.health.as_ref();
        let began = std::time::Instant::now();
        let mut next_check = health.map(|h| began + h.interval);
        let pid = Pid::from_raw(started.pid);
        let mut log = LogWriter::open(&self.log_path(&rec.id), LogOptions::default())
            .map_err(|e| tracing::warn!("container {}: log: {e}", rec.id))
            .ok();
        let pidfd = rustix::process::Pid::from_raw(started.pid).and_then(|p| {
            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
        });
        let mut open: Vec<(OwnedFd, Stream)> = started.outputs;
        attach.set_input(started.input, rec.settings.tty);
        let mut buf = vec![0u8; READ_SIZE];
        let mut exited = pidfd.is_none();
        // After the init exits, what its children still write is read for a moment more.
        let mut grace = 20;
        // Until the init exits, even if it closed its output: attached clients wait for it.
        while (!exited || !open.is_empty()) && grace > 0 {
            let mut fds: Vec<PollFd<'_>> = open
                .iter()
                .map(|(fd, _)| PollFd::new(fd, PollFlags::IN))
                .collect();
            if let (Some(p), false) = (&pidfd, exited) {
                fds.push(PollFd::new(p, PollFlags::IN));
            }
            let attach_at = fds.len();
            fds.extend(attach.poll_fds());
            let timeout = rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 50_000_000,
            };
            let until_check = next_check.map(|t| {
                let d = t.saturating_duration_since(std::time::Instant::now());
                rustix::time::Timespec::try_from(d).unwrap_or(timeout)
            });
            let wait = if exited {
                Some(&timeout)
            } else {
                until_check.as_ref()
            };
            let _ = rustix::event::poll(&mut fds, wait);
            let revents: Vec<PollFlags> = fds.iter().map(PollFd::revents).collect();
            drop(fds);
            attach.handle(&revents[attach_at..]);
            let ready: Vec<bool> = revents[..attach_at].iter().map(|r| !r.is_empty()).collect();
            if !exited && ready.get(open.len()).copied().unwrap_or(false) {
                exited = true;
            }
            if exited && !ready[..open.len()].iter().any(|r| *r) {
                grace -= 1;
            }
            let mut closed = Vec::new();
            for (i, (fd, stream)) in open.iter().enumerate() {
                if !ready[i] {
                    continue;
                }
                match rustix::io::read(fd, &mut buf) {
                    Ok(0) | Err(rustix::io::Errno::IO) => closed.push(i),
                    Ok(n) => {
                        if let Some(l) = log.as_mut() {
                            let _ = l.write(*stream, &buf[..n]);
                        }
                        attach.output(*stream, &buf[..n]);
                    }
                    Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                    Err(_) => closed.push(i),
                }
            }
            for i in closed.into_iter().rev() {
                open.remove(i);
            }
            if let (Some(h), Some(t)) = (health, next_check) {
                if !exited && std::time::Instant::now() >= t {
                    let code = self.health_check(rec, h);
                    live.checked(code, h.retries, began.elapsed() >= h.start_period);
                    live.save(&self.dir(&rec.id));
                    next_check = Some(std::time::Instant::now() + h.interval);
                }
            }
        }
        if let Some(l) = log.as_mut() {
            let _ = l.flush_partial();
        }
        let _ = std::io::stdout().flush();
        waitpid(pid, None).ok().and_then(exit_code)
    }
}

/// A started container's init, the fds its output comes out of, and (with `-i`) where its
/// input goes: its stdin pipe's write end, or a copy of its pty master.
struct Started {
    pid: i32,
    outputs: Vec<(OwnedFd, Stream)>,
    input: Option<OwnedFd>,
}

/// A monitor waiting for its container's id (see [`Engine::spawn_monitor`]).
#[derive(Debug)]
pub struct PendingMonitor {
    child: Option<std::process::Child>,
    id_pipe: Option<std::process::ChildStdin>,
}

impl PendingMonitor {
    /// Hands the monitor the created container `rec` and returns once it reported the
    /// container started, or its error.
    pub fn start(mut self, rec: &Record) -> Result<(), EngineError> {
        let mut pipe = self.id_pipe.take();
        let child = self.child.take();
        let sent = pipe
            .as_mut()
            .map(|p| p.write_all(format!("{}\n", rec.id).as_bytes()));
        drop(pipe);
        match (child, sent) {
            (Some(child), Some(Ok(()))) => started_report(child, &rec.id),
            (child, _) => {
                if let Some(mut c) = child {
                    let _ = c.wait();
                }
                Err(EngineError::Monitor {
                    id: rec.id.clone(),
                    msg: "it exited before it was given the container".into(),
                })
            }
        }
    }
}

impl Drop for PendingMonitor {
    fn drop(&mut self) {
        // Unused: EOF on its stdin, and it exits.
        drop(self.id_pipe.take());
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }
}

/// Waits for a monitor's one line: "ok", or "error <why>" (or nothing: it died).
fn started_report(mut child: std::process::Child, id: &str) -> Result<(), EngineError> {
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    match line.trim_end().strip_prefix("ok") {
        Some(_) => Ok(()),
        None => {
            let _ = child.wait();
            let msg = line.trim_end().strip_prefix("error ").unwrap_or(&line);
            Err(EngineError::Monitor {
                id: id.to_owned(),
                msg: if msg.is_empty() {
                    "it exited without a word".into()
                } else {
                    msg.to_owned()
                },
            })
        }
    }
}
