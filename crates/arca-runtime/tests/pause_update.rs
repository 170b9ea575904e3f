//! `pause` / `resume` (cgroup freezer) and `update` (resource limits of a live container),
//! through runc's command line, on real containers.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use common::*;

/// A container counting in /out/count (a host dir) every 50ms, running; returns the host file.
fn counter(rt: &Runtime, id: &str) -> (Bundle, PathBuf) {
    let bundle = Bundle::busybox(&[
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /out/count; sleep 0.05; done",
    ]);
    let out = bundle.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let src = out.to_str().unwrap().to_string();
    bundle.edit(|c| {
        add_mount(
            c,
            serde_json::json!({"destination": "/out", "type": "bind", "source": src,
                               "options": ["rbind", "rw"]}),
        )
    });
    fs::create_dir_all(bundle.rootfs().join("out")).unwrap();
    rt.run_detached(&bundle, id);
    let count = out.join("count");
    wait_for("the counter to start", || read_count(&count) > 0);
    (bundle, count)
}

/// The counter's value; retried while the file is being rewritten (empty).
fn read_count(file: &Path) -> u64 {
    for _ in 0..50 {
        if let Some(n) = fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return n;
        }
        sleep(Duration::from_millis(10));
    }
    0
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let rt = Runtime::new();
    let id = unique_id("pause");
    let (bundle, count) = counter(&rt, &id);
    let pid = rt.pid(&id);

    rt.run_ok(&["pause", &id]);
    assert_eq!(rt.status(&id), "paused");
    if !is_unified() {
        let freezer = bundle.controller_dir("freezer");
        assert_eq!(read_trim(&freezer.join("freezer.state")), "FROZEN");
    }
    let status = read_trim(Path::new(&format!("/proc/{pid}/status")));
    let state = status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .unwrap_or("")
        .trim()
        .to_string();
    assert!(
        state.starts_with('D') || state.starts_with('S'),
        "a frozen task sleeps: {state}"
    );

    // Let any write in flight land, then the counter must stand still.
    sleep(Duration::from_millis(200));
    let a = read_count(&count);
    sleep(Duration::from_millis(300));
    let b = read_count(&count);
    assert_eq!(a, b, "the counter advanced while paused");

    // Pausing twice, or resuming a running container, is refused.
    let err = rt.output(&["pause", &id]);
    assert!(!err.success(), "pause of a paused container: {err}");

    rt.run_ok(&["resume", &id]);
    assert_eq!(rt.status(&id), "running");
    wait_for("the counter to advance after resume", || {
        read_count(&count) > b
    });
    let err = rt.output(&["resume", &id]);
    assert!(!err.success(), "resume of a running container: {err}");

    rt.run_ok(&["delete", "--force", &id]);
    rt.assert_no_state(&id);
    wait_for("the container to be gone", || {
        bundle.cgroup_dirs().is_empty() && bundle.processes().is_empty()
    });
}

#[test]
fn pause_of_a_stopped_container_fails() {
    let rt = Runtime::new();
    let id = unique_id("pstop");
    let bundle = Bundle::busybox(&["true"]);
    rt.run_detached(&bundle, &id);
    rt.wait_status(&id, "stopped");
    let out = rt.output(&["pause", &id]);
    let err = out.assert_failure().to_string();
    if !is_runc() {
        assert!(
            err.contains("cannot pause container") && err.contains("stopped"),
            "{err}"
        );
    }
    let out = rt.output(&["resume", &id]);
    out.assert_failure();
    rt.run_ok(&["delete", &id]);
}

#[test]
fn delete_force_of_a_paused_container() {
    let rt = Runtime::new();
    let id = unique_id("pdel");
    let (bundle, _count) = counter(&rt, &id);
    rt.run_ok(&["pause", &id]);
    assert_eq!(rt.status(&id), "paused");
    rt.run_ok(&["delete", "--force", &id]);
    rt.assert_no_state(&id);
    wait_for("the paused container to be gone", || {
        bundle.cgroup_dirs().is_empty() && bundle.processes().is_empty()
    });
    bundle.assert_gone();
}

#[test]
fn kill_of_a_paused_container() {
    let rt = Runtime::new();
    let id = unique_id("pkill");
    let (_bundle, _count) = counter(&rt, &id);
    rt.run_ok(&["pause", &id]);
    rt.run_ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    rt.run_ok(&["delete", &id]);
    rt.assert_no_state(&id);
}

/// (memory limit, pids limit) as the host's cgroup files hold them.
fn host_limits(bundle: &Bundle) -> (String, String) {
    if is_unified() {
        let dir = bundle.cgroup_dirs().remove(0);
        (
            read_trim(&dir.join("memory.max")),
            read_trim(&dir.join("pids.max")),
        )
    } else {
        (
            read_trim(
                &bundle
                    .controller_dir("memory")
                    .join("memory.limit_in_bytes"),
            ),
            read_trim(&bundle.controller_dir("pids").join("pids.max")),
        )
    }
}

fn sleeper(rt: &Runtime, id: &str) -> Bundle {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    rt.run_detached(&bundle, id);
    bundle
}

/// What the container itself reads from its cgroup mount.
fn inside(rt: &Runtime, id: &str, file: &str) -> String {
    rt.run_ok(&["exec", id, "cat", file])
        .stdout
        .trim()
        .to_string()
}

#[test]
fn update_memory_and_pids_flags() {
    let rt = Runtime::new();
    let id = unique_id("upd");
    let bundle = sleeper(&rt, &id);
    rt.run_ok(&["update", "--memory", "64m", "--pids-limit", "50", &id]);
    let (mem, pids) = host_limits(&bundle);
    assert_eq!(mem, (64u64 << 20).to_string());
    assert_eq!(pids, "50");
    if !is_unified() {
        assert_eq!(
            inside(&rt, &id, "/sys/fs/cgroup/memory/memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(inside(&rt, &id, "/sys/fs/cgroup/pids/pids.max"), "50");
    }

    // Bad input names the flag and changes nothing.
    let out = rt.output(&["update", "--memory", "lots", "--pids-limit", "60", &id]);
    let err = out.assert_failure().to_string();
    assert!(err.contains("memory"), "{err}");
    if !is_runc() {
        assert!(err.contains("--memory"), "{err}");
    }
    assert_eq!(host_limits(&bundle), (mem, pids));
    rt.run_ok(&["delete", "--force", &id]);
}

#[test]
fn update_from_a_resources_file() {
    let rt = Runtime::new();
    let id = unique_id("updr");
    let bundle = sleeper(&rt, &id);
    let file = bundle.path().join("resources.json");
    fs::write(
        &file,
        r#"{"memory": {"limit": 33554432}, "pids": {"limit": 40}}"#,
    )
    .unwrap();
    rt.run_ok(&["update", "-r", file.to_str().unwrap(), &id]);
    assert_eq!(host_limits(&bundle), ("33554432".into(), "40".into()));
    if !is_unified() {
        assert_eq!(
            inside(&rt, &id, "/sys/fs/cgroup/memory/memory.limit_in_bytes"),
            "33554432"
        );
    }
    rt.run_ok(&["delete", "--force", &id]);
}
