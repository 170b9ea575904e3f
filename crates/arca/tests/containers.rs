//! The engine from the user's side: real containers from the busybox image (built from
//! Debian's busybox-static by scripts/busybox-image.sh, loaded with `arca load`), run as root.
//! Each test has its own `--root`; whatever it started is removed when it ends, even on
//! failure (`rm -f` of every container, then any mount left under the root).

mod common;

use std::path::Path;
use std::time::Duration;

use common::engine::{code, stdout, through_pty, Engine, IMAGE};

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
    // Detached the same; the monitor `run -d` started before creating is gone with it.
    let missing = e.arca(&["run", "-d", IMAGE, "no-such-command"]);
    assert_eq!(code(&missing), 127);
    let no_image = e.arca(&["run", "-d", "--pull", "never", "no-such-image", "true"]);
    assert_eq!(code(&no_image), 125);
    let root = e.root().display().to_string();
    let monitors: Vec<_> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| std::fs::read(p.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("__monitor") && c.contains(&root))
        .collect();
    assert!(monitors.is_empty(), "monitors left: {monitors:?}");
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
    // `run -d` returned once the user's process runs: the init has exec'd already.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"sleep\x00100\x00");
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
    let ids = e.env.parallel(20, &["run", "-d", IMAGE, "sleep", "30"]);
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
#[test]
fn run_and_exec_with_a_terminal() {
    let e = Engine::new();
    let arca = e.env.arca_shell();
    let (out, status) = through_pty(
        &e,
        &format!("{arca} run --rm -it --name tty {IMAGE} sh"),
        &["echo $((6*7)); tty; exit 3\n"],
    );
    assert_eq!(status, 3, "{out}");
    assert!(out.contains("42"), "{out}");
    assert!(
        out.contains("/dev/pts/0"),
        "the container's stdin is not its own pty: {out}"
    );

    e.ok(&["run", "-d", "--name", "host", IMAGE, "sleep", "60"]);
    let (out, status) = through_pty(
        &e,
        &format!("{arca} exec -it host sh"),
        &["tty; echo in-$((2+3)); exit 4\n"],
    );
    assert_eq!(status, 4, "{out}");
    assert!(out.contains("in-5") && out.contains("/dev/pts/"), "{out}");

    // Detached with -t: the monitor holds the pty and logs what it shows.
    e.ok(&[
        "run",
        "-d",
        "-t",
        "--name",
        "dt",
        IMAGE,
        "sh",
        "-c",
        "tty; exit 2",
    ]);
    assert_eq!(e.ok(&["wait", "dt"]).trim(), "2");
    assert!(e.ok(&["logs", "dt"]).contains("/dev/pts/0"));
}

#[test]
fn exec_runs_in_the_running_container() {
    let e = Engine::new();
    e.ok(&[
        "run", "-d", "--name", "box", "-e", "A=1", IMAGE, "sleep", "60",
    ]);
    let o = e.arca(&[
        "exec",
        "-e",
        "B=2",
        "-w",
        "/tmp",
        "-u",
        "nobody",
        "box",
        "sh",
        "-c",
        "echo $A$B; pwd; id -u; cat /proc/1/cmdline | tr '\\0' ' '; exit 6",
    ]);
    assert_eq!(code(&o), 6, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o), "12\n/tmp\n65534\nsleep 60 ");
    assert_eq!(code(&e.arca(&["exec", "box", "no-such-command"])), 127);
    e.ok(&["exec", "-d", "box", "sh", "-c", "echo detached > /tmp/d"]);
    e.eventually("the detached exec", || {
        stdout(&e.arca(&["exec", "box", "cat", "/tmp/d"])) == "detached\n"
    });
    e.ok(&["stop", "-t", "1", "box"]);
    let stopped = e.arca(&["exec", "box", "true"]);
    assert!(!stopped.status.success());
    assert!(String::from_utf8_lossy(&stopped.stderr).contains("not running"));
}

#[test]
fn restart_policy_restarts_a_failing_container() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        IMAGE,
        "sh",
        "-c",
        "echo try; exit 1",
    ]);
    // Two restarts after the first run, then it stays exited with the last code.
    e.eventually("three runs", || {
        e.inspect("flaky")["RestartCount"] == 2 && e.inspect("flaky")["State"]["Status"] == "exited"
    });
    assert_eq!(e.ok(&["logs", "flaky"]), "try\ntry\ntry\n");
    assert_eq!(e.inspect("flaky")["State"]["ExitCode"], 1);

    // `always` keeps it coming back, until the user stops it.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "loop",
        "--restart",
        "always",
        IMAGE,
        "sh",
        "-c",
        "sleep 0.2",
    ]);
    e.eventually("a restart", || {
        e.inspect("loop")["RestartCount"].as_u64() >= Some(1)
    });
    e.ok(&["stop", "-t", "1", "loop"]);
    let after = e.inspect("loop")["RestartCount"].clone();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(e.inspect("loop")["State"]["Status"], "exited");
    assert_eq!(
        e.inspect("loop")["RestartCount"],
        after,
        "restarted after stop"
    );
}

#[test]
fn a_healthcheck_turns_a_container_unhealthy() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "svc",
        "--health-cmd",
        "test -f /tmp/ready",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        IMAGE,
        "sh",
        "-c",
        "touch /tmp/ready; sleep 1.5; rm /tmp/ready; sleep 60",
    ]);
    e.eventually("healthy", || e.ok(&["ps"]).contains("(healthy)"));
    assert_eq!(e.inspect("svc")["State"]["Health"]["Status"], "healthy");
    e.eventually("unhealthy", || e.ok(&["ps"]).contains("(unhealthy)"));
    let health = &e.inspect("svc")["State"]["Health"];
    assert_eq!(health["Status"], "unhealthy");
    assert!(health["FailingStreak"].as_u64() >= Some(2), "{health}");
    assert_eq!(e.inspect("svc")["State"]["Running"], true);
}

#[test]
fn the_image_healthcheck_applies_unless_disabled() {
    let e = Engine::new();
    // An image with a HEALTHCHECK: busybox exported and imported back with one.
    e.image_with_changes(
        "checked:1",
        &[
            "HEALTHCHECK --interval=200ms --retries=2 CMD test -f /tmp/ready",
            r#"CMD ["sh", "-c", "touch /tmp/ready; sleep 1.5; rm /tmp/ready; sleep 60"]"#,
        ],
    );
    let config = &e.ok(&["image", "inspect", "checked:1"]);
    assert!(config.contains("\"Healthcheck\""), "{config}");

    e.ok(&["run", "-d", "--name", "svc", "checked:1"]);
    let status = |name: &str| e.inspect(name)["State"]["Health"]["Status"].clone();
    e.eventually("healthy", || status("svc") == "healthy");
    e.eventually("unhealthy", || status("svc") == "unhealthy");
    assert!(e.ok(&["ps"]).contains("(unhealthy)"));

    // --no-healthcheck: no check at all, even once it would have failed.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "plain",
        "--no-healthcheck",
        "checked:1",
    ]);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(e.inspect("plain")["State"]["Health"].is_null());
    let plain = e.ok(&["ps", "--filter", "name=plain"]);
    assert!(!plain.contains("health"), "{plain}");
    // It does not mix with the flags that set one.
    let both = e.arca(&[
        "run",
        "--rm",
        "--no-healthcheck",
        "--health-cmd",
        "true",
        "checked:1",
    ]);
    assert_eq!(code(&both), 125);
    assert!(
        String::from_utf8_lossy(&both.stderr).contains("--no-healthcheck conflicts"),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
}

#[test]
fn pause_rename_top_stats_and_prune() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "-m",
        "64m",
        IMAGE,
        "sh",
        "-c",
        "while :; do echo tick; sleep 0.05; done",
    ]);
    e.eventually("ticks", || e.ok(&["logs", "ticker"]).lines().count() > 2);
    e.ok(&["pause", "ticker"]);
    assert!(e.ok(&["ps"]).contains("(Paused)"));
    let state = &e.inspect("ticker")["State"];
    assert_eq!(
        (&state["Status"], &state["Paused"], &state["Running"]),
        (&"paused".into(), &true.into(), &true.into()),
        "{state}"
    );
    let frozen = e.ok(&["logs", "ticker"]).lines().count();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        e.ok(&["logs", "ticker"]).lines().count(),
        frozen,
        "a paused container ran"
    );
    e.ok(&["unpause", "ticker"]);
    e.eventually("ticks after unpause", || {
        e.ok(&["logs", "ticker"]).lines().count() > frozen
    });
    assert_eq!(e.inspect("ticker")["State"]["Status"], "running");
    assert_eq!(e.inspect("ticker")["State"]["Paused"], false);

    e.ok(&["rename", "ticker", "clock"]);
    assert!(e.ok(&["ps"]).contains("clock"));
    assert!(!e.arca(&["inspect", "ticker"]).status.success());

    let top = e.ok(&["top", "clock"]);
    assert!(top.contains("sh -c while"), "{top}");
    let stats = e.ok(&["stats", "--no-stream", "clock"]);
    assert!(
        stats.contains("clock") && stats.contains("/ 67.1MB"),
        "{stats}"
    );

    e.ok(&["run", "--name", "done", IMAGE, "true"]);
    let pruned = e.ok(&["container", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed containers: 1"), "{pruned}");
    let left = e.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.trim(), "clock");
    assert!(e.ok(&["version"]).contains("arca version"));
    assert!(e.ok(&["info"]).contains("Running: 1"));
}

#[test]
fn export_then_import_round_trips_a_container() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "--name",
        "src",
        IMAGE,
        "sh",
        "-c",
        "echo made-inside > /marker",
    ]);
    let tar = e.env.path().join("src.tar");
    e.ok(&["export", "-o", tar.to_str().unwrap(), "src"]);
    let id = e.ok(&["import", tar.to_str().unwrap(), "exported:1"]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let o = e.ok(&[
        "run",
        "--rm",
        "exported:1",
        "sh",
        "-c",
        "cat /marker; ls /bin/busybox",
    ]);
    assert_eq!(o, "made-inside\n/bin/busybox\n");
}

#[test]
fn pull_from_a_docker_archive_and_run() {
    let e = Engine::new();
    let tar = e.env.path().join("bb.tar");
    e.ok(&["save", "-o", tar.to_str().unwrap(), IMAGE]);
    let other = common::Env::with_netns();
    let out = other.ok(&["pull", &format!("docker-archive:{}", tar.display())]);
    assert!(out.contains("manifest sha256:"), "{out}");
    assert!(other.ok(&["images"]).contains("arca-busybox"));
    let o = other.ok(&["run", "--rm", IMAGE, "echo", "from-archive"]);
    assert_eq!(o, "from-archive\n");
}
