//! Stats on fake cgroup trees whose files copy the kernel's (6.18) formats, and the JSON key
//! names runc consumers rely on.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::{Cgroup, Mount};

const CG: &str = "/arca/c1";

/// Creates `mount/arca/c1` holding the given files.
fn files(mount: &Path, files: &[(&str, &str)]) -> PathBuf {
    let dir = mount.join(&CG[1..]);
    fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        fs::write(dir.join(name), content).unwrap();
    }
    dir
}

const CPUACCT: &[(&str, &str)] = &[
    ("cpuacct.usage", "8362142280147\n"),
    ("cpuacct.usage_percpu", "3991662702538 4370482053167 \n"),
    (
        "cpuacct.usage_all",
        "cpu user system\n0 2725477597952 1193929397556\n1 3030559825731 1282117293422\n",
    ),
    ("cpuacct.stat", "user 584698\nsystem 251516\n"),
    (
        "cpu.stat",
        "nr_periods 40\nnr_throttled 7\nthrottled_time 123456789\nnr_bursts 0\nburst_time 0\n",
    ),
];

const MEMORY_V1: &[(&str, &str)] = &[
    (
        "memory.stat",
        "cache 4096\nrss 8192\nhierarchical_memory_limit 9223372036854771712\ntotal_cache 4096\n",
    ),
    ("memory.usage_in_bytes", "139264\n"),
    ("memory.max_usage_in_bytes", "22290432\n"),
    ("memory.limit_in_bytes", "67108864\n"),
    ("memory.failcnt", "3\n"),
    ("memory.memsw.usage_in_bytes", "143360\n"),
    ("memory.memsw.max_usage_in_bytes", "22290432\n"),
    ("memory.memsw.limit_in_bytes", "134217728\n"),
    ("memory.memsw.failcnt", "0\n"),
    ("memory.kmem.usage_in_bytes", "139264\n"),
    ("memory.kmem.max_usage_in_bytes", "200704\n"),
    ("memory.kmem.limit_in_bytes", "9223372036854771712\n"),
    ("memory.kmem.failcnt", "0\n"),
    (
        "memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
    ),
];

const PIDS: &[(&str, &str)] = &[("pids.current", "4\n"), ("pids.max", "max\n")];

fn v1_tree(root: &Path) -> Vec<Mount> {
    files(&root.join("cpu,cpuacct"), CPUACCT);
    files(&root.join("memory"), MEMORY_V1);
    files(&root.join("pids"), PIDS);
    files(
        &root.join("cpuset"),
        &[
            ("cpuset.cpus", "0-2,5\n"),
            ("cpuset.mems", "0\n"),
            ("cpuset.cpu_exclusive", "0\n"),
            ("cpuset.mem_exclusive", "1\n"),
            ("cpuset.sched_load_balance", "1\n"),
            ("cpuset.sched_relax_domain_level", "-1\n"),
        ],
    );
    files(
        &root.join("blkio"),
        &[
            ("blkio.bfq.io_service_bytes_recursive", "Total 0\n"),
            ("blkio.bfq.io_serviced_recursive", "Total 0\n"),
            (
                "blkio.throttle.io_serviced_recursive",
                "8:0 Read 124\n8:0 Write 104\nTotal 228\n",
            ),
            (
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 1282048\n8:0 Write 2195456\nTotal 3477504\n",
            ),
        ],
    );
    vec![
        Mount::v1(root.join("cpu,cpuacct"), &["cpu", "cpuacct"]),
        Mount::v1(root.join("memory"), &["memory"]),
        Mount::v1(root.join("pids"), &["pids"]),
        Mount::v1(root.join("cpuset"), &["cpuset"]),
        Mount::v1(root.join("blkio"), &["blkio"]),
        Mount::v1(root.join("systemd"), &["name=systemd"]),
    ]
}

fn stats(mounts: Vec<Mount>) -> Stats {
    Cgroup::open_with_mounts(Path::new(CG), mounts)
        .unwrap()
        .stats()
        .unwrap()
}

fn assert_v1_values(s: &Stats) {
    let u = &s.cpu.usage;
    assert_eq!(u.total, 8_362_142_280_147);
    assert_eq!(u.percpu, [3_991_662_702_538, 4_370_482_053_167]);
    assert_eq!(u.percpu_user, [2_725_477_597_952, 3_030_559_825_731]);
    assert_eq!(u.percpu_kernel, [1_193_929_397_556, 1_282_117_293_422]);
    // USER_HZ ticks to nanoseconds.
    assert_eq!(u.user, 5_846_980_000_000);
    assert_eq!(u.kernel, 2_515_160_000_000);
    let t = &s.cpu.throttling;
    assert_eq!(
        (t.periods, t.throttled_periods, t.throttled_time),
        (40, 7, 123_456_789)
    );

    let m = &s.memory;
    assert_eq!(m.cache, 4096);
    assert_eq!(
        m.raw["hierarchical_memory_limit"],
        9_223_372_036_854_771_712
    );
    assert_eq!(
        m.usage,
        MemoryEntry {
            limit: 64 << 20,
            usage: 139_264,
            max: 22_290_432,
            failcnt: 3
        }
    );
    assert_eq!((m.swap.usage, m.swap.limit), (143_360, 128 << 20));
    assert_eq!(m.kernel.max, 200_704);
    // No kmem.tcp files: left zero, not an error.
    assert_eq!(m.kernel_tcp, MemoryEntry::default());
    assert_eq!(m.psi, None);

    assert_eq!((s.pids.current, s.pids.limit), (4, 0));
}

#[test]
fn legacy_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let s = stats(v1_tree(tmp.path()));
    assert_v1_values(&s);

    assert_eq!(s.cpuset.cpus, [0, 1, 2, 5]);
    assert_eq!(s.cpuset.mems, [0]);
    assert_eq!(
        (s.cpuset.mem_exclusive, s.cpuset.sched_load_balance),
        (1, 1)
    );
    assert_eq!(s.cpuset.sched_relax_domain_level, -1);

    // bfq files hold only "Total 0": runc falls through to the throttle counters.
    let entry = |op: &str, value| BlkioEntry {
        major: 8,
        minor: 0,
        op: op.into(),
        value,
    };
    assert_eq!(
        s.blkio.io_service_bytes_recursive,
        [entry("Read", 1_282_048), entry("Write", 2_195_456)]
    );
    assert_eq!(
        s.blkio.io_serviced_recursive,
        [entry("Read", 124), entry("Write", 104)]
    );
    assert!(s.hugetlb.is_empty());
}

#[test]
fn hybrid_takes_hugetlb_from_cgroup2_only() {
    let tmp = tempfile::tempdir().unwrap();
    let mut mounts = v1_tree(tmp.path());
    files(
        &tmp.path().join("unified"),
        &[
            // Core cpu.stat and PSI exist in every cgroup2 directory; v1 wins for cpu, and runc
            // reports no PSI on hybrid hosts.
            (
                "cpu.stat",
                "usage_usec 1\nuser_usec 1\nsystem_usec 0\nnice_usec 0\n",
            ),
            (
                "cpu.pressure",
                "some avg10=0.00 avg60=0.01 avg300=0.16 total=19929851\n",
            ),
            ("hugetlb.2MB.current", "4194304\n"),
            ("hugetlb.2MB.max", "max\n"),
            ("hugetlb.2MB.events", "max 2\n"),
            ("hugetlb.2MB.rsvd.current", "0\n"),
            ("hugetlb.1GB.current", "0\n"),
            ("hugetlb.1GB.events", "max 0\n"),
        ],
    );
    mounts.push(Mount::v2(tmp.path().join("unified")));
    let s = stats(mounts);
    assert_v1_values(&s);
    assert_eq!(s.cpu.psi, None);
    assert_eq!(s.hugetlb.len(), 2);
    assert_eq!(
        s.hugetlb["2MB"],
        Hugetlb {
            usage: 4 << 20,
            max: 0,
            failcnt: 2
        }
    );
    assert_eq!(s.hugetlb["1GB"], Hugetlb::default());
}

#[test]
fn unified_tree() {
    let tmp = tempfile::tempdir().unwrap();
    files(
        tmp.path(),
        &[
            (
                "cpu.stat",
                "usage_usec 53086447\nuser_usec 23410489\nsystem_usec 29675958\n\
                 nice_usec 36000\ncore_sched.force_idle_usec 0\nnr_periods 10\n\
                 nr_throttled 2\nthrottled_usec 1500\nnr_bursts 0\nburst_usec 0\n",
            ),
            (
                "cpu.pressure",
                "some avg10=0.00 avg60=0.01 avg300=0.16 total=19929851\n\
                 full avg10=1.50 avg60=0.01 avg300=0.15 total=17442698\n",
            ),
            ("cpuset.cpus.effective", "0-1\n"),
            ("cpuset.mems.effective", "0\n"),
            ("memory.current", "1048576\n"),
            ("memory.max", "max\n"),
            ("memory.peak", "2097152\n"),
            ("memory.swap.current", "4096\n"),
            ("memory.swap.max", "max\n"),
            ("memory.stat", "anon 524288\nfile 262144\nkernel 16384\n"),
            ("pids.current", "3\n"),
            ("pids.max", "100\n"),
            (
                "io.stat",
                "259:0 rbytes=90112 wbytes=8192 rios=4 wios=2 dbytes=0 dios=0\n",
            ),
        ],
    );
    let s = stats(vec![Mount::v2(tmp.path())]);
    let u = &s.cpu.usage;
    assert_eq!(
        (u.total, u.user, u.kernel),
        (53_086_447_000, 23_410_489_000, 29_675_958_000)
    );
    assert!(u.percpu.is_empty());
    let t = &s.cpu.throttling;
    assert_eq!(
        (t.periods, t.throttled_periods, t.throttled_time),
        (10, 2, 1_500_000)
    );
    let psi = s.cpu.psi.as_ref().unwrap();
    assert_eq!((psi.some.avg60, psi.some.total), (0.01, 19_929_851));
    assert_eq!(psi.full.avg10, 1.5);
    assert_eq!(s.memory.psi, None);
    assert_eq!(
        (s.cpuset.cpus.as_slice(), s.cpuset.mems.as_slice()),
        (&[0, 1][..], &[0][..])
    );

    let m = &s.memory;
    assert_eq!(m.cache, 262_144);
    assert_eq!(
        m.usage,
        MemoryEntry {
            limit: u64::MAX,
            usage: 1 << 20,
            max: 2 << 20,
            failcnt: 0
        }
    );
    // memory+swap, as v1 reported it.
    assert_eq!(
        (m.swap.usage, m.swap.limit, m.swap.max),
        ((1 << 20) + 4096, u64::MAX, 0)
    );
    assert_eq!((s.pids.current, s.pids.limit), (3, 100));
    let io = |op: &str, value| BlkioEntry {
        major: 259,
        minor: 0,
        op: op.into(),
        value,
    };
    assert_eq!(
        s.blkio.io_service_bytes_recursive,
        [io("Read", 90112), io("Write", 8192)]
    );
    assert_eq!(
        s.blkio.io_serviced_recursive,
        [io("Read", 4), io("Write", 2)]
    );
}

#[test]
fn swap_limit_adds_memory_limit() {
    let tmp = tempfile::tempdir().unwrap();
    files(
        tmp.path(),
        &[
            ("memory.current", "100\n"),
            ("memory.max", "1000\n"),
            ("memory.swap.current", "10\n"),
            ("memory.swap.max", "500\n"),
        ],
    );
    let s = stats(vec![Mount::v2(tmp.path())]);
    assert_eq!((s.memory.swap.usage, s.memory.swap.limit), (110, 1500));
}

#[test]
fn missing_cgroup_is_all_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let mounts = vec![
        Mount::v1(tmp.path().join("memory"), &["memory"]),
        Mount::v2(tmp.path().join("unified")),
    ];
    assert_eq!(stats(mounts), Stats::default());
}

#[test]
fn unparsable_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = files(tmp.path(), &[("pids.current", "lots\n")]);
    let err = Cgroup::open_with_mounts(Path::new(CG), vec![Mount::v2(tmp.path())])
        .unwrap()
        .stats()
        .unwrap_err();
    assert!(
        matches!(&err, CgroupError::Parse { path, .. } if *path == dir.join("pids.current")),
        "{err}"
    );
}

#[test]
fn json_keys_match_runc() {
    let mut s = Stats::default();
    s.cpu.usage.percpu_kernel = vec![1];
    s.cpu.usage.percpu_user = vec![2];
    s.cpu.throttling.throttled_periods = 3;
    s.cpu.throttling.throttled_time = 4;
    s.blkio.io_service_bytes_recursive = vec![BlkioEntry {
        major: 8,
        op: "Read".into(),
        value: 5,
        ..BlkioEntry::default()
    }];
    s.blkio.io_queued_recursive = s.blkio.io_service_bytes_recursive.clone();
    s.hugetlb.insert("2MB".into(), Hugetlb::default());
    let json = serde_json::to_value(&s).unwrap();
    let expected = serde_json::json!({
        "cpu": {
            "usage": {"percpu_kernel": [1], "percpu_user": [2], "kernel": 0, "user": 0},
            "throttling": {"throttledPeriods": 3, "throttledTime": 4}
        },
        "cpuset": {
            "cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0, "memory_migrate": 0,
            "memory_spread_page": 0, "memory_spread_slab": 0, "memory_pressure": 0,
            "sched_load_balance": 0, "sched_relax_domain_level": 0
        },
        "memory": {
            "usage": {"limit": 0, "failcnt": 0},
            "swap": {"limit": 0, "failcnt": 0},
            "kernel": {"limit": 0, "failcnt": 0},
            "kernelTCP": {"limit": 0, "failcnt": 0}
        },
        "pids": {},
        "blkio": {
            "ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 5}],
            "ioQueueRecursive": [{"major": 8, "op": "Read", "value": 5}]
        },
        "hugetlb": {"2MB": {"failcnt": 0}},
        "intel_rdt": {},
        "network_interfaces": null
    });
    assert_eq!(json, expected);
}
