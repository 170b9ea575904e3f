//! CVE-2024-21626 ("Leaky Vessels"): fds of the runtime (or leaked to it by
//! its caller) reaching the container, as its cwd (`process.cwd` or
//! `exec --cwd` = `/proc/self/fd/N`), as the path of the executable, or as
//! open fds.
//!
//! Every case runs twice: with the runtime's caller leaking fds 3..=9 on a
//! host directory (`exec 3<"$HOST_DIR" ...`, not close-on-exec), and with
//! fds 3..=9 closed so that the runtime's own fds (exec fifo, sync socket,
//! cgroup or state dirs...) land there.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::common::*;
use crate::support::*;

/// Caller set-ups: fds 3..=9 leaked on the host directory, or closed.
const SETUPS: [(&str, &str); 2] = [
    (
        "caller leaks fds 3-9 on a host dir",
        "exec 3<\"$HOST_DIR\" 4<\"$HOST_DIR\" 5<\"$HOST_DIR\" 6<\"$HOST_DIR\" \
         7<\"$HOST_DIR\" 8<\"$HOST_DIR\" 9<\"$HOST_DIR\"",
    ),
    (
        "runtime's own fds at 3-9",
        "exec 3<&- 4<&- 5<&- 6<&- 7<&- 8<&- 9<&-",
    ),
];

/// What a process whose cwd may be on the host prints: its cwd (getcwd says
/// "(unreachable)" outside the root), its cwd's entries, and the host
/// directory reached by climbing `..` from there (the attack of the advisory).
fn cwd_probe(host: &HostDir) -> String {
    format!(
        "pwd; /bin/pwd; ls -a; ls -a ../../../../../../../../../..{}",
        host.path_str()
    )
}

/// Asserts the probe's output shows no sign of a cwd outside the root.
fn assert_cwd_contained(out: &Out, host: &HostDir, what: &str) {
    assert!(
        !out.stdout.contains(&host.marker),
        "CVE-2024-21626: {what}: the process reached the host directory {}: {out}",
        host.path().display()
    );
    assert!(
        !out.stdout.contains("(unreachable)"),
        "CVE-2024-21626: {what}: the process's cwd is outside the container root: {out}"
    );
    assert!(
        !contains_any(
            &out.stdout,
            &["cgroup.procs", "state.json", "exec.fifo", "config.json"]
        ),
        "CVE-2024-21626: {what}: the process's cwd is a runtime directory: {out}"
    );
}

#[test]
fn process_cwd_through_proc_self_fd_stays_in_the_root() {
    let host = HostDir::new();
    for (setup_name, setup) in SETUPS {
        for n in 3..=10 {
            let bundle = Bundle::busybox(&["sh", "-c", &cwd_probe(&host)]);
            bundle.edit(|c| c["process"]["cwd"] = json!(format!("/proc/self/fd/{n}")));
            let rt = Runtime::new();
            let id = unique_id("cwd");
            rt.track(&id);
            let out = run_with_fds(
                &rt,
                setup,
                host.path(),
                &["run", "--bundle", bundle.path_str(), &id],
            );
            // Refusing the cwd is fine; a cwd on the host is not.
            assert_cwd_contained(
                &out,
                &host,
                &format!("process.cwd /proc/self/fd/{n} ({setup_name})"),
            );
        }
    }
    host.assert_untouched("process.cwd /proc/self/fd/N");
}

#[test]
fn exec_cwd_through_proc_self_fd_stays_in_the_root() {
    let host = HostDir::new();
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("exec-cwd");
    rt.run_detached(&bundle, &id);
    let probe = cwd_probe(&host);
    for (setup_name, setup) in SETUPS {
        for n in 3..=10 {
            let cwd = format!("/proc/self/fd/{n}");
            let out = run_with_fds(
                &rt,
                setup,
                host.path(),
                &["exec", "--cwd", &cwd, &id, "sh", "-c", &probe],
            );
            assert_cwd_contained(&out, &host, &format!("exec --cwd {cwd} ({setup_name})"));
        }
    }
    host.assert_untouched("exec --cwd /proc/self/fd/N");
}

/// A host directory with an executable script that prints a unique word.
fn evil_host_dir() -> (HostDir, String) {
    let host = HostDir::new();
    let word = unique_id("PWNED");
    let script = host.path().join("evil");
    fs::write(&script, format!("#!/bin/sh\necho {word}\n")).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    (host, word)
}

/// `/proc/self/fd/N/../../..(...)/<host dir>/evil`: reaches the host's
/// script if fd N is on any host directory at execve time.
fn evil_path(n: u32, host: &HostDir) -> String {
    format!(
        "/proc/self/fd/{n}/../../../../../../../../../..{}/evil",
        host.path_str()
    )
}

/// The executable's path through a leaked fd (the advisory's attack 3): the
/// fds are close-on-exec but still open while execve resolves the path.
#[test]
fn executable_through_proc_self_fd_is_not_run_from_the_host() {
    let (host, word) = evil_host_dir();
    for (setup_name, setup) in SETUPS {
        for n in 3..=10 {
            let path = evil_path(n, &host);
            let bundle = Bundle::busybox(&[&path]);
            let rt = Runtime::new();
            let id = unique_id("exe");
            rt.track(&id);
            let out = run_with_fds(
                &rt,
                setup,
                host.path(),
                &["run", "--bundle", bundle.path_str(), &id],
            );
            assert!(
                !out.stdout.contains(&word),
                "CVE-2024-21626: process.args[0] {path} ({setup_name}) ran a host \
                 executable in the container: {out}"
            );
        }
    }
}

#[test]
fn exec_executable_through_proc_self_fd_is_not_run_from_the_host() {
    let (host, word) = evil_host_dir();
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("exec-exe");
    rt.run_detached(&bundle, &id);
    for (setup_name, setup) in SETUPS {
        for n in 3..=10 {
            let path = evil_path(n, &host);
            let out = run_with_fds(&rt, setup, host.path(), &["exec", &id, &path]);
            assert!(
                !out.stdout.contains(&word),
                "CVE-2024-21626: exec {path} ({setup_name}) ran a host executable in \
                 the container: {out}"
            );
        }
    }
}

/// Asserts an `ls -l /proc/self/fd` listing shows stdio and at most ls's own
/// directory fd (3), and nothing on the host directory or the runtime's state.
fn assert_only_stdio(ls: &str, host: &HostDir, rt: &Runtime, what: &str) {
    let entries = fd_entries(ls);
    let fds: BTreeSet<u32> = entries.iter().map(|(fd, _)| *fd).collect();
    assert!(
        [0, 1, 2].iter().all(|fd| fds.contains(fd)),
        "{what}: stdio missing from the listing:\n{ls}"
    );
    assert!(
        fds.iter().all(|fd| *fd <= 3),
        "CVE-2024-21626: {what}: fds beyond stdio reached the container: {fds:?}\n{ls}"
    );
    let root = rt.root().to_str().unwrap();
    let bad: Vec<&(u32, String)> = entries
        .iter()
        .filter(|(_, t)| {
            t.contains(host.path_str())
                || t.contains(root)
                || contains_any(t, &["exec.fifo", "socket:", "/sys/fs/cgroup", "anon_inode"])
        })
        .collect();
    assert!(
        bad.is_empty(),
        "CVE-2024-21626: {what}: host or runtime fds reached the container: {bad:?}\n{ls}"
    );
}

#[test]
fn only_stdio_reaches_the_container_process() {
    let host = HostDir::new();
    for (setup_name, setup) in SETUPS {
        // run in the foreground.
        let bundle = Bundle::busybox(&["ls", "-l", "/proc/self/fd"]);
        let rt = Runtime::new();
        let id = unique_id("fds-run");
        rt.track(&id);
        let out = run_with_fds(
            &rt,
            setup,
            host.path(),
            &["run", "--bundle", bundle.path_str(), &id],
        );
        out.assert_success();
        assert_only_stdio(&out.stdout, &host, &rt, &format!("run ({setup_name})"));

        // create, then start, both with the leaked fds.
        let results = Results::new();
        let bundle = Bundle::busybox(&["sh", "-c", "ls -l /proc/self/fd > /results/fds"]);
        bundle.edit(|c| add_mount(c, results.mount()));
        let id = unique_id("fds-create");
        rt.track(&id);
        run_with_fds(
            &rt,
            setup,
            host.path(),
            &["create", "--bundle", bundle.path_str(), &id],
        )
        .assert_success();
        run_with_fds(&rt, setup, host.path(), &["start", &id]).assert_success();
        rt.wait_status(&id, "stopped");
        // The shell's redirection takes fd 1: the listing still must not go
        // beyond 3.
        assert_only_stdio(
            &results.read("fds"),
            &host,
            &rt,
            &format!("create + start ({setup_name})"),
        );
    }
}

#[test]
fn only_stdio_reaches_exec_processes() {
    let host = HostDir::new();
    let results = Results::new();
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    bundle.edit(|c| add_mount(c, results.mount()));
    let rt = Runtime::new();
    let id = unique_id("fds-exec");
    rt.run_detached(&bundle, &id);
    for (i, (setup_name, setup)) in SETUPS.iter().enumerate() {
        let out = run_with_fds(
            &rt,
            setup,
            host.path(),
            &["exec", &id, "ls", "-l", "/proc/self/fd"],
        );
        out.assert_success();
        assert_only_stdio(&out.stdout, &host, &rt, &format!("exec ({setup_name})"));

        let name = format!("fds-{i}");
        let script = format!(
            "ls -l /proc/self/fd > /results/{name}.tmp; mv /results/{name}.tmp /results/{name}"
        );
        run_with_fds(
            &rt,
            setup,
            host.path(),
            &["exec", "-d", &id, "sh", "-c", &script],
        )
        .assert_success();
        results.wait(&name);
        assert_only_stdio(
            &results.read(&name),
            &host,
            &rt,
            &format!("exec -d ({setup_name})"),
        );
    }
}
