//! Robustness and fd-hygiene: the runtime SIGKILLed half-way through create,
//! the container's init SIGKILLed, concurrent invocations on one `--root`,
//! fds leaking into the container (CVE-2024-21626 and relatives), exec'd
//! processes confined like the init, and a few host-safety checks.
//!
//! Tests that find a bug are kept failing on purpose: each names the bug in
//! its assertion message.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn sigkill(pid: i32) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
}

/// Pids whose parent is `ppid` (from /proc/*/stat).
fn children_of(ppid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // Fields after the command name: state, ppid, ...
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if parent == Some(ppid) {
            out.push(pid);
        }
    }
    out
}

/// Whether `pid`'s environment carries `ARCA_TEST_MARK=<mark>`.
fn has_mark(pid: i32, mark: &str) -> bool {
    let needle = format!("ARCA_TEST_MARK={mark}");
    fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
        .unwrap_or(false)
}

/// Ids printed by `list -q`.
fn listed(rt: &Runtime) -> BTreeSet<String> {
    rt.run_ok(&["list", "-q"])
        .stdout
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// A host directory holding one file with a unique, recognisable name.
struct HostDir {
    dir: tempfile::TempDir,
    marker: String,
}

impl HostDir {
    fn new() -> HostDir {
        let dir = tempfile::Builder::new()
            .prefix("arca-hostdir-")
            .tempdir()
            .unwrap();
        let marker = unique_id("ARCA-HOST-MARKER");
        fs::write(dir.path().join(&marker), "host secret\n").unwrap();
        HostDir { dir, marker }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn fd_numbers(entries: &[(u32, String)]) -> BTreeSet<u32> {
    entries.iter().map(|(fd, _)| *fd).collect()
}

// ---------------------------------------------------------------------------
// (1) The runtime SIGKILLed in the middle of create.
// ---------------------------------------------------------------------------

/// Pauses create in a `kind` hook (which touches a file, then sleeps), SIGKILLs
/// the runtime there, and checks that a plain `delete` removes everything.
fn sigkill_mid_create(kind: &str) {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let flags = tempfile::Builder::new()
        .prefix("arca-flags-")
        .tempdir()
        .unwrap();
    let ready = flags.path().join("hook-running");
    let mark = bundle.mark().to_string();
    let hook = json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", "touch \"$READY\"; exec sleep 1000"],
        "env": [
            PATH_ENV,
            format!("READY={}", ready.display()),
            // So that Bundle's Drop kills an orphaned hook even if we panic.
            format!("ARCA_TEST_MARK={mark}"),
        ]
    });
    bundle.edit(|c| {
        let mut hooks = serde_json::Map::new();
        hooks.insert(kind.to_string(), json!([hook]));
        c["hooks"] = Value::Object(hooks);
    });
    let rt = Runtime::new();
    let id = unique_id("killed-create");
    rt.track(&id);
    let create = rt.spawn(&["create", "--bundle", bundle.path_str(), &id]);
    let rpid = create.pid();
    wait_for(&format!("the {kind} hook to run"), || {
        ready.exists() || !process_alive(rpid)
    });
    assert!(
        ready.exists(),
        "create ended before its {kind} hook ran:\n{}",
        create.stderr_now()
    );
    // The container's init is a child of create (hooks carry the mark).
    let inits: Vec<i32> = children_of(rpid)
        .into_iter()
        .filter(|p| !has_mark(*p, &mark))
        .collect();
    assert!(
        !inits.is_empty(),
        "no container init among the children of create (pid {rpid})"
    );

    sigkill(rpid);
    let out = create.wait();
    assert!(
        out.status.code().is_none(),
        "create was not killed by the signal: {out}"
    );

    // What is left must be readable: state works (if it knows the id at all).
    let st = rt.output(&["state", &id]);
    if st.success() {
        let v: Value = serde_json::from_str(&st.stdout)
            .unwrap_or_else(|e| panic!("state after a killed create is not JSON ({e}): {st}"));
        let status = v["status"].as_str().unwrap_or("");
        assert!(
            status == "stopped" || status == "creating",
            "state after a killed create: {status:?} ({st})"
        );
    }

    // A plain delete (no --force) must clean up everything.
    let del = rt.output(&["delete", &id]);
    assert!(
        del.success(),
        "delete after create was SIGKILLed in its {kind} hook failed: {del}"
    );
    rt.assert_no_state(&id);
    assert!(!listed(&rt).contains(&id), "{id} still listed after delete");
    let dirs = bundle.cgroup_dirs();
    assert!(
        dirs.is_empty(),
        "cgroup dirs left after delete of a killed create: {dirs:?}"
    );
    let alive: Vec<i32> = inits
        .iter()
        .copied()
        .filter(|p| process_alive(*p))
        .collect();
    assert!(
        alive.is_empty(),
        "container init still alive after delete: {alive:?}"
    );

    // The hook was the runtime's child: an orphan now, not the container's.
    // Kill it, then nothing of this bundle may be left.
    for p in bundle.processes() {
        sigkill(p);
    }
    wait_for("orphaned hooks to die", || bundle.processes().is_empty());
    bundle.assert_gone();
    // The id can be used again (without the sleeping hook).
    bundle.edit(|c| {
        c.as_object_mut().unwrap().remove("hooks");
    });
    rt.create(&bundle, &id);
    assert_eq!(rt.status(&id), "created");
}

#[test]
fn sigkill_during_prestart_hook_then_delete_cleans_up() {
    sigkill_mid_create("prestart");
}

#[test]
fn sigkill_during_create_runtime_hook_then_delete_cleans_up() {
    sigkill_mid_create("createRuntime");
}

#[test]
fn sigkill_during_create_container_hook_then_delete_cleans_up() {
    sigkill_mid_create("createContainer");
}

/// The remains of a create SIGKILLed right after it claimed the id (an empty
/// state directory, no state.json yet; arca's layout, so not run against
/// runc): `list`, `delete` and `create` must agree on whether the id exists,
/// and after a plain `delete` the id must be usable again.
#[test]
fn create_killed_right_after_claiming_the_id_leaves_a_usable_id() {
    if is_runc() {
        return;
    }
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("claimed");
    rt.track(&id);
    fs::create_dir(rt.root().join(&id)).unwrap();

    let in_list = listed(&rt).contains(&id);
    let del = rt.output(&["delete", &id]);
    let create = rt.output(&["create", "--bundle", bundle.path_str(), &id]);
    assert!(
        create.success(),
        "after a create killed right after claiming {id} (listed: {in_list}), a plain \
         delete said:\n{del}\nand create still fails:\n{create}"
    );
}

/// A hook that prints more than a pipe holds (64 KiB) must not hang create:
/// the runtime has to drain (or not capture) the hook's output while waiting.
#[test]
fn chatty_hook_does_not_hang_create() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    bundle.edit(|c| {
        c["hooks"] = json!({ "createRuntime": [ {
            "path": "/bin/sh",
            "args": ["sh", "-c", "head -c 200000 /dev/zero; head -c 200000 /dev/zero >&2"],
            "env": [PATH_ENV]
        } ] });
    });
    let rt = Runtime::new();
    let id = unique_id("chatty-hook");
    rt.track(&id);
    let create = rt.spawn(&["create", "--bundle", bundle.path_str(), &id]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while process_alive(create.pid()) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let hung = process_alive(create.pid());
    if hung {
        sigkill(create.pid());
    }
    let out = create.wait();
    assert!(
        !hung,
        "create hung for 30s in a createRuntime hook that wrote 200 KB to stdout \
         (hooks.rs pipes stdout/stderr and only reads them after the hook exits): {out}"
    );
    out.assert_success();
}

/// A create SIGKILLed after its first state write but before the clone leaves
/// a record with pid 0 that reads as "creating" (simulated here by editing a
/// real container's state.json; arca's layout, so not run against runc).
/// `kill` on it must not become kill(0, sig), which signals the caller's own
/// process group. The kill runs under `setsid` so that, if it does, only its
/// wrapper shell is hit.
#[test]
fn kill_of_a_container_without_pid_does_not_signal_the_callers_group() {
    if is_runc() {
        return;
    }
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("pid-zero");
    rt.create(&bundle, &id);
    let file = rt.root().join(&id).join("state.json");
    let mut st: Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    st["pid"] = json!(0);
    st["creating"] = json!(true);
    fs::write(&file, st.to_string()).unwrap();

    let mut cmd = Command::new("setsid");
    cmd.args(["-w", "/bin/sh", "-c"])
        .arg("\"$0\" \"$@\"; echo \"kill-exit=$?\"; echo caller-survived")
        .arg(runtime())
        .arg("--root")
        .arg(rt.root())
        .args(["kill", &id, "TERM"]);
    let out = Proc::spawn(cmd).wait();
    assert!(
        out.stdout.contains("caller-survived"),
        "`kill` of a container whose state has pid 0 signalled the caller's own \
         process group (kill(0, SIGTERM)): {out}"
    );
}

// ---------------------------------------------------------------------------
// (2) The container's init SIGKILLed.
// ---------------------------------------------------------------------------

#[test]
fn sigkill_of_running_init_then_delete_cleans_up() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("killed-init");
    rt.run_detached(&bundle, &id);
    // A second process in the container, so delete has more than the init
    // to think about.
    rt.run_ok(&["exec", "-d", &id, "sleep", "999"]);
    let pid = rt.pid(&id);
    sigkill(pid);
    rt.wait_status(&id, "stopped");
    let st = rt.state(&id);
    assert_eq!(st["pid"], 0, "a stopped container reports pid 0: {st}");

    let del = rt.output(&["delete", &id]);
    assert!(
        del.success(),
        "delete (without --force) of a stopped container failed: {del}"
    );
    rt.assert_no_state(&id);
    assert!(!listed(&rt).contains(&id));
    bundle.assert_gone();
}

#[test]
fn sigkill_of_created_init_then_start_fails_and_delete_cleans_up() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("killed-created");
    rt.create(&bundle, &id);
    let pid = rt.pid(&id);
    sigkill(pid);
    rt.wait_status(&id, "stopped");

    let start = rt.output(&["start", &id]);
    let err = start.assert_failure();
    assert!(
        contains_any(err, &["stopped", "not created", "cannot start"]),
        "start of a dead container should say why: {start}"
    );
    let del = rt.output(&["delete", &id]);
    assert!(del.success(), "delete of a dead created container: {del}");
    rt.assert_no_state(&id);
    bundle.assert_gone();
}

// ---------------------------------------------------------------------------
// (3) Concurrent invocations on one --root.
// ---------------------------------------------------------------------------

#[test]
fn twenty_concurrent_creates_of_distinct_ids() {
    const N: usize = 20;
    let bundles: Vec<Bundle> = (0..N)
        .map(|_| Bundle::busybox(&["sleep", "1000"]))
        .collect();
    let rt = Runtime::new();
    let ids: Vec<String> = (0..N).map(|_| unique_id("conc")).collect();
    for id in &ids {
        rt.track(id);
    }
    let procs: Vec<Proc> = bundles
        .iter()
        .zip(&ids)
        .map(|(b, id)| rt.spawn(&["create", "--bundle", b.path_str(), id]))
        .collect();
    let outs: Vec<Out> = procs.into_iter().map(Proc::wait).collect();
    let failed: Vec<&Out> = outs.iter().filter(|o| !o.success()).collect();
    assert!(
        failed.is_empty(),
        "{} of {N} concurrent creates failed; first: {}",
        failed.len(),
        failed[0]
    );
    let expected: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(listed(&rt), expected, "list after {N} concurrent creates");
    let json = rt.run_ok(&["list", "--format", "json"]);
    let entries: Vec<Value> = serde_json::from_str(&json.stdout)
        .unwrap_or_else(|e| panic!("list --format json is not JSON ({e}): {json}"));
    assert_eq!(entries.len(), N, "{json}");
    for id in &ids {
        assert_eq!(rt.status(id), "created", "{id}");
    }
    // All of them can be started and deleted again.
    for id in &ids {
        rt.run_ok(&["start", id]);
        rt.wait_status(id, "running");
    }
    for id in &ids {
        rt.run_ok(&["delete", "--force", id]);
        rt.assert_no_state(id);
    }
    for b in &bundles {
        b.assert_gone();
    }
}

#[test]
fn ten_concurrent_creates_of_one_id_exactly_one_wins() {
    const N: usize = 10;
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("race");
    rt.track(&id);
    let procs: Vec<Proc> = (0..N)
        .map(|_| rt.spawn(&["create", "--bundle", bundle.path_str(), &id]))
        .collect();
    let outs: Vec<Out> = procs.into_iter().map(Proc::wait).collect();
    let winners = outs.iter().filter(|o| o.success()).count();
    assert_eq!(
        winners, 1,
        "exactly one create of {id} must succeed: {outs:#?}"
    );
    for o in outs.iter().filter(|o| !o.success()) {
        assert!(
            contains_any(&o.stderr, &["already exists"]),
            "a losing create must fail with \"already exists\": {o}"
        );
    }
    // Nothing corrupted: one entry, a valid state, and it still works.
    assert_eq!(listed(&rt), BTreeSet::from([id.clone()]));
    assert_eq!(rt.status(&id), "created");
    let pid = rt.pid(&id);
    assert!(process_alive(pid), "the winner's init is gone");
    let leftovers: Vec<String> = fs::read_dir(rt.root())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        leftovers,
        vec![id.clone()],
        "unexpected entries under --root"
    );
    rt.run_ok(&["start", &id]);
    rt.wait_status(&id, "running");
    assert_eq!(rt.pid(&id), pid);
    rt.run_ok(&["delete", "--force", &id]);
    rt.assert_no_state(&id);
    bundle.assert_gone();
}

/// A `delete --force` issued while create is still running (paused in a
/// createRuntime hook) waits for create to finish, then deletes the
/// container: create holds the container's lock until it returns.
#[test]
fn delete_during_create_waits_for_create_to_finish() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let flags = tempfile::Builder::new()
        .prefix("arca-flags-")
        .tempdir()
        .unwrap();
    let ready = flags.path().join("hook-running");
    let mark = bundle.mark().to_string();
    bundle.edit(|c| {
        c["hooks"] = json!({ "createRuntime": [ {
            "path": "/bin/sh",
            "args": ["sh", "-c", "touch \"$READY\"; sleep 2"],
            "env": [
                PATH_ENV,
                format!("READY={}", ready.display()),
                format!("ARCA_TEST_MARK={mark}"),
            ]
        } ] });
    });
    let rt = Runtime::new();
    let id = unique_id("delete-mid-create");
    rt.track(&id);
    let create = rt.spawn(&["create", "--bundle", bundle.path_str(), &id]);
    wait_for("the createRuntime hook to run", || {
        ready.exists() || !process_alive(create.pid())
    });
    let delete = rt.spawn(&["delete", "--force", &id]);
    let del = delete.wait();
    let cr = create.wait();
    assert!(
        cr.success(),
        "create was undone by a delete that should have waited for it (the init's \
         drop(lock) after the clone unlocks the flock the parent still relies on): \
         create: {cr}\ndelete: {del}"
    );
    assert!(del.success(), "delete after create: {del}");
    rt.assert_no_state(&id);
    bundle.assert_gone();
}

/// Many `delete --force` of one container at once: every one succeeds (or
/// says the container does not exist), nothing is left under `--root`, and the
/// poststop hook runs once per container. The race window is small, so a few
/// dozen rounds are run and every problem is reported at the end.
#[test]
fn concurrent_deletes_succeed_and_run_poststop_hooks_once() {
    const N: usize = 10;
    const ROUNDS: usize = 40;
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let out = bundle.path().join("poststop-ran");
    bundle.edit(|c| {
        c["hooks"] = json!({ "poststop": [ {
            "path": "/bin/sh",
            "args": ["sh", "-c", "echo ran >> \"$OUT\""],
            "env": [PATH_ENV, format!("OUT={}", out.display())]
        } ] });
    });
    let rt = Runtime::new();
    let mut bad_deletes = Vec::new();
    let mut leftovers = Vec::new();
    for _ in 0..ROUNDS {
        let id = unique_id("multi-delete");
        rt.create(&bundle, &id);
        let procs: Vec<Proc> = (0..N)
            .map(|_| rt.spawn(&["delete", "--force", &id]))
            .collect();
        for o in procs.into_iter().map(Proc::wait) {
            if !o.success() && !contains_any(&o.stderr, &["does not exist"]) {
                bad_deletes.push(o.stderr.trim().to_string());
            }
        }
        if rt.root().join(&id).exists() {
            leftovers.push(id.clone());
            // Clean up for the next round (same cgroup).
            let _ = rt.output(&["delete", "--force", &id]);
        }
        bundle.assert_gone();
    }
    let runs = fs::read_to_string(&out).unwrap_or_default().lines().count();
    assert!(
        bad_deletes.is_empty() && leftovers.is_empty() && runs == ROUNDS,
        "{ROUNDS} rounds of {N} concurrent `delete --force`:\n\
         - {} deletes failed, e.g. {:?}\n\
         - state dirs left behind: {leftovers:?}\n\
         - the poststop hook ran {runs} times, not {ROUNDS}\n\
         (delete releases the lock before removing the state dir: a waiting delete \
         then loads the state again and re-runs the hooks, or its `lock` re-creates \
         the lock file inside the directory being removed)",
        bad_deletes.len(),
        bad_deletes.first()
    );
}

// ---------------------------------------------------------------------------
// (4) fds leaking into the container (CVE-2024-21626 flavour).
// ---------------------------------------------------------------------------

#[test]
fn inherited_fd_does_not_leak_into_container() {
    let host = HostDir::new();
    let host_path = host.path().to_str().unwrap().to_string();
    let bundle = Bundle::busybox(&["ls", "-l", "/proc/self/fd"]);
    let rt = Runtime::new();
    let id = unique_id("fdleak");
    rt.track(&id);
    let out = run_with_fds(
        &rt,
        "exec 5<\"$HOST_DIR\"",
        host.path(),
        &["run", "--bundle", bundle.path_str(), &id],
    );
    out.assert_success();
    let entries = fd_entries(&out.stdout);
    let fds = fd_numbers(&entries);
    assert!(
        fds.contains(&0) && fds.contains(&1) && fds.contains(&2),
        "stdio missing: {out}"
    );
    // 0, 1, 2, and ls's own directory fd (3).
    assert!(
        fds.iter().all(|fd| *fd <= 3),
        "fds beyond stdio in the container: {fds:?}\n{out}"
    );
    assert!(
        entries.iter().all(|(_, t)| !t.contains(&host_path)),
        "the host directory leaked into the container: {out}"
    );
    rt.assert_no_state(&id);
}

#[test]
fn inherited_fd_does_not_leak_into_exec() {
    let host = HostDir::new();
    let host_path = host.path().to_str().unwrap().to_string();
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("fdleak-exec");
    rt.run_detached(&bundle, &id);
    for detach in [false, true] {
        let mut args = vec!["exec"];
        if detach {
            // A detached exec writes to a file we read back (the root is read-only).
            args.extend(["-d", &id, "sh", "-c", "ls -l /proc/self/fd > /dev/shm/fds"]);
        } else {
            args.extend([id.as_str(), "ls", "-l", "/proc/self/fd"]);
        }
        let out = run_with_fds(&rt, "exec 5<\"$HOST_DIR\"", host.path(), &args);
        out.assert_success();
        let text = if detach {
            wait_for("the detached exec to write /dev/shm/fds", || {
                rt.output(&["exec", &id, "cat", "/dev/shm/fds"])
                    .stdout
                    .contains(" 2 ")
            });
            rt.run_ok(&["exec", &id, "cat", "/dev/shm/fds"]).stdout
        } else {
            out.stdout.clone()
        };
        let entries = fd_entries(&text);
        let fds = fd_numbers(&entries);
        // In the detached case the shell's redirection is fd 1.
        assert!(
            fds.iter().all(|fd| *fd <= 3),
            "exec (detach={detach}): fds beyond stdio: {fds:?}\n{text}"
        );
        assert!(
            entries.iter().all(|(_, t)| !t.contains(&host_path)),
            "exec (detach={detach}): the host directory leaked:\n{text}"
        );
    }
}

#[test]
fn preserve_fds_passes_exactly_the_given_fds() {
    let host = HostDir::new();
    let host_path = host.path().to_str().unwrap().to_string();
    let bundle = Bundle::busybox(&["ls", "-l", "/proc/self/fd"]);
    let rt = Runtime::new();
    let id = unique_id("preserve");
    rt.track(&id);
    // fd 3 is preserved; fd 6 is not.
    let out = run_with_fds(
        &rt,
        "exec 3<\"$HOST_DIR\" 6<\"$HOST_DIR\"",
        host.path(),
        &[
            "run",
            "--preserve-fds",
            "1",
            "--bundle",
            bundle.path_str(),
            &id,
        ],
    );
    out.assert_success();
    let entries = fd_entries(&out.stdout);
    let fds = fd_numbers(&entries);
    let fd3 = entries.iter().find(|(fd, _)| *fd == 3);
    assert!(
        fd3.is_some_and(|(_, t)| t.contains(&host_path)),
        "--preserve-fds 1: fd 3 should be the caller's directory: {out}"
    );
    // 0-2, the preserved 3, and ls's own fd (4).
    assert!(
        fds.iter().all(|fd| *fd <= 4),
        "--preserve-fds 1: unexpected fds {fds:?}\n{out}"
    );
}

#[test]
fn preserve_fds_never_hands_over_runtime_fds() {
    // The caller asks for 3 fds but has none open beyond stdio: whatever the
    // runtime itself opened at 3, 4, 5 (exec fifo, sync socket, cgroup dir...)
    // must not reach the container.
    let host = HostDir::new();
    let bundle = Bundle::busybox(&["ls", "-l", "/proc/self/fd"]);
    let rt = Runtime::new();
    let root = rt.root().to_str().unwrap().to_string();
    let id = unique_id("preserve-internal");
    rt.track(&id);
    let out = run_with_fds(
        &rt,
        "exec 3<&- 4<&- 5<&-",
        host.path(),
        &[
            "run",
            "--preserve-fds",
            "3",
            "--bundle",
            bundle.path_str(),
            &id,
        ],
    );
    if !out.success() {
        // Refusing to preserve fds that are not open is fine too.
        return;
    }
    let internal: Vec<(u32, String)> = fd_entries(&out.stdout)
        .into_iter()
        .filter(|(_, t)| {
            t.contains(&root)
                || t.contains("exec.fifo")
                || t.starts_with("socket:")
                || t.contains("/sys/fs/cgroup")
        })
        .collect();
    assert!(
        internal.is_empty(),
        "runtime-internal fds handed to the container through --preserve-fds: \
         {internal:?}\n{out}"
    );
}

/// The config's `process.cwd` through a leaked fd must not put the process in
/// a host directory (CVE-2024-21626, attack 1).
#[test]
fn process_cwd_through_proc_self_fd_does_not_reach_host() {
    let host = HostDir::new();
    let bundle = Bundle::busybox(&["ls", "-a"]);
    bundle.edit(|c| c["process"]["cwd"] = json!("/proc/self/fd/7"));
    let rt = Runtime::new();
    let id = unique_id("cwd-leak");
    rt.track(&id);
    let out = run_with_fds(
        &rt,
        "exec 7<\"$HOST_DIR\"",
        host.path(),
        &["run", "--bundle", bundle.path_str(), &id],
    );
    // Failing the run is an acceptable answer; listing the host dir is not.
    assert!(
        !out.stdout.contains(&host.marker),
        "process.cwd /proc/self/fd/7 put the container in the host directory \
         {} (CVE-2024-21626): {out}",
        host.path().display()
    );
}

/// Same through the runtime's own fds, with no help from the caller: none of
/// fds 3..=9 may lead the container's cwd outside its root.
#[test]
fn process_cwd_through_runtime_fds_does_not_reach_host() {
    let host = HostDir::new();
    for n in 3..=9 {
        let bundle = Bundle::busybox(&["ls", "-a"]);
        bundle.edit(|c| c["process"]["cwd"] = json!(format!("/proc/self/fd/{n}")));
        let rt = Runtime::new();
        let id = unique_id("cwd-internal");
        rt.track(&id);
        let out = run_with_fds(
            &rt,
            "exec 3<&- 4<&- 5<&- 6<&- 7<&- 8<&- 9<&-",
            host.path(),
            &["run", "--bundle", bundle.path_str(), &id],
        );
        if !out.success() {
            continue;
        }
        assert!(
            !contains_any(
                &out.stdout,
                &["cgroup.procs", "state.json", "exec.fifo", "config.json"]
            ),
            "process.cwd /proc/self/fd/{n} reached a host directory of the runtime: {out}"
        );
    }
}

/// `exec --cwd /proc/self/fd/7` with fd 7 leaked to a host directory
/// (CVE-2024-21626, attack 2).
#[test]
fn exec_cwd_through_proc_self_fd_does_not_reach_host() {
    let host = HostDir::new();
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("exec-cwd-leak");
    rt.run_detached(&bundle, &id);
    let out = run_with_fds(
        &rt,
        "exec 7<\"$HOST_DIR\"",
        host.path(),
        &["exec", "--cwd", "/proc/self/fd/7", &id, "ls", "-a"],
    );
    assert!(
        !out.stdout.contains(&host.marker),
        "exec --cwd /proc/self/fd/7 put the process in the host directory {} \
         (CVE-2024-21626): {out}",
        host.path().display()
    );
}

// ---------------------------------------------------------------------------
// (5) exec'd processes are confined like the init.
// ---------------------------------------------------------------------------

/// The `Cap*`, `NoNewPrivs` and `Seccomp` lines of a /proc/<pid>/status.
fn confinement(status: &str) -> Vec<String> {
    status
        .lines()
        .filter(|l| {
            l.starts_with("Cap") || l.starts_with("NoNewPrivs") || l.starts_with("Seccomp:")
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn exec_gets_the_containers_capabilities_and_no_new_privs() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    // CAP_CHOWN (0), CAP_KILL (5), CAP_SETUID (7), CAP_NET_BIND_SERVICE (10).
    let caps = json!([
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_SETUID",
        "CAP_NET_BIND_SERVICE"
    ]);
    let mask = "00000000000004a1";
    bundle.edit(|c| {
        c["process"]["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps,
            "inheritable": [], "ambient": []
        });
        c["process"]["noNewPrivileges"] = json!(true);
    });
    let rt = Runtime::new();
    let id = unique_id("exec-caps");
    rt.run_detached(&bundle, &id);
    let pid = rt.pid(&id);
    let init = confinement(&fs::read_to_string(format!("/proc/{pid}/status")).unwrap());
    for want in [
        format!("CapBnd: {mask}"),
        format!("CapEff: {mask}"),
        format!("CapPrm: {mask}"),
        "NoNewPrivs: 1".to_string(),
    ] {
        assert!(init.contains(&want), "init lacks {want:?}: {init:?}");
    }

    let out = rt.run_ok(&["exec", &id, "cat", "/proc/self/status"]);
    let exec = confinement(&out.stdout);
    assert_eq!(
        exec, init,
        "an exec'd process must have the init's capabilities and no_new_privs"
    );

    // Detached too.
    rt.run_ok(&[
        "exec",
        "-d",
        &id,
        "sh",
        "-c",
        "cat /proc/self/status > /dev/shm/status",
    ]);
    wait_for("the detached exec to write /dev/shm/status", || {
        rt.output(&["exec", &id, "cat", "/dev/shm/status"])
            .stdout
            .contains("NoNewPrivs")
    });
    let out = rt.run_ok(&["exec", &id, "cat", "/dev/shm/status"]);
    assert_eq!(confinement(&out.stdout), init, "exec -d confinement");

    // Same with the process given as JSON (containerd's way): what the JSON
    // says, no more.
    let process = json!({
        "terminal": false,
        "user": { "uid": 0, "gid": 0 },
        "args": ["cat", "/proc/self/status"],
        "env": [PATH_ENV],
        "cwd": "/",
        "capabilities": {
            "bounding": caps, "effective": caps, "permitted": caps,
            "inheritable": [], "ambient": []
        },
        "noNewPrivileges": true
    });
    let pfile = bundle.path().join("process.json");
    fs::write(&pfile, process.to_string()).unwrap();
    let out = rt.run_ok(&["exec", "--process", pfile.to_str().unwrap(), &id]);
    assert_eq!(confinement(&out.stdout), init, "exec --process confinement");
}

/// `exec -t --console-socket S`: the runtime must connect to S as the caller
/// sees it (a host path), not after joining the container's mount namespace,
/// where S does not exist or could be a socket the container made.
#[test]
fn exec_with_tty_sends_the_pty_to_the_callers_console_socket() {
    use std::io::{ErrorKind, IoSliceMut};
    use std::os::fd::{AsRawFd, RawFd};
    use std::os::unix::net::UnixListener;

    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};

    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("exec-tty");
    rt.run_detached(&bundle, &id);

    let sock_dir = tempfile::Builder::new()
        .prefix("arca-console-")
        .tempdir()
        .unwrap();
    let sock = sock_dir.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    let exec = rt.spawn(&[
        "exec",
        "-t",
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
        "true",
    ]);
    let mut stream = None;
    wait_for("exec to connect to the console socket", || {
        match listener.accept() {
            Ok((s, _)) => stream = Some(s),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("accept on the console socket: {e}"),
        }
        stream.is_some() || !process_alive(exec.pid())
    });
    let Some(stream) = stream else {
        let out = exec.wait();
        panic!(
            "exec -t ended without connecting to the console socket {} \
             (it connects after joining the container's mount namespace): {out}",
            sock.display()
        );
    };
    stream.set_nonblocking(false).unwrap();
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<UnixAddr>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .expect("recvmsg on the console socket");
    let mut fds = Vec::new();
    for c in msg.cmsgs().expect("control messages") {
        if let ControlMessageOwned::ScmRights(received) = c {
            fds.extend(received);
        }
    }
    let n = fds.len();
    for fd in fds {
        let _ = nix::unistd::close(fd);
    }
    assert_eq!(n, 1, "expected one pty master over the console socket");
    let out = exec.wait();
    assert!(out.success(), "exec -t failed: {out}");
}

// ---------------------------------------------------------------------------
// Host safety: what a config can do to things that are not the container's.
// ---------------------------------------------------------------------------

/// Two containers in one cgroup: when the second one's create fails, its
/// clean-up must not kill the first one (runc refuses a non-empty cgroup).
#[test]
fn failed_create_in_a_shared_cgroup_does_not_kill_other_processes() {
    let a = Bundle::busybox(&["sleep", "1000"]);
    let b = Bundle::busybox(&["/no/such/binary"]);
    let shared = a.cgroup_path();
    b.edit(|c| c["linux"]["cgroupsPath"] = json!(shared));
    let rt = Runtime::new();
    let ida = unique_id("shared-a");
    rt.run_detached(&a, &ida);
    let pid = rt.pid(&ida);

    let idb = unique_id("shared-b");
    rt.track(&idb);
    let out = rt.output(&["create", "--bundle", b.path_str(), &idb]);
    assert!(
        !out.success(),
        "create with a missing binary succeeded: {out}"
    );
    assert!(
        process_alive(pid),
        "a failed create in cgroup {shared} SIGKILLed another container's process \
         (pid {pid}); it should refuse a cgroup that already has processes: {out}"
    );
    assert_eq!(rt.status(&ida), "running");
}

/// A sysctl that is not namespaced would change the host kernel; runc refuses
/// it. (The value written is the current one, so a failing run changes
/// nothing.)
#[test]
fn non_namespaced_sysctl_is_refused() {
    let current = fs::read_to_string("/proc/sys/vm/swappiness")
        .unwrap()
        .trim()
        .to_string();
    let bundle = Bundle::busybox(&["true"]);
    bundle.edit(|c| c["linux"]["sysctl"] = json!({ "vm.swappiness": current }));
    let rt = Runtime::new();
    let id = unique_id("sysctl");
    let out = rt.run_fg(&bundle, &id);
    assert!(
        !out.success(),
        "linux.sysctl vm.swappiness is not namespaced: writing it from a container \
         changes the host; the runtime must refuse it: {out}"
    );
    assert!(
        contains_any(&out.stderr, &["vm.swappiness"]),
        "the error should name the sysctl: {out}"
    );
}

/// `domainname` without a new UTS namespace would rename the host's NIS
/// domain; runc refuses it (as arca does for `hostname`). The value is the
/// host's current one, so a failing run changes nothing.
#[test]
fn domainname_without_uts_namespace_is_refused() {
    let current = fs::read_to_string("/proc/sys/kernel/domainname")
        .unwrap()
        .trim()
        .to_string();
    let bundle = Bundle::busybox(&["true"]);
    bundle.edit(|c| {
        c.as_object_mut().unwrap().remove("hostname");
        c["domainname"] = json!(current);
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "uts");
    });
    let rt = Runtime::new();
    let id = unique_id("domainname");
    let out = rt.run_fg(&bundle, &id);
    assert!(
        !out.success(),
        "domainname without a uts namespace must be refused (it sets the host's): {out}"
    );
    assert!(
        contains_any(&out.stderr, &["domainname"]),
        "the error should name the field: {out}"
    );
}

/// A seccomp profile in the config must be enforced or refused; running the
/// container without it would silently drop a security boundary that every
/// engine's default config sets.
#[test]
fn seccomp_profile_is_enforced_or_refused() {
    let bundle = Bundle::busybox(&["sh", "-c", "mkdir /dev/shm/probe && echo MKDIR-ALLOWED"]);
    bundle.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
            "syscalls": [ {
                "names": ["mkdir", "mkdirat"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 1
            } ]
        });
    });
    let rt = Runtime::new();
    let id = unique_id("seccomp");
    let out = rt.run_fg(&bundle, &id);
    assert!(
        !(out.success() && out.stdout.contains("MKDIR-ALLOWED")),
        "linux.seccomp denies mkdir, yet the container ran without the filter \
         (the profile was silently ignored): {out}"
    );
}
