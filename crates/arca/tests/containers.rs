//! The engine from the user's side: real containers from the busybox image (built from
//! Debian's busybox-static by scripts/busybox-image.sh, loaded with `arca load`), run as root.
//! Each test has its own `--root`; whatever it started is removed when it ends, even on
//! failure (`rm -f` of every container, then any mount left under the root).

mod common;

use std::path::Path;

use common::engine::{code, stdout, Engine, IMAGE};

#[test]
fn run_shows_output_and_passes_the_exit_code() {
    let e = Engine::new();
    let o = e.arca(&[
        "run",
        "--rm",
        "--hostname",
        "box",
        "-e",
        "GREETING=hi",
        "-w",
        "/tmp",
        IMAGE,
        "sh",
        "-c",
        "echo $GREETING; hostname; pwd; id -u; exit 3",
    ]);
    assert_eq!(code(&o), 3, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o), "hi\nbox\n/tmp\n0\n");
    // --rm: no record, no snapshot, no mount, no directory.
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert!(e.mounts().is_empty(), "{:?}", e.mounts());
    let active = e.root().join("images/snapshots/active");
    assert_eq!(std::fs::read_dir(active).unwrap().count(), 0);
    assert_eq!(
        std::fs::read_dir(e.root().join("containers"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn exit_codes_are_dockers() {
    let e = Engine::new();
    let missing = e.arca(&["run", "--rm", IMAGE, "no-such-command"]);
    assert_eq!(code(&missing), 127);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-command"));
    let not_exec = e.arca(&["run", "--rm", IMAGE, "/etc/passwd"]);
    assert_eq!(code(&not_exec), 126);
    let no_image = e.arca(&["run", "--rm", "--pull", "never", "no-such-image", "true"]);
    assert_eq!(code(&no_image), 125);
    // A failed create leaves nothing behind.
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert!(e.mounts().is_empty());
}

#[test]
fn detached_container_logs_stops_and_is_removed() {
    let e = Engine::new();
    let id = e
        .ok(&[
            "run",
            "-d",
            "--name",
            "web",
            IMAGE,
            "sh",
            "-c",
            "echo started; echo oops >&2; trap 'echo bye; exit 7' TERM; \
             while true; do sleep 0.1; done",
        ])
        .trim()
        .to_owned();
    assert_eq!(id.len(), 64);
    let ps = e.ok(&["ps"]);
    assert!(ps.contains("web") && ps.contains("Up"), "{ps}");
    assert_eq!(e.ok(&["ps", "-q"]).trim(), &id[..12]);
    e.eventually("the first log line", || {
        e.ok(&["logs", "web"]).contains("started")
    });
    let logs = e.arca(&["logs", "web"]);
    assert_eq!(stdout(&logs), "started\n");
    assert_eq!(String::from_utf8_lossy(&logs.stderr), "oops\n");
    assert_eq!(e.inspect("web")["State"]["Running"], true);
    e.ok(&["stop", "-t", "5", "web"]);
    let state = &e.inspect("web")["State"];
    assert_eq!(state["Status"], "exited");
    assert_eq!(state["ExitCode"], 7);
    assert!(e.ok(&["ps", "-a"]).contains("Exited (7)"));
    assert_eq!(e.ok(&["ps", "-q"]), "");
    assert!(e.ok(&["logs", "web"]).contains("bye"));
    // Stopped: its rootfs is unmounted; removal takes the rest.
    assert!(e.mounts().is_empty(), "{:?}", e.mounts());
    e.ok(&["rm", "web"]);
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert!(!e.root().join("containers").join(&id).exists());
}

#[test]
fn a_container_is_restarted_with_start() {
    let e = Engine::new();
    e.ok(&[
        "create",
        "--name",
        "once",
        IMAGE,
        "sh",
        "-c",
        "echo ran; exit 4",
    ]);
    assert!(e.ok(&["ps", "-a"]).contains("Created"));
    e.ok(&["start", "once"]);
    assert_eq!(e.ok(&["wait", "once"]).trim(), "4");
    e.ok(&["start", "once"]);
    assert_eq!(e.ok(&["wait", "once"]).trim(), "4");
    assert_eq!(e.ok(&["logs", "once"]), "ran\nran\n");
}

#[test]
fn rm_force_kills_a_running_container() {
    let e = Engine::new();
    e.ok(&["run", "-d", "--name", "sleeper", IMAGE, "sleep", "100"]);
    let pid = e.inspect("sleeper")["State"]["Pid"].as_i64().unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    let refused = e.arca(&["rm", "sleeper"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("rm -f"));
    e.ok(&["rm", "-f", "sleeper"]);
    e.eventually("the init to be gone", || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert!(e.mounts().is_empty());
}

#[test]
fn a_killed_monitor_shows_in_ps_and_rm_cleans_up() {
    let e = Engine::new();
    e.ok(&["run", "-d", "--name", "orphan", IMAGE, "sleep", "100"]);
    let state = e.inspect("orphan")["State"].clone();
    let pid = state["Pid"].as_i64().unwrap();
    let monitor = state["MonitorPid"].as_i64().unwrap();
    std::process::Command::new("kill")
        .args(["-9", &monitor.to_string()])
        .status()
        .unwrap();
    e.eventually("ps to notice", || e.ok(&["ps"]).contains("monitor lost"));
    e.ok(&["rm", "-f", "orphan"]);
    e.eventually("the init to be gone", || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert!(e.mounts().is_empty(), "{:?}", e.mounts());
}

#[test]
fn twenty_parallel_detached_runs_lose_nothing() {
    let e = Engine::new();
    let children: Vec<_> = (0..20)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_arca"))
                .arg("--root")
                .arg(e.root())
                .args(["run", "-d", IMAGE, "sleep", "30"])
                .output_async()
        })
        .collect();
    let ids: Vec<String> = children
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout).unwrap().trim().to_owned()
        })
        .collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 20);
    let names: std::collections::HashSet<String> = e
        .ok(&["ps", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(names.len(), 20, "{names:?}");
    assert_eq!(e.ok(&["ps", "-q"]).lines().count(), 20);
}

#[test]
fn limits_and_read_only_root_reach_the_container() {
    let e = Engine::new();
    let o = e.ok(&[
        "run",
        "--rm",
        "--memory",
        "64m",
        "--pids-limit",
        "50",
        "--read-only",
        IMAGE,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; \
         cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; \
         touch /x 2>/dev/null && echo writable || echo read-only",
    ]);
    let lines: Vec<&str> = o.lines().collect();
    assert_eq!(lines, ["67108864", "50", "read-only"], "{o}");
}

/// `Command::spawn` with piped output, so many can run at once.
trait SpawnPiped {
    fn output_async(&mut self) -> std::process::Child;
}

impl SpawnPiped for std::process::Command {
    fn output_async(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}
