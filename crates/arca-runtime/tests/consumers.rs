//! Consumer tests: real container engines drive the runtime under test.
//!
//! * containerd (Debian's 1.6): a private daemon (own socket, root, state,
//!   config) runs busybox containers through `ctr run --runc-binary RUNTIME`,
//!   so the runtime is driven by containerd-shim-runc-v2 exactly as under
//!   Kubernetes.
//! * Podman (Debian's 4.3): a private store (own `--root`, `--runroot`,
//!   containers.conf, storage.conf, registries.conf) runs containers through
//!   conmon with `--runtime RUNTIME`.
//! * The console socket handshake (`create --console-socket`), runtime-level.
//!
//! The runtime is `$ARCA_TEST_RUNTIME` if set (e.g. `/usr/sbin/runc`, to check
//! these tests against runc), else the `arca-runtime` cargo built. The tests
//! need root, containerd, ctr, podman, conmon and busybox-static; a missing one
//! is a failure, never a skip. Images come from scripts/busybox-image.sh.
//!
//! Isolation and cleanup: every engine gets its own temporary directory and
//! unique names; `Drop` stops the engine, kills what it left (containerd and
//! its shims, conmon, container processes found by cgroup), force-deletes the
//! runtime's state, unmounts everything under the temporary directory and
//! removes the cgroups it made, also when a test fails. What they cannot keep
//! private (fixed paths in these engines): containerd's shims put their
//! sockets in /run/containerd/s and the runtime state in
//! /run/containerd/runc/<namespace> (the namespace is unique and removed);
//! podman keeps the runtime's state under the runtime's default `--root`
//! (runc: /run/runc) because podman 4.3 drops `--runtime-flag` from its
//! cleanup command, and creates /var/lib/containers/cache (a digest cache, not
//! a store) and /run/containers/networks.

mod common;

use std::fs;
use std::io::{ErrorKind, IoSliceMut, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
use nix::unistd::Pid;
use tempfile::TempDir;

use common::{cgroup_mounts, process_alive, runtime, unique_id, Bundle, Out, Proc, Runtime};

/// What the containers print, proving they ran.
const HELLO: &str = "hello-from-arca";
/// A detached container's command: exits 0 on SIGTERM (as PID 1 it would
/// otherwise ignore it), so a clean stop proves the signal was delivered.
const TRAP_LOOP: &str = "trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done";
/// How long a cleanup step may take before it is abandoned.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// The repository (for scripts/); `$ARCA_REPO_ROOT` overrides it.
fn repo_root() -> PathBuf {
    match std::env::var_os("ARCA_REPO_ROOT") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    }
}

/// Path of `tool`, or a failure telling which Debian package to install.
fn require_tool(tool: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    for dir in dirs {
        let p = dir.join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!("{tool} not found: these tests need it (apt-get install {package})");
}

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "consumer tests must run as root (they start containerd and podman)"
    );
}

/// The runtime under test, checked to exist.
fn runtime_path() -> PathBuf {
    let rt = runtime();
    assert!(
        rt.is_file(),
        "runtime under test {} does not exist (ARCA_TEST_RUNTIME?)",
        rt.display()
    );
    // Engines resolve relative paths against their own working directories.
    fs::canonicalize(&rt).unwrap_or(rt)
}

/// Runs `cmd` to the end (stdout/stderr to files, stdin from /dev/null).
fn run(cmd: Command) -> Out {
    Proc::spawn(cmd).wait()
}

/// Like [`run`], asserting success.
fn run_ok(cmd: Command) -> Out {
    let out = run(cmd);
    out.assert_success();
    out
}

/// For cleanup: runs `cmd` with output discarded, never panics, gives up
/// (killing it) after `timeout`. Returns whether it exited 0.
fn run_quiet(mut cmd: Command, timeout: Duration) -> bool {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    wait_child(&mut child, timeout)
}

fn wait_child(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// Polls `cond` for up to `timeout`; returns whether it came true.
fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        sleep(Duration::from_millis(50));
    }
}

/// Builds the busybox images into `dir` (rootfs.tar, image.tar).
fn build_images(dir: &Path, name: &str) {
    require_tool("tar", "tar");
    let script = repo_root().join("scripts/busybox-image.sh");
    assert!(script.is_file(), "{} is missing", script.display());
    let mut cmd = Command::new("bash");
    cmd.arg(&script).arg(dir).arg(name);
    run_ok(cmd);
    for f in ["rootfs.tar", "image.tar"] {
        assert!(dir.join(f).is_file(), "busybox-image.sh made no {f}");
    }
}

/// Live pids (other than ours) with an argument containing `needle`.
fn pids_with_arg(needle: &str) -> Vec<i32> {
    let me = std::process::id();
    let mut pids = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return pids;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let hit = cmdline
            .split(|b| *b == 0)
            .any(|arg| String::from_utf8_lossy(arg).contains(needle));
        let Ok(pid) = i32::try_from(pid) else {
            continue;
        };
        if hit && process_alive(pid) {
            pids.push(pid);
        }
    }
    pids
}

fn signal_all(pids: &[i32], sig: Signal) {
    for &pid in pids {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// Stops every process with an argument containing `needle`: SIGTERM, then
/// SIGKILL after `grace`.
fn stop_processes_with_arg(needle: &str, grace: Duration) {
    signal_all(&pids_with_arg(needle), Signal::SIGTERM);
    if !poll_until(grace, || pids_with_arg(needle).is_empty()) {
        signal_all(&pids_with_arg(needle), Signal::SIGKILL);
        poll_until(Duration::from_secs(5), || pids_with_arg(needle).is_empty());
    }
}

/// Kills every process in cgroup `rel` (and below) of every hierarchy, then
/// removes those cgroup directories, deepest first.
fn remove_cgroup_tree(rel: &str) {
    let rel = rel.trim_start_matches('/');
    if rel.is_empty() {
        return;
    }
    for mount in cgroup_mounts() {
        let top = mount.join(rel);
        if !top.is_dir() {
            continue;
        }
        let mut dirs = Vec::new();
        collect_dirs(&top, &mut dirs);
        // Deepest first.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in &dirs {
            if let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) {
                let pids: Vec<i32> = procs
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect();
                signal_all(&pids, Signal::SIGKILL);
            }
        }
        for dir in &dirs {
            // A cgroup goes only once its processes are reaped.
            poll_until(Duration::from_secs(5), || {
                fs::remove_dir(dir).is_ok() || !dir.exists()
            });
        }
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

/// Mount points at or under `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|mp| PathBuf::from(unescape_mountinfo(mp)))
        .filter(|mp| mp.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// Decodes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape_mountinfo(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lazily unmounts everything at or under `dir` (repeats for stacked mounts).
fn unmount_under(dir: &Path) {
    for _ in 0..5 {
        let mounts = mounts_under(dir);
        if mounts.is_empty() {
            return;
        }
        for mp in mounts {
            let _ = nix::mount::umount2(&mp, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// A private temporary directory, readable by all (containers may run as
/// other users), on the same filesystem as /tmp.
fn private_tempdir(prefix: &str) -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create temporary directory");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Serializes the containerd tests: their shims share /run/containerd/{s,runc}.
fn containerd_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// containerd
// ---------------------------------------------------------------------------

/// Image name used in both engines.
const CTR_IMAGE: &str = "docker.io/library/arca-busybox:latest";

/// A private containerd daemon.
#[derive(Debug)]
struct Containerd {
    // Field order matters for Drop: the daemon goes before the directory.
    daemon: Option<Proc>,
    ctr: PathBuf,
    sock: PathBuf,
    ns: String,
    runtime: PathBuf,
    dir: TempDir,
    /// /run/containerd subdirectories that did not exist before this test.
    created_run_dirs: Vec<PathBuf>,
    _lock: MutexGuard<'static, ()>,
}

impl Containerd {
    fn start() -> Containerd {
        require_root();
        let containerd = require_tool("containerd", "containerd");
        let ctr = require_tool("ctr", "containerd");
        require_tool("containerd-shim-runc-v2", "containerd");
        let runtime = runtime_path();
        let lock = containerd_lock();

        let created_run_dirs = [
            "/run/containerd/s",
            "/run/containerd/runc",
            "/run/containerd/fifo",
            "/run/containerd",
        ]
        .iter()
        .map(PathBuf::from)
        .filter(|p| !p.exists())
        .collect();
        let dir = private_tempdir("arca-ctrd-");
        let d = dir.path();
        let sock = d.join("containerd.sock");
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[cgroup]
  path = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"#,
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = sock.display(),
            opt = d.join("opt").display(),
        );
        let config_path = d.join("config.toml");
        fs::write(&config_path, config).unwrap();

        let mut cmd = Command::new(containerd);
        cmd.arg("--config").arg(&config_path);
        let daemon = Proc::spawn(cmd);
        let mut me = Containerd {
            daemon: Some(daemon),
            ctr,
            sock,
            ns: unique_id("arca-consumers"),
            runtime,
            dir,
            created_run_dirs,
            _lock: lock,
        };
        me.wait_ready();
        me
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.sock.exists() {
                let mut cmd = Command::new(&self.ctr);
                cmd.arg("-a").arg(&self.sock).arg("version");
                if run(cmd).success() {
                    return;
                }
            }
            let daemon = self.daemon.as_ref().unwrap();
            assert!(
                process_alive(daemon.pid()),
                "containerd exited at startup:\n{}",
                daemon.stderr_now()
            );
            assert!(
                Instant::now() < deadline,
                "containerd did not serve {} in time:\n{}",
                self.sock.display(),
                daemon.stderr_now()
            );
            sleep(Duration::from_millis(50));
        }
    }

    /// The daemon's log so far, for failure messages.
    fn log(&self) -> String {
        self.daemon
            .as_ref()
            .map(|d| d.stderr_now())
            .unwrap_or_default()
    }

    /// `ctr -a SOCK -n NS args...`.
    fn ctr_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.ctr);
        cmd.arg("-a")
            .arg(&self.sock)
            .arg("-n")
            .arg(&self.ns)
            .args(args);
        cmd
    }

    fn ctr(&self, args: &[&str]) -> Out {
        run(self.ctr_cmd(args))
    }

    fn ctr_ok(&self, args: &[&str]) -> Out {
        let out = self.ctr(args);
        assert!(
            out.success(),
            "ctr failed: {out}\n--- containerd log ---\n{}",
            self.log()
        );
        out
    }

    /// Imports the busybox image archive.
    fn import_busybox(&self) {
        let images = self.dir.path().join("images");
        build_images(&images, CTR_IMAGE);
        let archive = images.join("image.tar");
        self.ctr_ok(&["image", "import", archive.to_str().unwrap()]);
        let out = self.ctr_ok(&["image", "ls", "-q"]);
        assert!(
            out.stdout.lines().any(|l| l.trim() == CTR_IMAGE),
            "imported image not listed: {out}"
        );
    }

    fn runtime_str(&self) -> &str {
        self.runtime.to_str().expect("utf-8 runtime path")
    }

    /// `ctr task ls` rows as (id, pid, status).
    fn tasks(&self) -> Vec<(String, String, String)> {
        let out = self.ctr_ok(&["task", "ls"]);
        out.stdout
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 3).then(|| (f[0].to_string(), f[1].to_string(), f[2].to_string()))
            })
            .collect()
    }

    fn task_status(&self, id: &str) -> Option<String> {
        self.tasks()
            .into_iter()
            .find(|(tid, _, _)| tid == id)
            .map(|(_, _, status)| status)
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Where the shim tells the runtime to keep its state (`--root`).
    fn runtime_root(&self) -> PathBuf {
        Path::new("/run/containerd/runc").join(&self.ns)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let quick = Duration::from_secs(10);
        // 1. Politely: kill and delete every task and container.
        if let Some(daemon) = &self.daemon {
            if process_alive(daemon.pid()) {
                let mut ls = self.ctr_cmd(&["task", "ls", "-q"]);
                let ids: Vec<String> = ls
                    .stdin(Stdio::null())
                    .stderr(Stdio::null())
                    .output()
                    .map(|o| {
                        String::from_utf8_lossy(&o.stdout)
                            .lines()
                            .map(|l| l.trim().to_string())
                            .filter(|l| !l.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                for id in &ids {
                    run_quiet(
                        self.ctr_cmd(&["task", "kill", "-a", "-s", "SIGKILL", id]),
                        quick,
                    );
                }
                for id in &ids {
                    run_quiet(self.ctr_cmd(&["task", "delete", "-f", id]), quick);
                }
                let mut ls = self.ctr_cmd(&["container", "ls", "-q"]);
                let cids: Vec<String> = ls
                    .stdin(Stdio::null())
                    .stderr(Stdio::null())
                    .output()
                    .map(|o| {
                        String::from_utf8_lossy(&o.stdout)
                            .lines()
                            .map(|l| l.trim().to_string())
                            .filter(|l| !l.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                for id in &cids {
                    run_quiet(self.ctr_cmd(&["container", "delete", id]), quick);
                }
            }
        }
        // 2. The shims' sockets live outside our directory: note them.
        let mut shim_sockets = Vec::new();
        if let Ok(rd) = fs::read_dir(
            self.state_dir()
                .join("io.containerd.runtime.v2.task")
                .join(&self.ns),
        ) {
            for e in rd.flatten() {
                if let Ok(addr) = fs::read_to_string(e.path().join("address")) {
                    if let Some(p) = addr.trim().strip_prefix("unix://") {
                        shim_sockets.push(PathBuf::from(p));
                    }
                }
            }
        }
        // 3. Containers (by cgroup), then the daemon and its shims (by argv).
        remove_cgroup_tree(&self.ns);
        if let Some(daemon) = self.daemon.take() {
            let _ = kill(Pid::from_raw(daemon.pid()), Signal::SIGTERM);
            let pid = daemon.pid();
            poll_until(Duration::from_secs(5), || !process_alive(pid));
            drop(daemon); // SIGKILLs it if still running, and reaps it
        }
        let dir_str = self.dir.path().to_string_lossy().into_owned();
        stop_processes_with_arg(&dir_str, Duration::from_secs(5));
        remove_cgroup_tree(&self.ns);
        // 4. The runtime's state for our namespace.
        let root = self.runtime_root();
        if let Ok(rd) = fs::read_dir(&root) {
            for e in rd.flatten() {
                let mut cmd = Command::new(&self.runtime);
                cmd.arg("--root")
                    .arg(&root)
                    .args(["delete", "--force"])
                    .arg(e.file_name());
                run_quiet(cmd, quick);
            }
        }
        let _ = fs::remove_dir_all(&root);
        for s in shim_sockets {
            let _ = fs::remove_file(s);
        }
        // 5. Mounts (snapshots, rootfs) under our directory, then the
        // /run/containerd directories we caused to exist, if empty.
        unmount_under(self.dir.path());
        for d in &self.created_run_dirs {
            let _ = fs::remove_dir(d);
        }
        // TempDir removes the rest.
    }
}

#[test]
fn containerd_ctr_run_foreground() {
    let c = Containerd::start();
    c.import_busybox();

    let id = unique_id("fg");
    let script = format!("echo {HELLO}; sleep 0.2");
    let out = c.ctr(&[
        "run",
        "--rm",
        "--runc-binary",
        c.runtime_str(),
        CTR_IMAGE,
        &id,
        "sh",
        "-c",
        &script,
    ]);
    assert!(
        out.success(),
        "ctr run failed: {out}\n--- containerd log ---\n{}",
        c.log()
    );
    assert!(
        out.stdout.lines().any(|l| l.trim() == HELLO),
        "ctr run did not print {HELLO}: {out}"
    );

    // The exit code passes through the runtime, shim and ctr.
    let id = unique_id("exit");
    let out = c.ctr(&[
        "run",
        "--rm",
        "--runc-binary",
        c.runtime_str(),
        CTR_IMAGE,
        &id,
        "sh",
        "-c",
        "sleep 0.1; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "expected exit code 3: {out}");

    // A failing create: the shim reports the error the runtime wrote to
    // `--log FILE` (JSON lines, the last `"level":"error"` one's `msg`).
    let id = unique_id("missing");
    let out = c.ctr(&[
        "run",
        "--rm",
        "--runc-binary",
        c.runtime_str(),
        CTR_IMAGE,
        &id,
        "/nonexistent-command",
    ]);
    assert!(!out.success(), "running a missing command succeeded: {out}");
    assert!(
        out.stderr.contains("OCI runtime create failed")
            && out.stderr.contains("/nonexistent-command"),
        "ctr's error does not carry the runtime's message: {out}"
    );
    let _ = c.ctr(&["container", "delete", &id]);

    // --rm removed both.
    assert!(c.tasks().is_empty(), "tasks left: {:?}", c.tasks());
    let out = c.ctr_ok(&["container", "ls", "-q"]);
    assert!(out.stdout.trim().is_empty(), "containers left: {out}");
}

#[test]
fn containerd_ctr_run_detached_exec_kill_delete() {
    let c = Containerd::start();
    c.import_busybox();

    let id = unique_id("det");
    c.ctr_ok(&[
        "run",
        "-d",
        "--runc-binary",
        c.runtime_str(),
        CTR_IMAGE,
        &id,
        "sh",
        "-c",
        TRAP_LOOP,
    ]);
    assert_eq!(
        c.task_status(&id).as_deref(),
        Some("RUNNING"),
        "task ls: {:?}",
        c.tasks()
    );
    let pid: i32 = c
        .tasks()
        .into_iter()
        .find(|(t, _, _)| *t == id)
        .and_then(|(_, pid, _)| pid.parse().ok())
        .expect("task ls shows the init pid");
    assert!(process_alive(pid), "task pid {pid} is not alive");

    // exec goes through `runtime exec --process ... --detach`.
    let out = c.ctr_ok(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        &id,
        "sh",
        "-c",
        "echo exec-ok; sleep 0.2",
    ]);
    assert!(out.stdout.contains("exec-ok"), "exec output: {out}");

    // `ps` goes through `runtime ps --format json`.
    let out = c.ctr_ok(&["task", "ps", &id]);
    assert!(
        out.stdout.contains(&pid.to_string()),
        "task ps does not list {pid}: {out}"
    );

    // SIGTERM (the default) reaches the trap: the task exits on its own.
    c.ctr_ok(&["task", "kill", &id]);
    assert!(
        poll_until(Duration::from_secs(30), || c.task_status(&id).as_deref()
            == Some("STOPPED")),
        "task did not stop after SIGTERM: {:?}",
        c.tasks()
    );
    assert!(
        poll_until(Duration::from_secs(10), || !process_alive(pid)),
        "init pid {pid} still alive after the task stopped"
    );

    c.ctr_ok(&["task", "delete", &id]);
    assert!(
        c.task_status(&id).is_none(),
        "task still listed: {:?}",
        c.tasks()
    );
    c.ctr_ok(&["container", "delete", &id]);
    let out = c.ctr_ok(&["container", "ls", "-q"]);
    assert!(
        !out.stdout.lines().any(|l| l.trim() == id),
        "container still listed: {out}"
    );
    // The runtime removed its state for the container.
    assert!(
        !c.runtime_root().join(&id).exists(),
        "runtime state left in {}",
        c.runtime_root().display()
    );
}

// ---------------------------------------------------------------------------
// Podman
// ---------------------------------------------------------------------------

const PODMAN_IMAGE: &str = "localhost/arca-busybox:latest";

/// A private podman store and configuration.
#[derive(Debug)]
struct Podman {
    podman: PathBuf,
    runtime: PathBuf,
    /// Unique `--cgroup-parent` for every container (conmon goes there too).
    cgroup_parent: String,
    dir: TempDir,
}

impl Podman {
    fn new() -> Podman {
        require_root();
        let podman = require_tool("podman", "podman");
        require_tool("conmon", "conmon");
        let runtime = runtime_path();
        let dir = private_tempdir("arca-podman-");
        let d = dir.path();
        for sub in ["graph", "run", "tmp", "net", "volumes"] {
            fs::create_dir_all(d.join(sub)).unwrap();
        }
        let runtime_name = runtime
            .file_name()
            .and_then(|n| n.to_str())
            .expect("runtime file name")
            .to_string();
        // Podman passes `--log-format=json --log FILE` only to the runtimes it
        // lists here; list ours so the runtime gets runc's full command line.
        let containers_conf = format!(
            r#"[containers]
netns = "none"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{d}/events.log"
tmp_dir = "{d}/tmp"
volume_path = "{d}/volumes"
static_dir = "{d}/graph/libpod"
lock_type = "file"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "{runtime_name}"]

[network]
network_config_dir = "{d}/net"
"#,
            d = d.display(),
        );
        let storage_conf = format!(
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
            d.join("graph").display(),
            d.join("run").display()
        );
        fs::write(d.join("containers.conf"), containers_conf).unwrap();
        fs::write(d.join("storage.conf"), storage_conf).unwrap();
        fs::write(
            d.join("registries.conf"),
            "unqualified-search-registries = []\n",
        )
        .unwrap();
        Podman {
            podman,
            runtime,
            cgroup_parent: format!("/{}", unique_id("arca-consumers")),
            dir,
        }
    }

    /// `podman <private global flags> args...`.
    fn cmd(&self, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut cmd = Command::new(&self.podman);
        cmd.env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", d.join("storage.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", d.join("registries.conf"))
            .env_remove("CONTAINER_HOST")
            .env_remove("CONTAINER_CONNECTION")
            .arg("--root")
            .arg(d.join("graph"))
            .arg("--runroot")
            .arg(d.join("run"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .arg("--runtime")
            .arg(&self.runtime)
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .args(["--storage-driver", "overlay"])
            .args(args);
        cmd
    }

    fn podman(&self, args: &[&str]) -> Out {
        run(self.cmd(args))
    }

    fn podman_ok(&self, args: &[&str]) -> Out {
        let out = self.podman(args);
        out.assert_success();
        out
    }

    /// `podman run` with the flags this machine needs, then `extra`.
    fn run_args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "run",
            "--network",
            "none",
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=32768:32768",
            "--cgroup-parent",
            &self.cgroup_parent,
        ];
        args.extend_from_slice(extra);
        args
    }

    fn import_busybox(&self) {
        let images = self.dir.path().join("images");
        build_images(&images, CTR_IMAGE);
        let tar = images.join("rootfs.tar");
        self.podman_ok(&[
            "import",
            "--change",
            "CMD [\"sh\"]",
            tar.to_str().unwrap(),
            PODMAN_IMAGE,
        ]);
        let out = self.podman_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        assert!(
            out.stdout.lines().any(|l| l.trim() == PODMAN_IMAGE),
            "imported image not listed: {out}"
        );
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        self.podman_ok(&["inspect", "--format", format, name])
            .stdout
            .trim()
            .to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let t = CLEANUP_TIMEOUT;
        run_quiet(self.cmd(&["rm", "--all", "--force", "--time", "0"]), t);
        run_quiet(self.cmd(&["system", "reset", "--force"]), t);
        // conmon and `podman container cleanup` name our directory in argv.
        let dir_str = self.dir.path().to_string_lossy().into_owned();
        if !poll_until(Duration::from_secs(10), || {
            pids_with_arg(&dir_str).is_empty()
        }) {
            stop_processes_with_arg(&dir_str, Duration::from_secs(2));
        }
        remove_cgroup_tree(&self.cgroup_parent);
        unmount_under(self.dir.path());
        // TempDir removes the rest.
    }
}

#[test]
fn podman_run_output_and_exit_code() {
    let p = Podman::new();
    p.import_busybox();

    let script = format!("echo {HELLO}");
    let args = p.run_args(&["--rm", PODMAN_IMAGE, "sh", "-c", &script]);
    let out = p.podman(&args);
    assert!(out.success(), "podman run failed: {out}");
    assert!(
        out.stdout.lines().any(|l| l.trim() == HELLO),
        "podman run did not print {HELLO}: {out}"
    );

    let args = p.run_args(&["--rm", PODMAN_IMAGE, "sh", "-c", "exit 3"]);
    let out = p.podman(&args);
    assert_eq!(out.status.code(), Some(3), "expected exit code 3: {out}");

    // A missing command: podman reads the runtime's error (from the `--log`
    // JSON file) and maps "no such file or directory" to 127.
    let args = p.run_args(&["--rm", PODMAN_IMAGE, "/nonexistent-command"]);
    let out = p.podman(&args);
    assert_eq!(
        out.status.code(),
        Some(127),
        "expected exit code 127: {out}"
    );
    assert!(
        out.stderr.contains("/nonexistent-command"),
        "podman's error does not carry the runtime's message: {out}"
    );

    let out = p.podman_ok(&["ps", "--all", "--quiet"]);
    assert!(out.stdout.trim().is_empty(), "--rm left containers: {out}");
}

#[test]
fn podman_run_with_terminal() {
    let p = Podman::new();
    p.import_busybox();

    // -t: conmon hands the runtime a --console-socket and gets the pty master.
    let args = p.run_args(&["--rm", "-t", PODMAN_IMAGE, "sh", "-c", "tty; echo hi"]);
    let out = p.podman(&args);
    assert!(out.success(), "podman run -t failed: {out}");
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert!(
        lines.iter().any(|l| l.starts_with("/dev/pts/")),
        "tty did not print a /dev/pts path: {out}"
    );
    assert!(lines.contains(&"hi"), "no output after tty: {out}");
}

#[test]
fn podman_detached_exec_stop_rm() {
    let p = Podman::new();
    p.import_busybox();

    let name = unique_id("det");
    let args = p.run_args(&["-d", "--name", &name, PODMAN_IMAGE, "sh", "-c", TRAP_LOOP]);
    let out = p.podman_ok(&args);
    let cid = out.stdout.trim().to_string();
    assert!(!cid.is_empty(), "podman run -d printed no id: {out}");
    assert_eq!(p.inspect(&name, "{{.State.Status}}"), "running");
    let pid: i32 = p
        .inspect(&name, "{{.State.Pid}}")
        .parse()
        .expect("State.Pid");
    assert!(
        pid > 0 && process_alive(pid),
        "container pid {pid} not alive"
    );

    let out = p.podman_ok(&["exec", &name, "sh", "-c", "echo exec-ok"]);
    assert!(out.stdout.contains("exec-ok"), "exec output: {out}");

    let out = p.podman_ok(&["logs", &name]);
    assert!(out.stdout.contains("ready"), "logs: {out}");

    // The trap makes SIGTERM end it with 0; a SIGKILL after the timeout
    // would give 137.
    p.podman_ok(&["stop", "--time", "20", &name]);
    assert_eq!(p.inspect(&name, "{{.State.Status}}"), "exited");
    assert_eq!(p.inspect(&name, "{{.State.ExitCode}}"), "0");
    assert!(
        poll_until(Duration::from_secs(10), || !process_alive(pid)),
        "container pid {pid} alive after stop"
    );

    p.podman_ok(&["rm", &name]);
    let out = p.podman_ok(&["ps", "--all", "--quiet"]);
    assert!(
        out.stdout.trim().is_empty(),
        "containers left after rm: {out}"
    );
}

// ---------------------------------------------------------------------------
// Console socket handshake
// ---------------------------------------------------------------------------

/// Receives one fd sent with SCM_RIGHTS on `sock`.
fn recv_fd(sock: RawFd) -> OwnedFd {
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<UnixAddr>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
        .expect("recvmsg on the console socket");
    let mut fds = Vec::new();
    for c in msg.cmsgs().expect("parse control messages") {
        if let ControlMessageOwned::ScmRights(received) = c {
            fds.extend(received);
        }
    }
    assert_eq!(
        fds.len(),
        1,
        "expected exactly one fd over the console socket, got {fds:?}"
    );
    #[allow(unsafe_code)]
    // SAFETY: SCM_RIGHTS just installed this fd in our table; nothing else
    // owns it, so the OwnedFd is its only owner.
    let fd = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    fd
}

/// Reads from the pty master until `done(output)`, EOF/EIO, or `timeout`.
fn read_pty(master: &fs::File, timeout: Duration, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut reader = master;
    loop {
        if done(&String::from_utf8_lossy(&out)) || Instant::now() > deadline {
            break;
        }
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u8)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => panic!("poll on the pty master: {e}"),
        }
        let mut buf = [0u8; 4096];
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted || e.kind() == ErrorKind::WouldBlock => {}
            // EIO: every slave end is closed.
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EIO as i32) => break,
            Err(e) => panic!("read from the pty master: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn console_socket_handshake() {
    require_root();
    let bundle = Bundle::busybox(&["sh", "-c", "tty; echo hi"]);
    bundle.edit(|c| c["process"]["terminal"] = serde_json::Value::Bool(true));
    let rt = Runtime::new();

    let sock_dir = private_tempdir("arca-console-");
    let sock_path = sock_dir.path().join("console.sock");
    let listener = UnixListener::bind(&sock_path).expect("bind console socket");

    let id = unique_id("console");
    rt.track(&id);
    let create = rt.spawn(&[
        "create",
        "--bundle",
        bundle.path_str(),
        "--console-socket",
        sock_path.to_str().unwrap(),
        &id,
    ]);
    // Wait for the runtime to connect (or for create to fail).
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if !process_alive(create.pid()) {
                    let out = create.wait();
                    panic!("create ended without connecting to the console socket: {out}");
                }
                assert!(
                    Instant::now() < deadline,
                    "create never connected to the console socket"
                );
                sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept on the console socket: {e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    let master = fs::File::from(recv_fd(stream.as_raw_fd()));
    drop(stream);
    let out = create.wait();
    assert!(out.success(), "create --console-socket failed: {out}");
    assert_eq!(rt.status(&id), "created");

    assert!(
        nix::sys::termios::tcgetattr(&master).is_ok(),
        "the fd received over the console socket is not a terminal"
    );

    rt.run_ok(&["start", &id]);
    let text = read_pty(&master, Duration::from_secs(30), |s| {
        s.lines().any(|l| l.trim_end_matches('\r') == "hi")
    });
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    // runc opens the pty from the container's own devpts, so `tty` names it
    // there (runc also bind-mounts it on /dev/console).
    assert_eq!(
        lines.first().copied(),
        Some("/dev/pts/0"),
        "tty in the container printed {text:?}"
    );
    assert!(lines.contains(&"hi"), "no 'hi' on the terminal: {text:?}");

    rt.wait_status(&id, "stopped");
    rt.run_ok(&["delete", &id]);
    rt.assert_no_state(&id);
    drop(master);
    bundle.assert_gone();
}
