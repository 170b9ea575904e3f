//! Tests against the host's real cgroups. They need root (CI runs as root) and fail loudly
//! otherwise rather than skipping. Each test uses its own `/arca-test-<pid>-<n>` cgroup, so they
//! run in parallel, and a guard kills and removes everything even when an assertion fails.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arca_cgroups::{detect, own_cgroup_path, Cgroup, Hierarchy};
use nix::sys::signal::Signal;
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};

/// Kills the test's processes and removes its cgroups however the test ends.
struct Guard {
    cgroups: Vec<Cgroup>,
    children: Vec<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Deepest first: the leaf, then the ancestors the test created.
        for cg in self.cgroups.iter().rev() {
            let _ = cg.kill_all(Signal::SIGKILL);
            let _ = cg.remove();
        }
    }
}

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the arca-cgroups host tests create cgroups under /sys/fs/cgroup and must run as root"
    );
}

/// A cgroup path no other test (or test process) uses.
fn unique_path() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(format!("/arca-test-{}-{n}", std::process::id()))
}

fn sleeper() -> Child {
    Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("spawning sleep")
}

fn pid(child: &Child) -> i32 {
    i32::try_from(child.id()).expect("pid fits in i32")
}

/// The trimmed content of `controller`'s `file` for this cgroup.
fn read(cg: &Cgroup, controller: &str, file: &str) -> String {
    let dir = cg
        .controller_dir(controller)
        .unwrap_or_else(|| panic!("no {controller} controller"));
    let path = dir.join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// Every host directory of the cgroup.
fn all_dirs(cg: &Cgroup) -> Vec<PathBuf> {
    let v1 = cg.v1_dirs().into_iter().map(|(_, d)| d);
    v1.chain(cg.unified_dir()).collect()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn detect_matches_mounts_and_own_path_is_absolute() {
    let cg = Cgroup::open(&unique_path()).unwrap();
    assert_eq!(detect().unwrap(), cg.hierarchy());
    assert!(own_cgroup_path().unwrap().is_absolute());
    assert_eq!(
        cg.unified_dir().is_some(),
        cg.hierarchy() != Hierarchy::Legacy
    );
    assert_eq!(
        cg.v1_dirs().is_empty(),
        cg.hierarchy() == Hierarchy::Unified
    );
}

#[test]
fn lifecycle_with_memory_and_pids_limits() {
    require_root();
    let cg = Cgroup::open(&unique_path()).unwrap();
    let mut guard = Guard {
        cgroups: vec![cg.clone()],
        children: Vec::new(),
    };
    cg.create().unwrap();
    assert!(cg.exists());
    for dir in all_dirs(&cg) {
        assert!(dir.is_dir(), "{}", dir.display());
    }

    let mut memory = LinuxMemory::default();
    memory.set_limit(Some(64 << 20));
    let mut pids = LinuxPids::default();
    pids.set_limit(10);
    let mut r = LinuxResources::default();
    r.set_memory(Some(memory));
    r.set_pids(Some(pids));
    cg.apply(&r).unwrap();
    if cg.hierarchy() == Hierarchy::Unified {
        assert_eq!(read(&cg, "memory", "memory.max"), "67108864");
    } else {
        assert_eq!(read(&cg, "memory", "memory.limit_in_bytes"), "67108864");
    }
    assert_eq!(read(&cg, "pids", "pids.max"), "10");

    guard.children.push(sleeper());
    let child = pid(&guard.children[0]);
    cg.add_pid(child).unwrap();
    assert_eq!(cg.pids().unwrap(), [child]);

    cg.kill_all(Signal::SIGKILL).unwrap();
    let status = guard.children[0].wait().unwrap();
    assert_eq!(status.signal(), Some(Signal::SIGKILL as i32));
    wait_for("an empty cgroup", || cg.pids().is_ok_and(|p| p.is_empty()));

    cg.remove().unwrap();
    assert!(!cg.exists());
    for dir in all_dirs(&cg) {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn nested_cgroup_accepts_processes_and_cpu_limits() {
    require_root();
    let parent = unique_path();
    let parent_cg = Cgroup::open(&parent).unwrap();
    let cg = Cgroup::open(&parent.join("ctr")).unwrap();
    let mut guard = Guard {
        cgroups: vec![parent_cg.clone(), cg.clone()],
        children: Vec::new(),
    };
    cg.create().unwrap();
    assert!(parent_cg.exists());
    if cg.hierarchy() != Hierarchy::Unified {
        // A new v1 cpuset cgroup refuses processes until cpus/mems are filled in.
        assert!(!read(&cg, "cpuset", "cpuset.cpus").is_empty());
        assert!(!read(&cg, "cpuset", "cpuset.mems").is_empty());
    }

    let mut cpu = LinuxCpu::default();
    cpu.set_shares(Some(512));
    cpu.set_quota(Some(20_000));
    cpu.set_period(Some(100_000));
    let mut r = LinuxResources::default();
    r.set_cpu(Some(cpu));
    cg.apply(&r).unwrap();
    if cg.hierarchy() == Hierarchy::Unified {
        assert_eq!(read(&cg, "cpu", "cpu.max"), "20000 100000");
        assert_eq!(read(&cg, "cpu", "cpu.weight"), "20");
    } else {
        assert_eq!(read(&cg, "cpu", "cpu.cfs_quota_us"), "20000");
        assert_eq!(read(&cg, "cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(read(&cg, "cpu", "cpu.shares"), "512");
    }

    guard.children.push(sleeper());
    let child = pid(&guard.children[0]);
    cg.add_pid(child).unwrap();
    // The parent lists its descendants' processes too.
    assert_eq!(parent_cg.pids().unwrap(), [child]);

    // A catchable signal goes to each pid.
    cg.kill_all(Signal::SIGTERM).unwrap();
    let status = guard.children[0].wait().unwrap();
    assert_eq!(status.signal(), Some(Signal::SIGTERM as i32));

    cg.remove().unwrap();
    assert!(!cg.exists());
    assert!(parent_cg.exists(), "remove must leave the parent");
    parent_cg.remove().unwrap();
    for dir in all_dirs(&parent_cg) {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn kill_all_gets_forked_children() {
    require_root();
    let cg = Cgroup::open(&unique_path()).unwrap();
    let mut guard = Guard {
        cgroups: vec![cg.clone()],
        children: Vec::new(),
    };
    cg.create().unwrap();
    // The shell forks its two sleepers only once it is in the cgroup (after reading a line).
    let shell = Command::new("sh")
        .args(["-c", "read x; sleep 30 & sleep 30 & wait"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawning sh");
    guard.children.push(shell);
    cg.add_pid(pid(&guard.children[0])).unwrap();
    let stdin = guard.children[0].stdin.as_mut().unwrap();
    stdin.write_all(b"go\n").unwrap();
    wait_for("three processes", || cg.pids().is_ok_and(|p| p.len() == 3));

    cg.kill_all(Signal::SIGKILL).unwrap();
    guard.children[0].wait().unwrap();
    // The sleepers are reaped by init; they leave the cgroup once dead.
    wait_for("an empty cgroup", || cg.pids().is_ok_and(|p| p.is_empty()));
    cg.remove().unwrap();
    assert!(!cg.exists());
    for dir in all_dirs(&cg) {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}
