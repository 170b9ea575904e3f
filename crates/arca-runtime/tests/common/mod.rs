//! Shared support for arca-runtime's integration tests.
//!
//! Every test drives the runtime binary through its runc-compatible command
//! line. The binary is `$ARCA_TEST_RUNTIME` if set (e.g. `/usr/sbin/runc`, to
//! check the tests themselves against runc), else the `arca-runtime` that cargo
//! built for this test run.
//!
//! Cleanup: [`Runtime`]'s `Drop` force-deletes every container under its
//! `--root`; [`Bundle`]'s `Drop` removes leftover cgroup dirs and kills
//! leftover container processes. Declare the bundle before the runtime so the
//! runtime is dropped (containers deleted) first.
//!
//! The stdout/stderr of every command go to files, never pipes: a container
//! started by `create` or `run -d` inherits them and would keep a pipe open.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod user;
pub mod vm;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

/// Longest a single runtime command may run before the test gives up on it.
/// A guard against hangs, not an assertion about speed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest [`wait_for`] polls.
const WAIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Parent of every test container's cgroup (`linux.cgroupsPath`).
pub const CGROUP_PARENT: &str = "/arca-test";

/// The runtime binary under test.
pub fn runtime() -> PathBuf {
    match std::env::var_os("ARCA_TEST_RUNTIME") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_arca-runtime")),
    }
}

/// Whether the runtime under test is runc (used to guard arca-specific
/// assertions where runc's behaviour differs).
pub fn is_runc() -> bool {
    static IS_RUNC: OnceLock<bool> = OnceLock::new();
    *IS_RUNC.get_or_init(|| {
        let rt = runtime();
        if rt.file_name().is_some_and(|n| n == "runc") {
            return true;
        }
        Command::new(&rt)
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).starts_with("runc version"))
            .unwrap_or(false)
    })
}

/// A name unique to this test process and call: `<prefix>-<pid>-<n>`.
pub fn unique_id(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Polls `cond` until it holds; panics naming `what` if it never does.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT_TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(20));
    }
}

fn busybox_host() -> &'static Path {
    static BB: OnceLock<PathBuf> = OnceLock::new();
    BB.get_or_init(|| {
        let p = ["/bin/busybox", "/usr/bin/busybox"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("busybox not found: apt-get install busybox-static");
        p
    })
}

fn busybox_applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = Command::new(busybox_host())
            .arg("--list")
            .output()
            .expect("run busybox --list");
        assert!(out.status.success(), "busybox --list failed");
        let list: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty() && *a != "busybox")
            .map(String::from)
            .collect();
        assert!(list.iter().any(|a| a == "sh"), "busybox has no sh applet");
        list
    })
}

/// An OCI bundle in a temporary directory, equal to `runc spec`'s default
/// (see scripts/busybox-bundle.sh) except: `terminal` is false, `args` are the
/// given ones, `linux.cgroupsPath` is a unique `/arca-test/<name>`, and the env
/// carries `ARCA_TEST_MARK=<name>` so leftover processes can be found.
#[derive(Debug)]
pub struct Bundle {
    dir: TempDir,
    name: String,
}

impl Bundle {
    /// A bundle whose rootfs holds a static busybox and its applets.
    pub fn busybox(args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("arca-bundle-")
            .tempdir()
            .expect("create bundle dir");
        // Readable by everyone: a user-namespaced container must reach it.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let rootfs = dir.path().join("rootfs");
        for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root"] {
            fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        fs::copy(busybox_host(), rootfs.join("bin/busybox")).expect("copy busybox");
        for applet in busybox_applets() {
            symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .unwrap();
        fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n",
        )
        .unwrap();
        let name = unique_id("b");
        let mut config = default_spec(args);
        config["linux"]["cgroupsPath"] = json!(format!("{CGROUP_PARENT}/{name}"));
        config["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!(format!("ARCA_TEST_MARK={name}")));
        let bundle = Bundle { dir, name };
        bundle.write_config(&config);
        bundle
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The bundle path as a `&str`, for command lines.
    pub fn path_str(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 temp path")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("config.json")
    }

    /// The current config.json.
    pub fn config(&self) -> Value {
        let text = fs::read_to_string(self.config_path()).expect("read config.json");
        serde_json::from_str(&text).expect("parse config.json")
    }

    /// Edits config.json in place.
    pub fn edit(&self, f: impl FnOnce(&mut Value)) {
        let mut config = self.config();
        f(&mut config);
        self.write_config(&config);
    }

    fn write_config(&self, config: &Value) {
        let text = serde_json::to_string_pretty(config).unwrap();
        fs::write(self.config_path(), text).expect("write config.json");
    }

    /// The `linux.cgroupsPath` this bundle was made with.
    pub fn cgroup_path(&self) -> String {
        format!("{CGROUP_PARENT}/{}", self.name)
    }

    /// The marker in the container's env (`ARCA_TEST_MARK=<mark>`).
    pub fn mark(&self) -> &str {
        &self.name
    }

    /// The cgroup directories of this bundle's cgroupsPath that exist, in
    /// every mounted cgroup hierarchy (v1 controllers and cgroup2).
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        let rel = self.cgroup_path();
        cgroup_mounts()
            .into_iter()
            .map(|m| m.join(rel.trim_start_matches('/')))
            .filter(|p| p.exists())
            .collect()
    }

    /// The container's directory in the v1 hierarchy carrying `controller` (mount point named
    /// `memory`, `cpu,cpuacct`, ...), or its cgroup2 directory on a unified host.
    pub fn controller_dir(&self, controller: &str) -> PathBuf {
        if is_unified() {
            return self.cgroup_dirs().remove(0);
        }
        self.cgroup_dirs()
            .into_iter()
            .find(|d| {
                d.strip_prefix("/sys/fs/cgroup").is_ok_and(|rel| {
                    rel.components().next().is_some_and(|c| {
                        c.as_os_str()
                            .to_str()
                            .is_some_and(|s| s.split(',').any(|p| p == controller))
                    })
                })
            })
            .unwrap_or_else(|| panic!("no {controller} cgroup dir in {:?}", self.cgroup_dirs()))
    }

    /// Pids of live processes carrying this bundle's env marker.
    pub fn processes(&self) -> Vec<i32> {
        let needle = format!("ARCA_TEST_MARK={}", self.name);
        let mut pids = Vec::new();
        let Ok(entries) = fs::read_dir("/proc") else {
            return pids;
        };
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(env) = fs::read(e.path().join("environ")) else {
                continue;
            };
            if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) && process_alive(pid) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Asserts no cgroup dir and no process of this bundle is left.
    pub fn assert_gone(&self) {
        let dirs = self.cgroup_dirs();
        assert!(dirs.is_empty(), "cgroup dirs left behind: {dirs:?}");
        let procs = self.processes();
        assert!(
            procs.is_empty(),
            "container processes left behind: {procs:?}"
        );
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for pid in self.processes() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        for dir in self.cgroup_dirs() {
            if let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            // A cgroup only goes once its processes are reaped.
            let deadline = Instant::now() + Duration::from_secs(5);
            while fs::remove_dir(&dir).is_err() && Instant::now() < deadline {
                sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Mount points of every cgroup (v1) and cgroup2 hierarchy.
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    let mut out = BTreeSet::new();
    for line in info.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let fstype = post.split(' ').next().unwrap_or("");
        if fstype == "cgroup" || fstype == "cgroup2" {
            if let Some(mp) = pre.split(' ').nth(4) {
                out.insert(PathBuf::from(mp));
            }
        }
    }
    out.into_iter().collect()
}

/// Whether `pid` exists and is not a zombie.
pub fn process_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the last ')' (the command name may hold one).
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// The namespace inode (`net:[123]`) of `/proc/<pid>/ns/<ns>`.
pub fn ns_link(pid: i32, ns: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{ns}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// What a finished command printed, and how it ended.
#[derive(Debug)]
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The command line, for messages.
    pub cmdline: String,
}

impl Out {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code; panics if the command was killed by a signal.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("{} ended by a signal: {self}", self.cmdline))
    }

    pub fn assert_success(&self) -> &Self {
        assert!(self.success(), "command failed: {self}");
        self
    }

    /// Asserts a non-zero exit and returns stderr.
    pub fn assert_failure(&self) -> &str {
        assert!(!self.success(), "command unexpectedly succeeded: {self}");
        &self.stderr
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` -> {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline, self.status, self.stdout, self.stderr
        )
    }
}

/// A runtime command still running; its stdout and stderr go to files.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    dir: TempDir,
    cmdline: String,
}

impl Proc {
    /// Spawns `cmd` with stdin from /dev/null and stdout/stderr to files.
    pub fn spawn(mut cmd: Command) -> Proc {
        let dir = tempfile::Builder::new()
            .prefix("arca-out-")
            .tempdir()
            .unwrap();
        let out = fs::File::create(dir.path().join("stdout")).unwrap();
        let err = fs::File::create(dir.path().join("stderr")).unwrap();
        let cmdline = format!("{cmd:?}");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
        Proc {
            child,
            dir,
            cmdline,
        }
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    /// What it printed on stdout so far.
    pub fn stdout_now(&self) -> String {
        read_lossy(&self.dir.path().join("stdout"))
    }

    pub fn stderr_now(&self) -> String {
        read_lossy(&self.dir.path().join("stderr"))
    }

    /// Waits for the end (killing it after [`COMMAND_TIMEOUT`]).
    pub fn wait(mut self) -> Out {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "`{}` did not finish in {COMMAND_TIMEOUT:?}\nstdout: {}\nstderr: {}",
                    self.cmdline,
                    self.stdout_now(),
                    self.stderr_now()
                );
            }
            sleep(Duration::from_millis(10));
        };
        Out {
            status,
            stdout: self.stdout_now(),
            stderr: self.stderr_now(),
            cmdline: self.cmdline.clone(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_lossy(path: &Path) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The runtime with its own `--root` state directory.
#[derive(Debug)]
pub struct Runtime {
    root: TempDir,
    ids: Mutex<Vec<String>>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    pub fn new() -> Runtime {
        let root = tempfile::Builder::new()
            .prefix("arca-root-")
            .tempdir()
            .expect("create --root dir");
        Runtime {
            root,
            ids: Mutex::new(Vec::new()),
        }
    }

    /// The `--root` directory.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// `runtime --root ROOT args...`.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(runtime());
        cmd.arg("--root").arg(self.root()).args(args);
        cmd
    }

    /// Runs `runtime --root ROOT args...` to the end.
    pub fn output<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Out {
        Proc::spawn(self.cmd(args)).wait()
    }

    /// Like [`Runtime::output`], asserting success.
    pub fn run_ok<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Out {
        let out = self.output(args);
        out.assert_success();
        out
    }

    /// Spawns `runtime --root ROOT args...` without waiting.
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Proc {
        Proc::spawn(self.cmd(args))
    }

    /// Remembers `id` so that `Drop` deletes it.
    pub fn track(&self, id: &str) {
        self.ids.lock().unwrap().push(id.to_string());
    }

    /// `create --bundle B ID`, asserting success.
    pub fn create(&self, bundle: &Bundle, id: &str) -> Out {
        self.track(id);
        self.run_ok(&["create", "--bundle", bundle.path_str(), id])
    }

    /// `run -d --bundle B ID`, asserting success.
    pub fn run_detached(&self, bundle: &Bundle, id: &str) -> Out {
        self.track(id);
        self.run_ok(&["run", "-d", "--bundle", bundle.path_str(), id])
    }

    /// `run --bundle B ID` in the foreground, to the end (any exit code).
    pub fn run_fg(&self, bundle: &Bundle, id: &str) -> Out {
        self.track(id);
        self.output(&["run", "--bundle", bundle.path_str(), id])
    }

    /// Runs a fresh container from `bundle` in the foreground and returns
    /// what it printed on stdout, asserting it exited 0.
    pub fn run_stdout(&self, bundle: &Bundle) -> String {
        let id = unique_id("run");
        let out = self.run_fg(bundle, &id);
        out.assert_success();
        // The foreground run deletes the container itself.
        self.assert_no_state(&id);
        out.stdout
    }

    /// `state ID` parsed, asserting success.
    pub fn state(&self, id: &str) -> Value {
        let out = self.run_ok(&["state", id]);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state output is not JSON ({e}): {out}"))
    }

    /// The `status` field of `state ID`.
    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .expect("state has a status string")
            .to_string()
    }

    /// The init pid from `state ID`.
    pub fn pid(&self, id: &str) -> i32 {
        let pid = self.state(id)["pid"].as_i64().expect("state has a pid");
        i32::try_from(pid).unwrap()
    }

    /// Waits until `state ID` shows `status`.
    pub fn wait_status(&self, id: &str, status: &str) {
        wait_for(&format!("{id} to be {status}"), || {
            let out = self.output(&["state", id]);
            out.success()
                && serde_json::from_str::<Value>(&out.stdout)
                    .ok()
                    .is_some_and(|v| v["status"] == status)
        });
    }

    /// Asserts `--root` has nothing left for `id`.
    pub fn assert_no_state(&self, id: &str) {
        let left: Vec<_> = fs::read_dir(self.root())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.contains(id))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "state left under --root for {id}: {left:?}"
        );
    }

    fn known_ids(&self) -> BTreeSet<String> {
        let mut ids: BTreeSet<String> = self.ids.lock().unwrap().iter().cloned().collect();
        if let Ok(rd) = fs::read_dir(self.root()) {
            ids.extend(
                rd.flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned()),
            );
        }
        let out = self.output(&["list", "-q"]);
        if out.success() {
            ids.extend(out.stdout.lines().map(|l| l.trim().to_string()));
        }
        ids.retain(|id| !id.is_empty());
        ids
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for id in self.known_ids() {
            let _ = Proc::spawn(self.cmd(["delete", "--force", &id])).wait();
        }
    }
}

/// Whether the host is pure cgroup v2.
pub fn is_unified() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// A (small) file's content without surrounding whitespace; panics naming the file.
pub fn read_trim(p: &Path) -> String {
    fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

/// `ip netns add NAME`, deleted again on drop.
#[derive(Debug)]
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new() -> NetNs {
        let name = unique_id("arca-ns");
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("run `ip netns add` (apt-get install iproute2)");
        assert!(st.success(), "ip netns add {name} failed");
        NetNs { name }
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/var/run/netns").join(&self.name)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

/// A host mount, unmounted (lazily) on drop.
#[derive(Debug)]
pub struct HostMount {
    pub target: PathBuf,
}

impl HostMount {
    /// `mount -t tmpfs tmpfs TARGET`.
    pub fn tmpfs(target: &Path) -> HostMount {
        fs::create_dir_all(target).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "tmpfs"])
            .arg(target)
            .status()
            .expect("run mount");
        assert!(st.success(), "mount tmpfs on {} failed", target.display());
        HostMount {
            target: target.to_path_buf(),
        }
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.target).status();
    }
}

/// Case-insensitive: does `haystack` contain any of `needles`?
pub fn contains_any(haystack: &str, needles: &[&str]) -> bool {
    let h = haystack.to_lowercase();
    needles.iter().any(|n| h.contains(&n.to_lowercase()))
}

/// `runc spec`'s default config.json with `terminal: false` and `args`.
pub fn default_spec(args: &[&str]) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": args,
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
                "ambient": caps
            },
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "runc",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// Adds a mount to the spec (after the defaults).
pub fn add_mount(config: &mut Value, mount: Value) {
    config["mounts"].as_array_mut().unwrap().push(mount);
}

/// Sets `process.args`.
pub fn set_args(config: &mut Value, args: &[&str]) {
    config["process"]["args"] = json!(args);
}

/// `runtime --root ROOT args...` started by `sh -c '<setup>; exec runtime ...'`,
/// so the runtime inherits exactly the fds `setup` opened (e.g.
/// `exec 5<"$HOST_DIR"`, no close-on-exec), as a careless caller would leave
/// them.
pub fn run_with_fds(rt: &Runtime, setup: &str, host_dir: &Path, args: &[&str]) -> Out {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("{setup}; exec \"$0\" \"$@\""))
        .arg(runtime())
        .arg("--root")
        .arg(rt.root())
        .args(args)
        .env("HOST_DIR", host_dir);
    Proc::spawn(cmd).wait()
}

/// (fd, link target) for each entry of busybox `ls -l /proc/self/fd`; the
/// target is empty when ls could not read the link (its own directory fd).
pub fn fd_entries(ls: &str) -> Vec<(u32, String)> {
    ls.lines()
        .filter(|l| l.starts_with('l'))
        .filter_map(|l| {
            let toks: Vec<&str> = l.split_whitespace().collect();
            match toks.iter().position(|t| *t == "->") {
                Some(i) if i > 0 => Some((toks[i - 1].parse().ok()?, toks[i + 1..].join(" "))),
                _ => Some((toks.last()?.parse().ok()?, String::new())),
            }
        })
        .collect()
}

/// The value of `Key:` in /proc/<pid>/status text.
pub fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {status}"))
        .trim()
}
