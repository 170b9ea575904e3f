//! `--init`: arca's reaper as the container's PID 1, from the user's side: what the container
//! sees as PID 1, orphans reaped (and, without it, left as zombies), the stop signal reaching
//! the command, exit statuses passed through.

mod common;

use std::time::{Duration, Instant};

use common::engine::{code, stdout, Engine, IMAGE};

/// The processes in `container`'s pid namespace that are zombies (state `Z` in /proc/N/stat),
/// as "PID (COMM)", read by a process exec'd into it.
fn zombies(e: &Engine, container: &str) -> Vec<String> {
    let out = e.ok(&[
        "exec",
        container,
        "sh",
        "-c",
        "cat /proc/[0-9]*/stat 2>/dev/null",
    ]);
    out.lines()
        .filter(|l| l.split(' ').nth(2) == Some("Z"))
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

/// An orphan: the inner shell exits at once, its `sleep 0.1` is reparented to PID 1; then the
/// command becomes a `sleep` that never waits for anything.
const ORPHAN: &str = "sh -c 'sleep 0.1 &'; exec sleep 60";

#[test]
fn the_init_is_pid_1_and_reaps_orphans() {
    let e = Engine::new();
    e.ok(&[
        "run", "-d", "--init", "--name", "reaped", IMAGE, "sh", "-c", ORPHAN,
    ]);
    let cmdline = e.ok(&["exec", "reaped", "cat", "/proc/1/cmdline"]);
    assert_eq!(
        cmdline,
        format!("/run/arca-init\0--\0sh\0-c\0{ORPHAN}\0"),
        "PID 1 is not the init running the command"
    );
    // The command is PID 1's child, in a process group of its own.
    let stat = e.ok(&["exec", "reaped", "sh", "-c", "cat /proc/[0-9]*/stat"]);
    let sleeper = stat
        .lines()
        .find(|l| l.contains(" (sleep) ") && l.split(' ').nth(3) == Some("1"))
        .unwrap_or_else(|| panic!("no sleep child of PID 1:\n{stat}"));
    let fields: Vec<&str> = sleeper.split(' ').collect();
    assert_eq!(fields[4], fields[0], "not its own process group: {sleeper}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(zombies(&e, "reaped"), Vec::<String>::new());
    let inspect = e.inspect("reaped");
    assert_eq!(inspect["HostConfig"]["Init"], true);
    assert_eq!(inspect["Path"], "sh", "the record shows the user's command");

    // The same without --init: PID 1 is the exec'd sleep, which reaps nothing.
    e.ok(&["run", "-d", "--name", "unreaped", IMAGE, "sh", "-c", ORPHAN]);
    e.eventually("the orphan's zombie", || {
        zombies(&e, "unreaped")
            .iter()
            .any(|z| z.ends_with(" (sleep)"))
    });
}

#[test]
fn stop_reaches_the_command_through_the_init() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--init",
        "--name",
        "trapper",
        IMAGE,
        "sh",
        "-c",
        "trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.1; done",
    ]);
    e.eventually("ready", || e.ok(&["logs", "trapper"]).contains("ready"));
    let began = Instant::now();
    e.ok(&["stop", "trapper"]);
    // Well before the 10 s after which stop would SIGKILL it (exit 137).
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(e.inspect("trapper")["State"]["ExitCode"], 42);
    assert_eq!(e.ok(&["logs", "trapper"]), "ready\ngot TERM\n");
}

#[test]
fn exit_statuses_pass_through_the_init() {
    let e = Engine::new();
    let exited = e.arca(&["run", "--rm", "--init", IMAGE, "sh", "-c", "exit 7"]);
    assert_eq!(
        code(&exited),
        7,
        "{}",
        String::from_utf8_lossy(&exited.stderr)
    );
    // Killed by a signal: 128 + N, as without the init.
    let killed = e.arca(&["run", "--rm", "--init", IMAGE, "sh", "-c", "kill -9 $$"]);
    assert_eq!(code(&killed), 137);
    // The command is checked before anything runs, as without the init.
    let missing = e.arca(&["run", "--rm", "--init", IMAGE, "no-such-command"]);
    assert_eq!(code(&missing), 127);
    // A read-only root and another user do not stop the init: its mount point is made before
    // the root turns read-only, and the binary is readable and executable by anyone.
    let o = e.arca(&[
        "run",
        "--rm",
        "--init",
        "--read-only",
        "-u",
        "1000:1000",
        IMAGE,
        "sh",
        "-c",
        "id -u; tr '\\0' ' ' < /proc/1/cmdline",
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        stdout(&o),
        "1000\n/run/arca-init -- sh -c id -u; tr '\\0' ' ' < /proc/1/cmdline "
    );
    // The host's binary is bound read-only: the container cannot write it.
    let o = e.ok(&[
        "run",
        "--rm",
        "--init",
        IMAGE,
        "sh",
        "-c",
        "awk '$5 == \"/run/arca-init\" { print $6 }' /proc/self/mountinfo",
    ]);
    assert!(o.starts_with("ro,"), "{o}");
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}
