//! Unit tests on fake cgroup trees in a temporary directory: the kernel's part (control files
//! appearing on mkdir) is simulated by creating the files the code is expected to write.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory, LinuxPids, LinuxResources,
};

use super::*;

mod resources;

/// A legacy host with only a memory hierarchy, and its cgroup /c1 already made.
fn v1_memory_only(root: &Path) -> Cgroup {
    fs::create_dir_all(root.join("memory/c1")).unwrap();
    Cgroup::open_with_mounts(
        Path::new("/c1"),
        vec![Mount::v1(root.join("memory"), &["memory"])],
    )
    .unwrap()
}

/// Creates `dir` with the given control files, as the kernel would on mkdir.
fn kernel_files(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        fs::write(dir.join(name), content).unwrap();
    }
}

fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// A hybrid host: v1 controllers (cpu and cpuacct co-mounted), a named systemd hierarchy and a
/// cgroup2 tree at `unified`.
fn hybrid_tree(root: &Path) -> Vec<Mount> {
    kernel_files(
        &root.join("cpuset"),
        &[("cpuset.cpus", "0-3\n"), ("cpuset.mems", "0\n")],
    );
    let mut mounts = vec![Mount::v1(root.join("cpuset"), &["cpuset"])];
    for (dir, controllers) in [
        ("cpu,cpuacct", &["cpu", "cpuacct"][..]),
        ("memory", &["memory"]),
        ("pids", &["pids"]),
        ("devices", &["devices"]),
        ("systemd", &["name=systemd"]),
    ] {
        fs::create_dir_all(root.join(dir)).unwrap();
        mounts.push(Mount::v1(root.join(dir), controllers));
    }
    fs::create_dir_all(root.join("unified")).unwrap();
    mounts.push(Mount::v2(root.join("unified")));
    mounts
}

/// A unified host: root offers the usual controllers and has delegated none yet.
fn unified_tree(root: &Path) -> Vec<Mount> {
    kernel_files(
        root,
        &[
            (
                "cgroup.controllers",
                "cpuset cpu io memory hugetlb pids rdma misc\n",
            ),
            ("cgroup.subtree_control", ""),
        ],
    );
    vec![Mount::v2(root)]
}

fn resources() -> LinuxResources {
    let mut memory = LinuxMemory::default();
    memory.set_limit(Some(64 << 20));
    memory.set_swap(Some(128 << 20));
    memory.set_reservation(Some(32 << 20));
    let mut cpu = LinuxCpu::default();
    cpu.set_shares(Some(1024));
    cpu.set_quota(Some(50_000));
    cpu.set_period(Some(100_000));
    cpu.set_cpus(Some("0-1".into()));
    cpu.set_mems(Some("0".into()));
    let mut pids = LinuxPids::default();
    pids.set_limit(10);
    let mut r = LinuxResources::default();
    r.set_memory(Some(memory));
    r.set_cpu(Some(cpu));
    r.set_pids(Some(pids));
    r
}

fn device(
    allow: bool,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
) -> LinuxDeviceCgroup {
    let mut d = LinuxDeviceCgroup::default();
    d.set_allow(allow);
    d.set_typ(Some(typ));
    d.set_major(major);
    d.set_minor(minor);
    d.set_access(Some("rwm".into()));
    d
}

#[test]
fn rejects_bad_paths() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in ["relative/x", "/a/../../etc", "/", "//./"] {
        let err = Cgroup::open_with_mounts(Path::new(bad), unified_tree(tmp.path()));
        assert!(
            matches!(err, Err(CgroupError::InvalidPath { .. })),
            "{bad}: {err:?}"
        );
    }
    let cg = Cgroup::open_with_mounts(Path::new("//arca/./c1/"), unified_tree(tmp.path())).unwrap();
    assert_eq!(cg.path(), Path::new("/arca/c1"));
    assert!(Cgroup::open_with_mounts(Path::new("/a"), Vec::new()).is_err());
}

#[test]
fn v1_create_makes_every_hierarchy_and_fills_cpuset() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cg = Cgroup::open_with_mounts(Path::new("/arca/c1"), hybrid_tree(root)).unwrap();
    assert_eq!(cg.hierarchy(), Hierarchy::Hybrid);
    // New v1 cpuset cgroups start with empty cpus/mems.
    for dir in ["cpuset/arca", "cpuset/arca/c1"] {
        kernel_files(
            &root.join(dir),
            &[("cpuset.cpus", "\n"), ("cpuset.mems", "\n")],
        );
    }
    assert!(!cg.exists());
    cg.create().unwrap();
    assert!(cg.exists());
    for dir in [
        "cpu,cpuacct",
        "memory",
        "pids",
        "devices",
        "systemd",
        "unified",
    ] {
        assert!(root.join(dir).join("arca/c1").is_dir(), "{dir}");
    }
    assert_eq!(read(root.join("cpuset/arca/cpuset.cpus")), "0-3");
    assert_eq!(read(root.join("cpuset/arca/c1/cpuset.cpus")), "0-3");
    assert_eq!(read(root.join("cpuset/arca/c1/cpuset.mems")), "0");
    assert_eq!(cg.unified_dir(), Some(root.join("unified/arca/c1")));
    assert_eq!(
        cg.controller_dir("cpuacct"),
        Some(root.join("cpu,cpuacct/arca/c1"))
    );
    let names: Vec<String> = cg.v1_dirs().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "cpuset",
            "cpu,cpuacct",
            "memory",
            "pids",
            "devices",
            "systemd"
        ]
    );

    // Removing leaves the shared parent alone.
    fs::remove_file(root.join("cpuset/arca/c1/cpuset.cpus")).unwrap();
    fs::remove_file(root.join("cpuset/arca/c1/cpuset.mems")).unwrap();
    fs::create_dir(root.join("memory/arca/c1/nested")).unwrap();
    cg.remove().unwrap();
    assert!(!cg.exists());
    for dir in [
        "cpuset",
        "cpu,cpuacct",
        "memory",
        "pids",
        "devices",
        "systemd",
        "unified",
    ] {
        assert!(!root.join(dir).join("arca/c1").exists(), "{dir}");
        assert!(root.join(dir).join("arca").is_dir(), "{dir}");
    }
    cg.remove().unwrap();
}

#[test]
fn v1_apply_writes_v1_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cg = Cgroup::open_with_mounts(Path::new("/c1"), hybrid_tree(root)).unwrap();
    kernel_files(
        &root.join("cpuset/c1"),
        &[("cpuset.cpus", ""), ("cpuset.mems", "")],
    );
    cg.create().unwrap();
    let unlimited = "9223372036854771712\n";
    kernel_files(
        &root.join("memory/c1"),
        &[
            ("memory.limit_in_bytes", unlimited),
            ("memory.soft_limit_in_bytes", unlimited),
            ("memory.memsw.limit_in_bytes", unlimited),
        ],
    );
    kernel_files(&root.join("pids/c1"), &[("pids.max", "max\n")]);
    kernel_files(
        &root.join("cpu,cpuacct/c1"),
        &[
            ("cpu.shares", "1024\n"),
            ("cpu.cfs_quota_us", "-1\n"),
            ("cpu.cfs_period_us", "100000\n"),
        ],
    );
    kernel_files(
        &root.join("devices/c1"),
        &[("devices.allow", ""), ("devices.deny", "")],
    );
    let mut r = resources();
    r.set_devices(Some(vec![
        device(false, LinuxDeviceType::A, None, None),
        device(true, LinuxDeviceType::C, Some(1), Some(3)),
        device(true, LinuxDeviceType::U, Some(136), None),
        device(true, LinuxDeviceType::P, None, None),
    ]));
    cg.apply(&r).unwrap();
    let file = |f: &str| read(root.join(f));
    assert_eq!(file("memory/c1/memory.limit_in_bytes"), "67108864");
    assert_eq!(file("memory/c1/memory.memsw.limit_in_bytes"), "134217728");
    assert_eq!(file("memory/c1/memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(file("pids/c1/pids.max"), "10");
    assert_eq!(file("cpu,cpuacct/c1/cpu.shares"), "1024");
    assert_eq!(file("cpu,cpuacct/c1/cpu.cfs_quota_us"), "50000");
    assert_eq!(file("cpu,cpuacct/c1/cpu.cfs_period_us"), "100000");
    assert_eq!(file("cpuset/c1/cpuset.cpus"), "0-1");
    assert_eq!(file("cpuset/c1/cpuset.mems"), "0");
    // The fake files keep only the last write of each kind.
    assert_eq!(file("devices/c1/devices.deny"), "a *:* rwm");
    assert_eq!(file("devices/c1/devices.allow"), "c 136:* rwm");

    // Without swap accounting, swap is skipped rather than failing.
    fs::remove_file(root.join("memory/c1/memory.memsw.limit_in_bytes")).unwrap();
    cg.apply(&r).unwrap();
}

#[test]
fn v1_missing_controller_or_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cg = v1_memory_only(root);
    assert_eq!(cg.hierarchy(), Hierarchy::Legacy);
    assert_eq!(cg.unified_dir(), None);
    let mut pids_only = LinuxResources::default();
    pids_only.set_pids(Some(LinuxPids::default()));
    let err = cg.apply(&pids_only).unwrap_err();
    assert!(err.to_string().contains("pids.max"), "{err}");
    let err = cg.apply(&resources()).unwrap_err();
    assert!(matches!(err, CgroupError::Read { .. }), "{err}");
    assert!(err.to_string().contains("memory.limit_in_bytes"), "{err}");
}

#[test]
fn v2_create_delegates_controllers_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mounts = unified_tree(root);
    kernel_files(
        &root.join("arca"),
        &[
            ("cgroup.controllers", "cpuset cpu io memory hugetlb pids\n"),
            ("cgroup.subtree_control", "memory pids\n"),
        ],
    );
    let cg = Cgroup::open_with_mounts(Path::new("/arca/c1"), mounts).unwrap();
    assert_eq!(cg.hierarchy(), Hierarchy::Unified);
    assert!(cg.v1_dirs().is_empty());
    cg.create().unwrap();
    assert_eq!(cg.unified_dir(), Some(root.join("arca/c1")));
    assert!(root.join("arca/c1").is_dir());
    assert_eq!(
        read(root.join("cgroup.subtree_control")),
        "+memory +pids +cpu +io +cpuset +hugetlb +rdma"
    );
    assert_eq!(
        read(root.join("arca/cgroup.subtree_control")),
        "+cpu +io +cpuset +hugetlb"
    );
    // Already delegated: a second create writes nothing (the fake file would be overwritten).
    fs::write(
        root.join("arca/cgroup.subtree_control"),
        "memory pids cpu io cpuset hugetlb",
    )
    .unwrap();
    cg.create().unwrap();
    assert_eq!(
        read(root.join("arca/cgroup.subtree_control")),
        "memory pids cpu io cpuset hugetlb"
    );
}

#[test]
fn v2_apply_converts_to_v2_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cg = Cgroup::open_with_mounts(Path::new("/c1"), unified_tree(root)).unwrap();
    let files = [
        "memory.max",
        "memory.low",
        "memory.swap.max",
        "pids.max",
        "cpu.weight",
        "cpu.max",
        "cpuset.cpus",
        "cpuset.mems",
    ];
    kernel_files(&root.join("c1"), &files.map(|f| (f, "")));
    cg.create().unwrap();
    let mut r = resources();
    r.set_devices(Some(vec![device(false, LinuxDeviceType::A, None, None)]));
    cg.apply(&r).unwrap();
    let file = |f: &str| read(root.join("c1").join(f));
    assert_eq!(file("memory.max"), "67108864");
    assert_eq!(file("memory.swap.max"), "67108864");
    assert_eq!(file("memory.low"), "33554432");
    assert_eq!(file("pids.max"), "10");
    assert_eq!(file("cpu.weight"), "39");
    assert_eq!(file("cpu.max"), "50000 100000");
    assert_eq!(file("cpuset.cpus"), "0-1");
    assert_eq!(file("cpuset.mems"), "0");

    // swap == limit disables swap; without swap accounting that is silently fine.
    let mut m = LinuxMemory::default();
    m.set_limit(Some(1 << 20));
    m.set_swap(Some(1 << 20));
    let mut pids = LinuxPids::default();
    pids.set_limit(-1);
    let mut r = LinuxResources::default();
    r.set_memory(Some(m));
    r.set_pids(Some(pids));
    cg.apply(&r).unwrap();
    assert_eq!(file("memory.swap.max"), "0");
    assert_eq!(file("pids.max"), "max");
    fs::remove_file(root.join("c1/memory.swap.max")).unwrap();
    cg.apply(&r).unwrap();

    // A controller that is not enabled: the error names the file.
    fs::remove_file(root.join("c1/pids.max")).unwrap();
    let err = cg.apply(&r).unwrap_err();
    assert!(
        matches!(&err, CgroupError::MissingFile { path, .. } if path.ends_with("c1/pids.max")),
        "{err}"
    );
}

#[test]
fn pids_are_collected_recursively_and_add_pid_writes_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cg = Cgroup::open_with_mounts(Path::new("/c1"), unified_tree(root)).unwrap();
    kernel_files(&root.join("c1"), &[("cgroup.procs", "12\n7\n")]);
    kernel_files(&root.join("c1/sub"), &[("cgroup.procs", "3\n12\n")]);
    assert_eq!(cg.pids().unwrap(), [3, 7, 12]);
    cg.add_pid(42).unwrap();
    assert_eq!(read(root.join("c1/cgroup.procs")), "42");

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cg = Cgroup::open_with_mounts(Path::new("/c1"), hybrid_tree(root)).unwrap();
    let dirs: Vec<PathBuf> = cg
        .v1_dirs()
        .into_iter()
        .map(|(_, d)| d)
        .chain(cg.unified_dir())
        .collect();
    for d in &dirs {
        kernel_files(d, &[("cgroup.procs", "")]);
    }
    cg.add_pid(42).unwrap();
    for d in &dirs {
        assert_eq!(read(d.join("cgroup.procs")), "42", "{}", d.display());
    }
    assert_eq!(cg.pids().unwrap(), [42]);
}

/// The v1 `tasks` files are opened up front and get `0` (the caller itself); the cgroup2
/// directory is not among them (CLONE_INTO_CGROUP joins it). A hierarchy without the
/// cgroup fails at once, naming the file.
#[test]
fn self_join_writes_zero_to_every_v1_tasks_file() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cg = Cgroup::open_with_mounts(Path::new("/c1"), hybrid_tree(root)).unwrap();
    let v1: Vec<PathBuf> = cg.v1_dirs().into_iter().map(|(_, d)| d).collect();
    for d in &v1 {
        kernel_files(d, &[("tasks", "")]);
    }
    let unified = cg.unified_dir().unwrap();
    kernel_files(&unified, &[("cgroup.procs", "")]);
    let join = cg.self_join().unwrap();
    assert!(!join.is_empty());
    join.join().unwrap();
    for d in &v1 {
        assert_eq!(read(d.join("tasks")), "0", "{}", d.display());
    }
    assert_eq!(read(unified.join("cgroup.procs")), "");

    fs::remove_file(v1[0].join("tasks")).unwrap();
    let err = cg.self_join().unwrap_err();
    assert!(
        matches!(&err, CgroupError::Join { path, .. } if path == &v1[0].join("tasks")),
        "{err}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let cg = Cgroup::open_with_mounts(Path::new("/c1"), unified_tree(tmp.path())).unwrap();
    assert!(cg.self_join().unwrap().is_empty());
}

#[test]
fn device_rule_lines() {
    let line = |allow, t, maj, min| v1::rule_line(&device(allow, t, maj, min));
    assert_eq!(
        line(true, LinuxDeviceType::A, None, None).as_deref(),
        Some("a *:* rwm")
    );
    assert_eq!(
        line(true, LinuxDeviceType::B, Some(8), Some(0)).as_deref(),
        Some("b 8:0 rwm")
    );
    assert_eq!(line(true, LinuxDeviceType::P, None, None), None);
    let mut d = LinuxDeviceCgroup::default();
    d.set_allow(true);
    assert_eq!(v1::rule_line(&d).as_deref(), Some("a *:* rwm"));
    assert_eq!(default_allowed_devices().len(), 10);
}

#[test]
fn freeze_and_thaw_v1_write_freezer_state() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut mounts = hybrid_tree(root);
    fs::create_dir_all(root.join("freezer")).unwrap();
    mounts.push(Mount::v1(root.join("freezer"), &["freezer"]));
    let cg = Cgroup::open_with_mounts(Path::new("/c1"), mounts).unwrap();
    kernel_files(&root.join("freezer/c1"), &[("freezer.state", "THAWED\n")]);
    cg.freeze().unwrap();
    assert_eq!(read(root.join("freezer/c1/freezer.state")), "FROZEN");
    cg.thaw().unwrap();
    assert_eq!(read(root.join("freezer/c1/freezer.state")), "THAWED");
}

#[test]
fn freeze_without_freezer_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = Cgroup::open_with_mounts(Path::new("/c1"), hybrid_tree(tmp.path())).unwrap();
    let err = cg.freeze().unwrap_err().to_string();
    assert!(err.contains("freezer"), "{err}");
}

#[test]
fn freeze_and_thaw_v2_write_cgroup_freeze_and_wait_for_events() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cg = Cgroup::open_with_mounts(Path::new("/c1"), unified_tree(root)).unwrap();
    let dir = root.join("c1");
    kernel_files(
        &dir,
        &[
            ("cgroup.freeze", "0\n"),
            ("cgroup.events", "populated 1\nfrozen 1\n"),
        ],
    );
    cg.freeze().unwrap();
    assert_eq!(read(dir.join("cgroup.freeze")), "1");
    fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
    cg.thaw().unwrap();
    assert_eq!(read(dir.join("cgroup.freeze")), "0");

    // The kernel never reports frozen: a freeze times out and is undone.
    let err = v2::set_frozen(&dir, true, std::time::Duration::ZERO).unwrap_err();
    assert!(err.to_string().contains("frozen 1"), "{err}");
    assert_eq!(read(dir.join("cgroup.freeze")), "0");
}
