//! cgroup limits seen from both sides on the host (cgroup v1 or hybrid here; the same checks
//! run on pure v2 in the qemu test bed, scripts/vm/v2-tests.sh): the files the runtime wrote,
//! what the container experiences (OOM kill, fork failure, a refused device), `events` (OOM
//! notifications and runc's stats JSON) and no cgroup left behind.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::{json, Value};

use common::*;

const MIB: i64 = 1 << 20;

fn set_resources(bundle: &Bundle, resources: Value) {
    bundle.edit(|c| c["linux"]["resources"] = resources);
}

/// Stats lines and OOM lines of an `events` output, parsed.
fn events_of(out: &str) -> Vec<Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn oom_kill_is_reported_by_events() {
    let bundle = Bundle::busybox(&["sh", "-c", "exec tail /dev/zero"]);
    set_resources(
        &bundle,
        json!({"memory": {"limit": 32 * MIB, "swap": 32 * MIB}}),
    );
    let rt = Runtime::new();
    let id = unique_id("oom");
    rt.create(&bundle, &id);
    let events = rt.spawn(&["events", "--interval", "1s", &id]);
    // The first stats line means the OOM notification is registered.
    wait_for("events to print its first stats", || {
        !events.stdout_now().is_empty()
    });
    rt.run_ok(&["start", &id]);
    rt.wait_status(&id, "stopped");
    if is_runc() {
        // runc's stream does not end with the container; arca's does.
        std::thread::sleep(std::time::Duration::from_secs(2));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(events.pid()),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let out = events.wait();
    if !is_runc() {
        out.assert_success();
    }
    let lines = events_of(&out.stdout);
    assert!(
        lines.contains(&json!({"type": "oom", "id": id})),
        "no OOM event in: {}",
        out.stdout
    );
    let stats = lines.iter().find(|l| l["type"] == "stats").unwrap();
    assert_eq!(stats["id"], id.as_str());
    if !is_unified() {
        let control = read_trim(&bundle.controller_dir("memory").join("memory.oom_control"));
        assert!(
            control
                .lines()
                .any(|l| l.starts_with("oom_kill ") && l != "oom_kill 0"),
            "memory.oom_control: {control}"
        );
    }
    rt.run_ok(&["delete", &id]);
    bundle.assert_gone();
}

#[test]
fn oom_killed_foreground_run_exits_137() {
    let bundle = Bundle::busybox(&["sh", "-c", "exec tail /dev/zero"]);
    set_resources(
        &bundle,
        json!({"memory": {"limit": 32 * MIB, "swap": 32 * MIB}}),
    );
    let rt = Runtime::new();
    let out = rt.run_fg(&bundle, &unique_id("oomrun"));
    assert_eq!(out.code(), 137, "{out}");
    bundle.assert_gone();
}

/// `events --stats` of a container with known limits: the numbers are the container's, and
/// the JSON has exactly the keys runc prints for the same container.
#[test]
fn events_stats_match_runcs_shape_and_the_containers_limits() {
    let resources = json!({
        "memory": {"limit": 64 * MIB},
        "pids": {"limit": 30},
        "cpu": {"shares": 512}
    });
    let stats_of = |runtime: Option<&str>| -> Value {
        let bundle = Bundle::busybox(&["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
        set_resources(&bundle, resources.clone());
        let rt = Runtime::new();
        let id = unique_id("stats");
        let run = |args: &[&str]| match runtime {
            Some(bin) => {
                let mut cmd = Command::new(bin);
                cmd.arg("--root").arg(rt.root()).args(args);
                Proc::spawn(cmd).wait()
            }
            None => rt.output(args),
        };
        rt.track(&id);
        run(&["run", "-d", "--bundle", bundle.path_str(), &id]).assert_success();
        wait_for("the container's three processes", || {
            bundle.processes().len() >= 3
        });
        let out = run(&["events", "--stats", &id]);
        out.assert_success();
        run(&["delete", "--force", &id]).assert_success();
        bundle.assert_gone();
        let lines = events_of(&out.stdout);
        assert_eq!(lines.len(), 1, "{out}");
        assert_eq!(lines[0]["type"], "stats", "{out}");
        assert_eq!(lines[0]["id"], id.as_str(), "{out}");
        lines[0]["data"].clone()
    };

    let ours = stats_of(None);
    assert_eq!(ours["memory"]["usage"]["limit"], 64 * MIB, "{ours:#}");
    assert!(
        ours["memory"]["usage"]["usage"].as_u64() > Some(0),
        "{ours:#}"
    );
    assert_eq!(ours["pids"]["current"], 3, "{ours:#}");
    assert_eq!(ours["pids"]["limit"], 30, "{ours:#}");
    assert!(ours["cpu"]["usage"]["total"].as_u64() > Some(0), "{ours:#}");
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert!(
        ours["cpu"]["usage"]["percpu"]
            .as_array()
            .is_some_and(|a| a.len() >= cpus),
        "{ours:#}"
    );

    let runc = which("runc").expect("runc is needed to compare stats (apt-get install runc)");
    let theirs = stats_of(Some(&runc));
    let (ours_keys, theirs_keys) = (key_paths(&ours), key_paths(&theirs));
    assert_eq!(
        ours_keys
            .symmetric_difference(&theirs_keys)
            .collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "keys only in one of arca's and runc's stats\narca: {ours:#}\nrunc: {theirs:#}"
    );
}

/// Keys runc writes only when their value is non-zero.
const OMITEMPTY: &[&str] = &["memory.cache"];

/// Every object key path (`memory.usage.limit`), not descending into maps keyed by the
/// kernel's names (`memory.raw`, `hugetlb`) or into arrays.
fn key_paths(v: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
        let Value::Object(map) = v else { return };
        for (k, child) in map {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            // `omitempty` in runc's types.Stats: present only when non-zero, so whether it
            // shows depends on the run (page cache of 0 or 40 KiB), not on the shape.
            if !OMITEMPTY.contains(&path.as_str()) {
                out.insert(path.clone());
            }
            if path != "memory.raw" && path != "hugetlb" {
                walk(child, &path, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(v, "", &mut out);
    out
}

fn which(name: &str) -> Option<String> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| format!("{d}/{name}"))
        .find(|p| std::path::Path::new(p).is_file())
}

#[test]
fn fork_loop_stops_at_the_pids_limit() {
    let bundle = Bundle::busybox(&[
        "sh",
        "-c",
        "for i in $(seq 50); do sleep 100 & echo started $i; done",
    ]);
    set_resources(&bundle, json!({"pids": {"limit": 10}}));
    let rt = Runtime::new();
    let out = rt.run_fg(&bundle, &unique_id("pids"));
    let started = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("started"))
        .count();
    // sh itself counts: at most 9 sleeps fit under pids.max 10.
    assert!((1..=9).contains(&started), "{started} started: {out}");
    assert!(
        out.stderr.contains("fork"),
        "no fork failure reported: {out}"
    );
    bundle.assert_gone();
}

/// A device node the container may create (CAP_MKNOD) but its device rules do not allow
/// (/dev/kmsg, char 1:11) cannot be opened; an allow rule for it opens it. Opened write-only
/// and written nothing: no capability is needed for that and the host's log stays clean.
#[test]
fn device_outside_the_allow_list_cannot_be_opened() {
    let script = "mknod /dev/k1 c 1 11 && echo mknod-ok; \
                  dd if=/dev/null of=/dev/k1 count=0 2>&1 && echo open-ok; \
                  dd if=/dev/null of=/dev/null count=0 2>/dev/null && echo null-ok; true";
    let run = |extra_rule: Option<Value>| {
        let bundle = Bundle::busybox(&["sh", "-c", script]);
        bundle.edit(|c| {
            for set in ["bounding", "effective", "permitted"] {
                c["process"]["capabilities"][set]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("CAP_MKNOD"));
            }
            if let Some(rule) = extra_rule {
                c["linux"]["resources"]["devices"]
                    .as_array_mut()
                    .unwrap()
                    .push(rule);
            }
        });
        let out = Runtime::new().run_stdout(&bundle);
        bundle.assert_gone();
        out
    };
    let denied = run(None);
    assert!(denied.contains("mknod-ok"), "{denied}");
    assert!(denied.contains("null-ok"), "{denied}");
    assert!(
        !denied.contains("open-ok"),
        "kmsg opened without a rule: {denied}"
    );
    assert!(denied.contains("not permitted"), "{denied}");
    let allowed = run(Some(
        json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rw"}),
    ));
    assert!(allowed.contains("open-ok"), "{allowed}");
}

/// An allocation that is OOM-killed under the first limit fits after `update` raised it,
/// in the same running container.
#[test]
fn update_raises_the_memory_limit_live() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    set_resources(
        &bundle,
        json!({"memory": {"limit": 32 * MIB, "swap": 32 * MIB}}),
    );
    let rt = Runtime::new();
    let id = unique_id("updmem");
    rt.run_detached(&bundle, &id);
    let alloc = [
        "exec",
        &id,
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=48M",
        "count=1",
    ];
    let first = rt.output(&alloc);
    assert_eq!(first.code(), 137, "48 MiB under a 32 MiB limit: {first}");
    assert_eq!(rt.status(&id), "running");
    rt.run_ok(&["update", "--memory", "128m", "--memory-swap", "128m", &id]);
    rt.run_ok(&alloc);
    if !is_unified() {
        let inside = rt.run_ok(&[
            "exec",
            &id,
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        ]);
        assert_eq!(inside.stdout.trim(), (128 * MIB).to_string());
    }
    rt.run_ok(&["delete", "--force", &id]);
    bundle.assert_gone();
}

/// SIGKILL of the runtime itself during a foreground `run`: the container lives on, and
/// `delete --force` still finds and removes everything.
#[test]
fn sigkill_of_the_runtime_during_run_then_delete_cleans_up() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    set_resources(&bundle, json!({"pids": {"limit": 20}}));
    let rt = Runtime::new();
    let id = unique_id("rtkill");
    rt.track(&id);
    let run = rt.spawn(&["run", "--bundle", bundle.path_str(), &id]);
    rt.wait_status(&id, "running");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.pid()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = run.wait();
    assert!(!bundle.cgroup_dirs().is_empty());
    rt.run_ok(&["delete", "--force", &id]);
    bundle.assert_gone();
    rt.assert_no_state(&id);
}

/// Every resource this host's controllers offer, from the spec to the cgroup files, read back
/// on the host and (memory) from inside the container.
#[test]
fn spec_resources_are_written_to_the_cgroup_files() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    set_resources(
        &bundle,
        json!({
            "memory": {"limit": 96 * MIB, "reservation": 48 * MIB, "swap": 128 * MIB,
                       "swappiness": 10, "disableOOMKiller": true},
            "cpu": {"shares": 512, "quota": 25000, "period": 50000, "burst": 10000, "idle": 0},
            "pids": {"limit": 42},
            "blockIO": {"weight": 300,
                        "throttleReadBpsDevice": [{"major": 7, "minor": 0, "rate": 1048576}],
                        "throttleWriteIOPSDevice": [{"major": 7, "minor": 0, "rate": 100}]}
        }),
    );
    if !is_runc() {
        // runc refuses this on a hybrid host whose hugetlb controller is cgroup2's.
        bundle.edit(|c| {
            c["linux"]["resources"]["hugepageLimits"] =
                json!([{"pageSize": "2MB", "limit": 4194304}]);
        });
    }
    let rt = Runtime::new();
    let id = unique_id("res");
    rt.run_detached(&bundle, &id);
    let file =
        |controller: &str, name: &str| read_trim(&bundle.controller_dir(controller).join(name));
    if is_unified() {
        assert_eq!(file("memory", "memory.max"), (96 * MIB).to_string());
        assert_eq!(file("memory", "memory.low"), (48 * MIB).to_string());
        assert_eq!(file("memory", "memory.swap.max"), (32 * MIB).to_string());
        assert_eq!(file("cpu", "cpu.max"), "25000 50000");
        assert_eq!(file("cpu", "cpu.max.burst"), "10000");
        assert_eq!(file("pids", "pids.max"), "42");
    } else {
        assert_eq!(
            file("memory", "memory.limit_in_bytes"),
            (96 * MIB).to_string()
        );
        assert_eq!(
            file("memory", "memory.soft_limit_in_bytes"),
            (48 * MIB).to_string()
        );
        assert_eq!(
            file("memory", "memory.memsw.limit_in_bytes"),
            (128 * MIB).to_string()
        );
        assert_eq!(file("memory", "memory.swappiness"), "10");
        let oom = file("memory", "memory.oom_control");
        assert!(oom.lines().any(|l| l == "oom_kill_disable 1"), "{oom}");
        assert_eq!(file("cpu", "cpu.shares"), "512");
        assert_eq!(file("cpu", "cpu.cfs_quota_us"), "25000");
        assert_eq!(file("cpu", "cpu.cfs_period_us"), "50000");
        if !is_runc() {
            // Debian's runc 1.1 predates cpu.burst.
            assert_eq!(file("cpu", "cpu.cfs_burst_us"), "10000");
        }
        assert_eq!(file("cpu", "cpu.idle"), "0");
        assert_eq!(file("pids", "pids.max"), "42");
        let blkio = bundle.controller_dir("blkio");
        let weight = ["blkio.weight", "blkio.bfq.weight"]
            .iter()
            .map(|f| blkio.join(f))
            .find(|p| p.exists())
            .expect("a blkio weight file");
        // bfq prints "default 300".
        assert!(
            read_trim(&weight).ends_with("300"),
            "{}",
            read_trim(&weight)
        );
        assert_eq!(
            file("blkio", "blkio.throttle.read_bps_device"),
            "7:0 1048576"
        );
        assert_eq!(file("blkio", "blkio.throttle.write_iops_device"), "7:0 100");
        assert_eq!(
            rt.run_ok(&[
                "exec",
                &id,
                "cat",
                "/sys/fs/cgroup/memory/memory.limit_in_bytes"
            ])
            .stdout
            .trim(),
            (96 * MIB).to_string()
        );
        // Hybrid: hugetlb lives only in the cgroup2 tree here, and arca uses it there.
        let unified = std::path::Path::new("/sys/fs/cgroup/unified");
        let hugetlb_in_v2 = std::fs::read_to_string(unified.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "hugetlb"));
        if hugetlb_in_v2 && !is_runc() {
            let dir = unified.join(bundle.cgroup_path().trim_start_matches('/'));
            assert_eq!(read_trim(&dir.join("hugetlb.2MB.max")), "4194304");
        }
    }
    rt.run_ok(&["delete", "--force", &id]);
    bundle.assert_gone();
}

/// The hierarchies `/proc/<pid>/cgroup` lists for `pid`: hierarchy id and controllers, mapped
/// to the cgroup path.
fn cgroups_of(pid: i32) -> Vec<(String, String)> {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/cgroup: {e}"))
        .lines()
        .filter_map(|l| l.rsplit_once(':'))
        .map(|(h, p)| (h.to_owned(), p.to_owned()))
        .collect()
}

/// The init (which moves itself into its v1 cgroups and is cloned into its cgroup2 one) and
/// an exec'd process (the same way) are in the container's cgroup in every hierarchy the host
/// has, as the host sees them, before and after `start`; `create` has returned by then, so
/// nothing of the container ran outside its limits.
#[test]
fn init_and_exec_are_in_the_cgroup_in_every_hierarchy() {
    let bundle = Bundle::busybox(&["sleep", "60"]);
    let rt = Runtime::new();
    let id = unique_id("join");
    rt.create(&bundle, &id);
    let want = bundle.cgroup_path();
    let ours = cgroups_of(std::process::id().cast_signed());
    let check = |pid: i32, who: &str| {
        let theirs = cgroups_of(pid);
        assert_eq!(
            theirs.len(),
            ours.len(),
            "{who}: hierarchies {theirs:?} vs the host's {ours:?}"
        );
        for (h, p) in &theirs {
            assert_eq!(p, &want, "{who} ({pid}) in hierarchy {h}: {theirs:?}");
        }
    };
    let init = rt.pid(&id);
    check(init, "created init");
    rt.run_ok(&["start", &id]);
    rt.wait_status(&id, "running");
    check(init, "running init");
    let exec = rt.spawn(&["exec", &id, "sleep", "30"]);
    let mut exec_pid = None;
    wait_for("the exec'd sleep", || {
        exec_pid = bundle.processes().into_iter().find(|p| *p != init);
        exec_pid.is_some()
    });
    check(exec_pid.unwrap(), "exec'd process");
    rt.run_ok(&["delete", "-f", &id]);
    drop(exec.wait());
    bundle.assert_gone();
}

/// With a cgroup namespace the init enters its cgroups before unsharing it, so the namespace
/// is rooted at the container's cgroup: inside, every hierarchy shows `/`.
#[test]
fn a_cgroup_namespace_is_rooted_at_the_containers_cgroup() {
    let bundle = Bundle::busybox(&["cat", "/proc/self/cgroup"]);
    bundle.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "cgroup"}));
    });
    let out = Runtime::new().run_stdout(&bundle);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        cgroups_of(std::process::id().cast_signed()).len(),
        "{out}"
    );
    assert!(lines.iter().all(|l| l.ends_with(":/")), "{out}");
    bundle.assert_gone();
}
