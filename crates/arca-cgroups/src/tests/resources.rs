//! Fake-tree tests for every OCI resource beyond memory limits, pids, cpu shares/bandwidth and
//! devices, on legacy, hybrid and unified layouts, plus runc's conversions. A fake control
//! file keeps only the last write, so per-device lists assert their last line.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxInterfacePriority, LinuxMemory, LinuxNetwork,
    LinuxRdma, LinuxRdmaBuilder, LinuxResources, LinuxThrottleDevice, LinuxThrottleDeviceBuilder,
    LinuxWeightDeviceBuilder,
};

use super::{hybrid_tree, kernel_files, read, unified_tree};
use crate::{v1, v2, Cgroup, CgroupError, Mount};

fn throttle(major: i64, minor: i64, rate: u64) -> LinuxThrottleDevice {
    LinuxThrottleDeviceBuilder::default()
        .major(major)
        .minor(minor)
        .rate(rate)
        .build()
        .unwrap()
}

fn block_io() -> LinuxBlockIo {
    let wd = LinuxWeightDeviceBuilder::default()
        .major(8)
        .minor(0)
        .weight(300u16)
        .leaf_weight(200u16)
        .build()
        .unwrap();
    let mut b = LinuxBlockIo::default();
    b.set_weight(Some(500));
    b.set_leaf_weight(Some(400));
    b.set_weight_device(Some(vec![wd]));
    b.set_throttle_read_bps_device(Some(vec![throttle(8, 0, 1 << 20)]));
    b.set_throttle_write_bps_device(Some(vec![throttle(8, 0, 2 << 20)]));
    b.set_throttle_read_iops_device(Some(vec![throttle(8, 16, 100)]));
    b.set_throttle_write_iops_device(Some(vec![throttle(8, 16, 200)]));
    b
}

fn hugepages() -> Vec<LinuxHugepageLimit> {
    let mut l = LinuxHugepageLimit::default();
    l.set_page_size("2MB".into());
    l.set_limit(4 << 20);
    vec![l]
}

fn rdma() -> HashMap<String, LinuxRdma> {
    let r = LinuxRdmaBuilder::default()
        .hca_handles(3u32)
        .hca_objects(1000u32)
        .build()
        .unwrap();
    HashMap::from([("mlx5_0".to_owned(), r)])
}

fn network() -> LinuxNetwork {
    let mut prio = LinuxInterfacePriority::default();
    prio.set_name("eth0".into());
    prio.set_priority(5);
    let mut n = LinuxNetwork::default();
    n.set_class_id(Some(0x0010_0001));
    n.set_priorities(Some(vec![prio]));
    n
}

fn cpu_extras() -> LinuxCpu {
    let mut c = LinuxCpu::default();
    c.set_quota(Some(50_000));
    c.set_burst(Some(20_000));
    c.set_idle(Some(1));
    c
}

fn mem_extras() -> LinuxMemory {
    let mut m = LinuxMemory::default();
    m.set_limit(Some(64 << 20));
    m.set_swappiness(Some(10));
    m.set_disable_oom_killer(Some(true));
    #[allow(deprecated)]
    m.set_kernel(Some(1 << 20));
    m.set_kernel_tcp(Some(1 << 20));
    m
}

fn everything() -> LinuxResources {
    let mut r = LinuxResources::default();
    r.set_memory(Some(mem_extras()));
    r.set_cpu(Some(cpu_extras()));
    r.set_block_io(Some(block_io()));
    r.set_hugepage_limits(Some(hugepages()));
    r.set_network(Some(network()));
    r.set_rdma(Some(rdma()));
    r
}

fn only_unified(pairs: &[(&str, &str)]) -> LinuxResources {
    let mut r = LinuxResources::default();
    r.set_unified(Some(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    ));
    r
}

/// A legacy host with every v1 controller a resource needs (blkio with BFQ only, as on
/// kernels >= 5.0), the container's control files created as the kernel would.
fn legacy_tree(root: &Path) -> Vec<Mount> {
    let mounts = [
        ("memory", &["memory"][..]),
        ("cpu,cpuacct", &["cpu", "cpuacct"]),
        ("blkio", &["blkio"]),
        ("hugetlb", &["hugetlb"]),
        ("net_cls,net_prio", &["net_cls", "net_prio"]),
        ("rdma", &["rdma"]),
    ];
    let files: &[(&str, &[&str])] = &[
        (
            "memory",
            &[
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
                "memory.oom_control",
                "memory.swappiness",
            ],
        ),
        (
            "cpu,cpuacct",
            &[
                "cpu.cfs_quota_us",
                "cpu.cfs_burst_us",
                "cpu.idle",
                "cpu.rt_period_us",
                "cpu.rt_runtime_us",
            ],
        ),
        (
            "blkio",
            &[
                "blkio.bfq.weight",
                "blkio.bfq.weight_device",
                "blkio.leaf_weight",
                "blkio.leaf_weight_device",
                "blkio.throttle.read_bps_device",
                "blkio.throttle.write_bps_device",
                "blkio.throttle.read_iops_device",
                "blkio.throttle.write_iops_device",
            ],
        ),
        (
            "hugetlb",
            &[
                "hugetlb.2MB.limit_in_bytes",
                "hugetlb.2MB.rsvd.limit_in_bytes",
            ],
        ),
        (
            "net_cls,net_prio",
            &["net_cls.classid", "net_prio.ifpriomap"],
        ),
        ("rdma", &["rdma.max"]),
    ];
    for (dir, names) in files {
        let contents: Vec<(&str, &str)> = names.iter().map(|n| (*n, "0\n")).collect();
        kernel_files(&root.join(dir).join("c1"), &contents);
    }
    mounts
        .iter()
        .map(|(dir, c)| Mount::v1(root.join(dir), c))
        .collect()
}

#[test]
fn v1_writes_every_resource() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cg = Cgroup::open_with_mounts(Path::new("/c1"), legacy_tree(root)).unwrap();
    let mut r = everything();
    let mut cpu = cpu_extras();
    cpu.set_realtime_period(Some(1_000_000));
    cpu.set_realtime_runtime(Some(950_000));
    r.set_cpu(Some(cpu));
    cg.apply(&r).unwrap();
    let file = |f: &str| read(root.join(f));
    assert_eq!(file("memory/c1/memory.limit_in_bytes"), "67108864");
    assert_eq!(file("memory/c1/memory.oom_control"), "1");
    assert_eq!(file("memory/c1/memory.swappiness"), "10");
    assert_eq!(file("cpu,cpuacct/c1/cpu.cfs_quota_us"), "50000");
    assert_eq!(file("cpu,cpuacct/c1/cpu.cfs_burst_us"), "20000");
    assert_eq!(file("cpu,cpuacct/c1/cpu.idle"), "1");
    assert_eq!(file("cpu,cpuacct/c1/cpu.rt_period_us"), "1000000");
    assert_eq!(file("cpu,cpuacct/c1/cpu.rt_runtime_us"), "950000");
    // No blkio.weight (no CFQ): the BFQ files take the weights, unconverted.
    assert_eq!(file("blkio/c1/blkio.bfq.weight"), "500");
    assert_eq!(file("blkio/c1/blkio.bfq.weight_device"), "8:0 300");
    assert_eq!(file("blkio/c1/blkio.leaf_weight"), "400");
    assert_eq!(file("blkio/c1/blkio.leaf_weight_device"), "8:0 200");
    assert_eq!(
        file("blkio/c1/blkio.throttle.read_bps_device"),
        "8:0 1048576"
    );
    assert_eq!(
        file("blkio/c1/blkio.throttle.write_bps_device"),
        "8:0 2097152"
    );
    assert_eq!(file("blkio/c1/blkio.throttle.read_iops_device"), "8:16 100");
    assert_eq!(
        file("blkio/c1/blkio.throttle.write_iops_device"),
        "8:16 200"
    );
    assert_eq!(file("hugetlb/c1/hugetlb.2MB.limit_in_bytes"), "4194304");
    assert_eq!(
        file("hugetlb/c1/hugetlb.2MB.rsvd.limit_in_bytes"),
        "4194304"
    );
    assert_eq!(file("net_cls,net_prio/c1/net_cls.classid"), "1048577");
    assert_eq!(file("net_cls,net_prio/c1/net_prio.ifpriomap"), "eth0 5");
    assert_eq!(
        file("rdma/c1/rdma.max"),
        "mlx5_0 hca_handle=3 hca_object=1000"
    );

    // With CFQ's blkio.weight present, the CFQ files are used instead.
    kernel_files(
        &root.join("blkio/c1"),
        &[("blkio.weight", "0"), ("blkio.weight_device", "")],
    );
    cg.apply(&r).unwrap();
    assert_eq!(file("blkio/c1/blkio.weight"), "500");
    assert_eq!(file("blkio/c1/blkio.weight_device"), "8:0 300");

    // Kernels without burst or rsvd files: runc skips those quietly.
    fs::remove_file(root.join("cpu,cpuacct/c1/cpu.cfs_burst_us")).unwrap();
    fs::remove_file(root.join("hugetlb/c1/hugetlb.2MB.rsvd.limit_in_bytes")).unwrap();
    cg.apply(&r).unwrap();
}

#[test]
fn v1_memory_checks_usage_and_swappiness_range() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cg = Cgroup::open_with_mounts(Path::new("/c1"), legacy_tree(root)).unwrap();
    fs::write(root.join("memory/c1/memory.usage_in_bytes"), "100000000\n").unwrap();
    let mut m = LinuxMemory::default();
    m.set_limit(Some(64 << 20));
    m.set_check_before_update(Some(true));
    let mut r = LinuxResources::default();
    r.set_memory(Some(m));
    let err = cg.apply(&r).unwrap_err();
    assert!(
        matches!(
            err,
            CgroupError::LimitBelowUsage {
                limit: 67_108_864,
                usage: 100_000_000,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("100000000"), "{err}");
    assert_eq!(read(root.join("memory/c1/memory.limit_in_bytes")), "0\n");
    // Without the check the same limit is written.
    m.set_check_before_update(Some(false));
    r.set_memory(Some(m));
    cg.apply(&r).unwrap();
    assert_eq!(
        read(root.join("memory/c1/memory.limit_in_bytes")),
        "67108864"
    );

    m.set_swappiness(Some(101));
    r.set_memory(Some(m));
    let err = cg.apply(&r).unwrap_err();
    assert!(err.to_string().contains("swappiness"), "{err}");
}

#[test]
fn v1_missing_controllers_and_unified_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cg = super::v1_memory_only(root);
    type Set = fn(&mut LinuxResources);
    let cases: [(Set, &str); 4] = [
        (
            |r| {
                r.set_hugepage_limits(Some(hugepages()));
            },
            "hugetlb",
        ),
        (
            |r| {
                r.set_block_io(Some(block_io()));
            },
            "blkio.weight",
        ),
        (
            |r| {
                r.set_rdma(Some(rdma()));
            },
            "rdma.max",
        ),
        (
            |r| {
                r.set_network(Some(network()));
            },
            "net_cls.classid",
        ),
    ];
    for (set, name) in cases {
        let mut r = LinuxResources::default();
        set(&mut r);
        let err = cg.apply(&r).unwrap_err();
        assert!(
            matches!(err, CgroupError::MissingController { .. }),
            "{err}"
        );
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
    let err = cg
        .apply(&only_unified(&[("memory.high", "1G")]))
        .unwrap_err();
    assert!(
        err.to_string().contains("cannot use unified on cgroup v1"),
        "{err}"
    );
    // Only kernel memory: warned about and ignored, nothing written.
    let mut m = LinuxMemory::default();
    m.set_kernel_tcp(Some(1 << 20));
    let mut r = LinuxResources::default();
    r.set_memory(Some(m));
    cg.apply(&r).unwrap();
}

/// The hybrid layout of this project's hosts: v1 carries everything but hugetlb, which the
/// cgroup2 tree offers.
#[test]
fn hybrid_routes_hugetlb_to_the_cgroup2_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mounts = hybrid_tree(root);
    kernel_files(
        &root.join("unified"),
        &[
            ("cgroup.controllers", "hugetlb\n"),
            ("cgroup.subtree_control", ""),
        ],
    );
    kernel_files(
        &root.join("unified/arca"),
        &[
            ("cgroup.controllers", "hugetlb\n"),
            ("cgroup.subtree_control", ""),
        ],
    );
    let cg = Cgroup::open_with_mounts(Path::new("/arca/c1"), mounts).unwrap();
    cg.create().unwrap();
    assert_eq!(
        read(root.join("unified/cgroup.subtree_control")),
        "+hugetlb"
    );
    assert_eq!(
        read(root.join("unified/arca/cgroup.subtree_control")),
        "+hugetlb"
    );
    let dir = root.join("unified/arca/c1");
    kernel_files(
        &dir,
        &[
            ("cgroup.controllers", "hugetlb\n"),
            ("hugetlb.2MB.max", "max\n"),
            ("hugetlb.2MB.rsvd.max", "max\n"),
            ("hugetlb.1GB.max", "max\n"),
        ],
    );
    let mut r = LinuxResources::default();
    r.set_hugepage_limits(Some(hugepages()));
    cg.apply(&r).unwrap();
    assert_eq!(read(dir.join("hugetlb.2MB.max")), "4194304");
    assert_eq!(read(dir.join("hugetlb.2MB.rsvd.max")), "4194304");

    // unified keys of a routed controller are fine; others still follow runc's refusal.
    cg.apply(&only_unified(&[("hugetlb.1GB.max", "max")]))
        .unwrap();
    assert_eq!(read(dir.join("hugetlb.1GB.max")), "max");
    let err = cg
        .apply(&only_unified(&[("memory.high", "1G")]))
        .unwrap_err();
    assert!(
        err.to_string().contains("cannot use unified on cgroup v1"),
        "{err}"
    );

    // A controller neither side has stays an error naming it.
    let mut r = LinuxResources::default();
    r.set_rdma(Some(rdma()));
    let err = cg.apply(&r).unwrap_err();
    assert!(
        matches!(
            err,
            CgroupError::MissingController {
                controller: "rdma",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn v2_writes_every_resource() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cg = Cgroup::open_with_mounts(Path::new("/c1"), unified_tree(root)).unwrap();
    let dir = root.join("c1");
    let files = [
        "cgroup.controllers",
        "memory.max",
        "memory.current",
        "cpu.max",
        "cpu.max.burst",
        "cpu.idle",
        "io.weight",
        "io.max",
        "hugetlb.2MB.max",
        "rdma.max",
        "memory.high",
    ];
    kernel_files(&dir, &files.map(|f| (f, "")));
    fs::write(
        dir.join("cgroup.controllers"),
        "cpu io memory hugetlb rdma\n",
    )
    .unwrap();
    let mut r = everything();
    r.set_unified(Some(HashMap::from([
        ("memory.high".to_owned(), "50331648".to_owned()),
        (
            "io.max".to_owned(),
            "8:0 rbps=1 wbps=2\n8:16 riops=3\n".to_owned(),
        ),
    ])));
    cg.apply(&r).unwrap();
    let file = |f: &str| read(dir.join(f));
    assert_eq!(file("memory.max"), "67108864");
    assert_eq!(file("cpu.max"), "50000 100000");
    assert_eq!(file("cpu.max.burst"), "20000");
    assert_eq!(file("cpu.idle"), "1");
    assert_eq!(file("io.weight"), "4950");
    assert_eq!(file("hugetlb.2MB.max"), "4194304");
    assert_eq!(file("rdma.max"), "mlx5_0 hca_handle=3 hca_object=1000");
    assert_eq!(file("memory.high"), "50331648");
    // unified is written last, one line per write.
    assert_eq!(file("io.max"), "8:16 riops=3");
    r.set_unified(None);
    cg.apply(&r).unwrap();
    assert_eq!(file("io.max"), "8:16 wiops=200");

    // BFQ present: the weight goes there on v1's scale, with per-device weights.
    kernel_files(&dir, &[("io.bfq.weight", "")]);
    cg.apply(&r).unwrap();
    assert_eq!(file("io.bfq.weight"), "8:0 300");
    let mut b = LinuxBlockIo::default();
    b.set_weight(Some(500));
    let mut r2 = LinuxResources::default();
    r2.set_block_io(Some(b));
    cg.apply(&r2).unwrap();
    assert_eq!(file("io.bfq.weight"), "500");

    // checkBeforeUpdate against memory.current.
    fs::write(dir.join("memory.current"), "67108864\n").unwrap();
    let mut m = LinuxMemory::default();
    m.set_limit(Some(64 << 20));
    m.set_check_before_update(Some(true));
    let mut r3 = LinuxResources::default();
    r3.set_memory(Some(m));
    let err = cg.apply(&r3).unwrap_err();
    assert!(matches!(err, CgroupError::LimitBelowUsage { .. }), "{err}");
}

#[test]
fn v2_refuses_realtime_and_bad_unified_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cg = Cgroup::open_with_mounts(Path::new("/c1"), unified_tree(root)).unwrap();
    let dir = root.join("c1");
    kernel_files(&dir, &[("cgroup.controllers", "memory\n"), ("cpu.max", "")]);
    let mut c = LinuxCpu::default();
    c.set_realtime_runtime(Some(950_000));
    let mut r = LinuxResources::default();
    r.set_cpu(Some(c));
    let err = cg.apply(&r).unwrap_err();
    assert!(matches!(err, CgroupError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("cgroup v2"), "{err}");

    for bad in [
        "../x.max",
        "memory",
        ".max",
        "memory.",
        "a/b.max",
        "cgroup.procs",
        "cgroup.kill",
    ] {
        let err = cg.apply(&only_unified(&[(bad, "1")])).unwrap_err();
        assert!(
            matches!(err, CgroupError::InvalidResource { .. }),
            "{bad}: {err}"
        );
    }
    // A key whose controller is not enabled here says so.
    let err = cg.apply(&only_unified(&[("pids.max", "10")])).unwrap_err();
    assert!(
        err.to_string()
            .contains("controller \"pids\" not available"),
        "{err}"
    );
    // v1-only settings are ignored on v2, as runc does.
    let mut r = LinuxResources::default();
    r.set_network(Some(network()));
    let mut m = LinuxMemory::default();
    m.set_swappiness(Some(10));
    m.set_disable_oom_killer(Some(true));
    r.set_memory(Some(m));
    cg.apply(&r).unwrap();
    // Page sizes cannot name files outside the cgroup.
    let mut l = LinuxHugepageLimit::default();
    l.set_page_size("../../x".into());
    let mut r = LinuxResources::default();
    r.set_hugepage_limits(Some(vec![l]));
    assert!(matches!(
        cg.apply(&r),
        Err(CgroupError::InvalidResource { .. })
    ));
}

#[test]
fn conversions_match_runc() {
    // runc's TestConvertBlkIOToIOWeightValue.
    for (blkio, io) in [(0, 0), (10, 1), (1000, 10_000), (500, 4950)] {
        assert_eq!(v2::io::blkio_to_io_weight(blkio), io, "{blkio}");
    }
    // runc's TestConvertCPUSharesToCgroupV2Value.
    for (shares, weight) in [(2, 1), (262_144, 10_000), (1024, 39)] {
        assert_eq!(v2::cpu::shares_to_weight(shares), weight);
    }
    assert_eq!(v2::cpu::cpu_max(50_000, 0), "50000 100000");
    assert_eq!(v2::cpu::cpu_max(-1, 250_000), "max 250000");
    assert_eq!(v2::io::io_max_line("rbps", 8, 0, 1024), "8:0 rbps=1024");
    assert_eq!(
        v1::throttles(&block_io()).map(|(k, l)| (k, l.len())),
        [
            ("read_bps", 1),
            ("write_bps", 1),
            ("read_iops", 1),
            ("write_iops", 1)
        ]
    );
    let only_handles = LinuxRdmaBuilder::default()
        .hca_handles(2u32)
        .build()
        .unwrap();
    assert_eq!(
        v2::misc::rdma_line("mlx4_0", &only_handles),
        "mlx4_0 hca_handle=2"
    );
    assert!(v2::unified::validate_key("memory.high").is_ok());
    assert!(v2::unified::validate_key("cgroup.max.depth").is_ok());
    // runc's swap conversion is unchanged.
    assert_eq!(v2::memory::swap_v2(300, 100).ok(), Some(200));
    assert!(v2::memory::swap_v2(50, 100).is_err());
}
