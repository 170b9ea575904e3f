//! `exec` into a running container: what the new process sees.

mod common;

use std::fs;

use common::*;
use serde_json::json;

/// A running container (hostname `arca-exec`, a `/marker` file, `sleep` as
/// pid 1) and its id. Declared bundle first so the runtime drops first.
fn running() -> (Bundle, Runtime, String) {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    fs::write(bundle.rootfs().join("marker"), "in the rootfs\n").unwrap();
    bundle.edit(|c| c["hostname"] = json!("arca-exec"));
    let rt = Runtime::new();
    let id = unique_id("exec");
    rt.run_detached(&bundle, &id);
    rt.wait_status(&id, "running");
    (bundle, rt, id)
}

#[test]
fn exec_sees_container() {
    let (_bundle, rt, id) = running();
    let init = rt.pid(&id);
    let out = rt.run_ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "hostname; cat /marker; cat /proc/1/comm; readlink /proc/self/ns/pid; \
         readlink /proc/self/ns/mnt; readlink /proc/self/ns/net; echo $$",
    ]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "arca-exec", "{out}");
    assert_eq!(lines[1], "in the rootfs", "{out}");
    assert_eq!(
        lines[2], "sleep",
        "pid 1 of its pid namespace is init: {out}"
    );
    assert_eq!(lines[3], ns_link(init, "pid"), "{out}");
    assert_eq!(lines[4], ns_link(init, "mnt"), "{out}");
    assert_eq!(lines[5], ns_link(init, "net"), "{out}");
    assert_ne!(lines[6], "1", "exec'd process is not pid 1: {out}");
    // The container is unaffected.
    assert_eq!(rt.status(&id), "running");
}

#[test]
fn exec_exit_code() {
    let (_bundle, rt, id) = running();
    let out = rt.output(&["exec", &id, "sh", "-c", "echo before; exit 42"]);
    assert_eq!(out.code(), 42, "{out}");
    assert_eq!(out.stdout, "before\n");
    assert_eq!(rt.status(&id), "running");
}

#[test]
fn exec_cwd_env_user() {
    let (_bundle, rt, id) = running();
    let out = rt.run_ok(&[
        "exec",
        "--cwd",
        "/tmp",
        "--env",
        "FOO=bar",
        // Not `-e` here: runc (urfave/cli) refuses both forms of one flag.
        "--env",
        "BAZ=qux",
        "--user",
        "1000:1001",
        "--additional-gids",
        "20",
        &id,
        "sh",
        "-c",
        "pwd; echo $FOO $BAZ; id -u; id -g; grep Groups /proc/self/status; echo $PATH",
    ]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "/tmp", "{out}");
    assert_eq!(lines[1], "bar qux", "{out}");
    assert_eq!(lines[2], "1000", "{out}");
    assert_eq!(lines[3], "1001", "{out}");
    assert_eq!(
        lines[4].split_whitespace().collect::<Vec<_>>(),
        ["Groups:", "20"],
        "{out}"
    );
    // The container's env is the base of the exec'd process' env.
    assert!(lines[5].contains("/bin"), "PATH from the spec: {out}");
}

#[test]
fn exec_user_uid_only() {
    let (_bundle, rt, id) = running();
    let out = rt.run_ok(&["exec", "--user", "65534", &id, "sh", "-c", "id -u; id -g"]);
    // runc: `--user UID` keeps gid 0.
    assert_eq!(out.stdout, "65534\n0\n");
}

#[test]
fn exec_process_json() {
    let (bundle, rt, id) = running();
    let process = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1000},
        "args": ["sh", "-c", "echo from-process-json; pwd; echo $PJ; id -u"],
        "env": ["PATH=/bin", "PJ=yes"],
        "cwd": "/etc",
        "noNewPrivileges": true
    });
    let file = bundle.path().join("process.json");
    fs::write(&file, serde_json::to_string(&process).unwrap()).unwrap();
    let out = rt.run_ok(&["exec", "--process", file.to_str().unwrap(), &id]);
    assert_eq!(out.stdout, "from-process-json\n/etc\nyes\n1000\n", "{out}");
}

#[test]
fn exec_detached_pid_file() {
    let (bundle, rt, id) = running();
    let init = rt.pid(&id);
    let pidfile = bundle.path().join("exec.pid");
    let out = rt.run_ok(&[
        "exec",
        "-d",
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
        "sleep",
        "999",
    ]);
    assert_eq!(out.stdout, "", "{out}");
    let text = fs::read_to_string(&pidfile).unwrap();
    let pid: i32 = text.trim().parse().expect("pid file holds a pid");
    assert!(process_alive(pid), "exec'd process {pid} runs");
    assert_eq!(ns_link(pid, "pid"), ns_link(init, "pid"));
    assert_eq!(ns_link(pid, "mnt"), ns_link(init, "mnt"));
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"sleep\0999\0");
    // It is one of the container's processes (ps lists it).
    let ps = rt.run_ok(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_str(&ps.stdout).unwrap();
    assert!(pids.contains(&i64::from(pid)), "ps lists {pid}: {pids:?}");
    // delete --force takes it down with the container.
    rt.run_ok(&["delete", "--force", &id]);
    wait_for("exec'd process to die", || !process_alive(pid));
}

#[test]
fn exec_into_stopped_container_fails() {
    let (bundle, rt, id) = running();
    rt.run_ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    let out = rt.output(&["exec", &id, "true"]);
    // runc: `cannot exec in a stopped container`.
    assert!(
        contains_any(out.assert_failure(), &["stopped", "not running"]),
        "{out}"
    );
    rt.run_ok(&["delete", &id]);
    bundle.assert_gone();
}

#[test]
fn exec_nonexistent_executable() {
    let (_bundle, rt, id) = running();
    let out = rt.output(&["exec", &id, "/no/such/binary"]);
    // runc: `exec failed: unable to start container process: exec:
    // "/no/such/binary": stat /no/such/binary: no such file or directory`.
    assert!(
        contains_any(out.assert_failure(), &["/no/such/binary"]),
        "{out}"
    );
    assert_eq!(rt.status(&id), "running");
}
