//! Container lifecycle through the runc command line: create, start, state,
//! kill, delete, run, list, ps, spec, features, --version.

mod common;

use std::fs;

use common::*;
use serde_json::Value;

/// Asserts the OCI state JSON's required fields (runtime-spec "State").
fn check_state(state: &Value, id: &str, bundle: &Bundle, status: &str) {
    assert!(
        state["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "ociVersion in {state}"
    );
    assert_eq!(state["id"], id, "id in {state}");
    assert_eq!(state["status"], status, "status in {state}");
    assert_eq!(
        state["bundle"].as_str(),
        Some(bundle.path_str()),
        "bundle in {state}"
    );
    assert!(state["pid"].is_i64(), "pid in {state}");
}

/// Bind-mounts a fresh host dir at /out (rw) and returns the host side.
fn with_out_mount(bundle: &Bundle) -> std::path::PathBuf {
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
    out
}

#[test]
fn create_start_kill_delete() {
    let bundle = Bundle::busybox(&["sh", "-c", "echo started > /out/started; exec sleep 1000"]);
    let out = with_out_mount(&bundle);
    let rt = Runtime::new();
    let id = unique_id("life");

    rt.create(&bundle, &id);
    let state = rt.state(&id);
    check_state(&state, &id, &bundle, "created");
    let pid = rt.pid(&id);
    assert!(pid > 0, "created container has a pid: {state}");
    assert!(process_alive(pid), "init process {pid} alive after create");
    assert!(
        !out.join("started").exists(),
        "the user process must not run before start"
    );
    assert!(
        !bundle.cgroup_dirs().is_empty(),
        "cgroup {} exists after create",
        bundle.cgroup_path()
    );

    rt.run_ok(&["start", &id]);
    wait_for("container to write /out/started", || {
        out.join("started").exists()
    });
    assert_eq!(
        fs::read_to_string(out.join("started")).unwrap(),
        "started\n"
    );
    let state = rt.state(&id);
    check_state(&state, &id, &bundle, "running");
    assert_eq!(rt.pid(&id), pid, "start keeps the pid of create");

    rt.run_ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    check_state(&rt.state(&id), &id, &bundle, "stopped");
    wait_for("init to die", || !process_alive(pid));

    rt.run_ok(&["delete", &id]);
    let st = rt.output(&["state", &id]);
    let err = st.assert_failure();
    // runc: `container does not exist`.
    assert!(
        contains_any(err, &["not exist", "not found", "no such"]),
        "state of a deleted container: {st}"
    );
    rt.assert_no_state(&id);
    bundle.assert_gone();
}

fn kill_with(args: &[&str]) {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("kill");
    rt.create(&bundle, &id);
    rt.run_ok(&["start", &id]);
    rt.wait_status(&id, "running");
    let pid = rt.pid(&id);
    let mut cmd = vec!["kill"];
    let (flags, sig): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| a.starts_with('-'));
    cmd.extend(flags);
    cmd.push(&id);
    cmd.extend(sig);
    rt.run_ok(&cmd);
    rt.wait_status(&id, "stopped");
    wait_for("init to die", || !process_alive(pid));
    rt.run_ok(&["delete", &id]);
    rt.assert_no_state(&id);
    bundle.assert_gone();
}

#[test]
fn kill_by_name() {
    kill_with(&["KILL"]);
}

#[test]
fn kill_by_sig_name() {
    kill_with(&["SIGKILL"]);
}

#[test]
fn kill_by_number() {
    kill_with(&["9"]);
}

#[test]
fn kill_default_is_sigterm() {
    // pid 1 ignores SIGTERM without a handler, so install one.
    let bundle = Bundle::busybox(&[
        "sh",
        "-c",
        "trap 'exit 0' TERM; touch /tmp/ready; while :; do sleep 1; done",
    ]);
    bundle.edit(|c| c["root"]["readonly"] = false.into());
    let rt = Runtime::new();
    let id = unique_id("term");
    rt.create(&bundle, &id);
    rt.run_ok(&["start", &id]);
    let pid = rt.pid(&id);
    wait_for("trap installed", || {
        bundle.rootfs().join("tmp/ready").exists()
    });
    rt.run_ok(&["kill", &id]);
    rt.wait_status(&id, "stopped");
    wait_for("init to die", || !process_alive(pid));
    rt.run_ok(&["delete", &id]);
    bundle.assert_gone();
}

#[test]
fn kill_all_kills_every_process() {
    let bundle = Bundle::busybox(&["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    let rt = Runtime::new();
    let id = unique_id("killall");
    rt.create(&bundle, &id);
    rt.run_ok(&["start", &id]);
    wait_for("three container processes", || {
        bundle.processes().len() >= 3
    });
    let procs = bundle.processes();
    rt.run_ok(&["kill", "--all", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    wait_for("all processes to die", || {
        procs.iter().all(|p| !process_alive(*p))
    });
    rt.run_ok(&["delete", &id]);
    rt.assert_no_state(&id);
    bundle.assert_gone();
}

#[test]
fn list_table_quiet_and_json() {
    // Two bundles: each container needs a cgroup of its own (a shared, busy one is refused).
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let bundle_b = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let a = unique_id("lista");
    let b = unique_id("listb");
    rt.create(&bundle, &a);
    rt.create(&bundle_b, &b);
    rt.run_ok(&["start", &b]);
    rt.wait_status(&b, "running");

    let table = rt.run_ok(&["list"]).stdout;
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .expect("list header")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        "list header: {table}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "two rows: {table}");
    let row_a = rows.iter().find(|r| r[0] == a).expect("row for a");
    assert_eq!(row_a[1], rt.pid(&a).to_string());
    assert_eq!(row_a[2], "created");
    assert_eq!(row_a[3], bundle.path_str());
    assert_eq!(row_a[5], "root");
    let row_b = rows.iter().find(|r| r[0] == b).expect("row for b");
    assert_eq!(row_b[2], "running");

    let quiet = rt.run_ok(&["list", "-q"]).stdout;
    let mut ids: Vec<&str> = quiet.lines().collect();
    ids.sort();
    let mut want = vec![a.as_str(), b.as_str()];
    want.sort();
    assert_eq!(ids, want, "list -q: {quiet}");

    let json = rt.run_ok(&["list", "--format", "json"]).stdout;
    let v: Value = serde_json::from_str(&json).expect("list --format json is JSON");
    let arr = v.as_array().expect("an array");
    assert_eq!(arr.len(), 2, "{json}");
    for e in arr {
        for key in [
            "ociVersion",
            "id",
            "pid",
            "status",
            "bundle",
            "rootfs",
            "created",
            "owner",
        ] {
            assert!(e.get(key).is_some(), "list json entry lacks {key}: {e}");
        }
    }
    let ja = arr.iter().find(|e| e["id"] == a.as_str()).unwrap();
    assert_eq!(ja["status"], "created");
    assert_eq!(ja["bundle"].as_str(), Some(bundle.path_str()));
    assert_eq!(ja["owner"], "root");

    let empty = Runtime::new();
    let json = empty.run_ok(&["list", "--format", "json"]).stdout;
    // runc prints `null` for no containers.
    let v: Value = serde_json::from_str(&json).expect("empty list is JSON");
    assert!(
        v.is_null() || v == serde_json::json!([]),
        "empty list: {json}"
    );
}

#[test]
fn create_with_options_after_id() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("after");
    let pidfile = bundle.path().join("after.pid");
    rt.track(&id);
    rt.run_ok(&[
        "create",
        &id,
        "--bundle",
        bundle.path_str(),
        "--pid-file",
        pidfile.to_str().unwrap(),
    ]);
    check_state(&rt.state(&id), &id, &bundle, "created");
    assert_eq!(
        fs::read_to_string(&pidfile).unwrap().trim(),
        rt.pid(&id).to_string()
    );
    rt.run_ok(&["delete", "--force", &id]);
    bundle.assert_gone();
}

#[test]
fn pid_file_holds_init_pid() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("pidf");
    let pidfile = bundle.path().join("init.pid");
    rt.track(&id);
    rt.run_ok(&[
        "create",
        "--bundle",
        bundle.path_str(),
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
    ]);
    let text = fs::read_to_string(&pidfile).unwrap();
    // runc writes the bare number, no newline.
    assert_eq!(text, rt.pid(&id).to_string(), "pid file content");
    let pid: i32 = text.parse().unwrap();
    assert!(process_alive(pid));
    // The pid is the container's init: same marker env after start.
    rt.run_ok(&["start", &id]);
    wait_for("init to exec", || bundle.processes().contains(&pid));
}

#[test]
fn duplicate_id_rejected() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("dup");
    rt.create(&bundle, &id);
    let pid = rt.pid(&id);
    let out = rt.output(&["create", "--bundle", bundle.path_str(), &id]);
    let err = out.assert_failure();
    // runc: `container with given ID already exists`.
    assert!(contains_any(err, &["already exists"]), "{out}");
    assert_eq!(
        rt.status(&id),
        "created",
        "the first container is untouched"
    );
    assert_eq!(rt.pid(&id), pid);
    let run = rt.output(&["run", "-d", "--bundle", bundle.path_str(), &id]);
    assert!(
        contains_any(run.assert_failure(), &["already exists"]),
        "{run}"
    );
    assert_eq!(rt.status(&id), "created");
}

#[test]
fn run_passes_exit_code() {
    let bundle = Bundle::busybox(&["sh", "-c", "echo out; echo err >&2; exit 7"]);
    let rt = Runtime::new();
    let id = unique_id("exit");
    let out = rt.run_fg(&bundle, &id);
    assert_eq!(out.code(), 7, "{out}");
    assert_eq!(out.stdout, "out\n");
    assert!(out.stderr.contains("err\n"), "{out}");
    rt.assert_no_state(&id);
    bundle.assert_gone();
}

#[test]
fn run_forwards_sigterm() {
    let bundle = Bundle::busybox(&[
        "sh",
        "-c",
        "trap 'echo got TERM; exit 3' TERM; echo ready; sleep 1000 & wait",
    ]);
    let rt = Runtime::new();
    let id = unique_id("fwd");
    rt.track(&id);
    let p = rt.spawn(&["run", "--bundle", bundle.path_str(), &id]);
    wait_for("container ready", || p.stdout_now().contains("ready"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(p.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = p.wait();
    assert!(
        out.stdout.contains("got TERM"),
        "container saw SIGTERM: {out}"
    );
    assert_eq!(out.code(), 3, "{out}");
    // The sleep is killed with the container (pid namespace gone).
    wait_for("container processes to die", || {
        bundle.processes().is_empty()
    });
    rt.assert_no_state(&id);
    bundle.assert_gone();
}

#[test]
fn run_forwards_sigint_and_reports_signal_death() {
    // A handler-less pid 1 of a pid namespace ignores SIGTERM/SIGINT (the
    // kernel drops them), so a trap shows the container got the signal; then
    // SIGKILL through `kill` ends it and `run` exits 128+9.
    let bundle = Bundle::busybox(&[
        "sh",
        "-c",
        "trap 'echo got INT' INT; echo ready; while :; do sleep 1 & wait; done",
    ]);
    let rt = Runtime::new();
    let id = unique_id("fwdint");
    rt.track(&id);
    let p = rt.spawn(&["run", "--bundle", bundle.path_str(), &id]);
    wait_for("container ready", || p.stdout_now().contains("ready"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(p.pid()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    wait_for("container to see SIGINT", || {
        p.stdout_now().contains("got INT")
    });
    assert_eq!(rt.status(&id), "running", "SIGINT handled, still running");
    rt.run_ok(&["kill", &id, "KILL"]);
    let out = p.wait();
    // runc returns 128+signal when the container dies by a signal.
    assert_eq!(out.code(), 128 + 9, "{out}");
    rt.assert_no_state(&id);
    bundle.assert_gone();
}

#[test]
fn run_detached() {
    let bundle = Bundle::busybox(&["sh", "-c", "echo detached-hello; exec sleep 1000"]);
    let rt = Runtime::new();
    let id = unique_id("det");
    rt.track(&id);
    let p = rt.spawn(&["run", "-d", "--bundle", bundle.path_str(), &id]);
    // The runtime returns while the container runs on; its stdout is ours.
    let out = p.wait();
    out.assert_success();
    let state = rt.state(&id);
    check_state(&state, &id, &bundle, "running");
    let pid = rt.pid(&id);
    assert!(process_alive(pid));
    rt.run_ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    rt.run_ok(&["delete", &id]);
    rt.assert_no_state(&id);
    wait_for("init to die", || !process_alive(pid));
    bundle.assert_gone();
}

#[test]
fn run_detached_output_reaches_caller_stdout() {
    let bundle = Bundle::busybox(&["sh", "-c", "echo detached-hello; exec sleep 1000"]);
    let rt = Runtime::new();
    let id = unique_id("detout");
    rt.track(&id);
    let log = bundle.path().join("stdout.log");
    let mut cmd = rt.cmd(["run", "-d", "--bundle", bundle.path_str(), &id]);
    cmd.stdout(fs::File::create(&log).unwrap());
    cmd.stderr(std::process::Stdio::null());
    cmd.stdin(std::process::Stdio::null());
    assert!(cmd.status().unwrap().success());
    wait_for("container output", || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("detached-hello")
    });
}

#[test]
fn delete_force_running() {
    let bundle = Bundle::busybox(&["sh", "-c", "sleep 1000 & exec sleep 1000"]);
    let rt = Runtime::new();
    let id = unique_id("force");
    rt.run_detached(&bundle, &id);
    wait_for("two processes", || bundle.processes().len() >= 2);
    let pid = rt.pid(&id);
    let plain = rt.output(&["delete", &id]);
    // runc: `cannot delete container <id> that is not stopped: running`.
    assert!(
        contains_any(plain.assert_failure(), &["running", "not stopped"]),
        "{plain}"
    );
    assert_eq!(rt.status(&id), "running");
    rt.run_ok(&["delete", "--force", &id]);
    rt.assert_no_state(&id);
    assert!(rt.output(&["state", &id]).status.code() != Some(0));
    wait_for("init to die", || !process_alive(pid));
    wait_for("all processes to die", || bundle.processes().is_empty());
    bundle.assert_gone();
}

#[test]
fn delete_created_container() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("delcreated");
    rt.create(&bundle, &id);
    let pid = rt.pid(&id);
    // runc deletes a created (never started) container without --force.
    rt.run_ok(&["delete", &id]);
    rt.assert_no_state(&id);
    wait_for("init to die", || !process_alive(pid));
    bundle.assert_gone();
}

#[test]
fn ps_json_lists_pids() {
    let bundle = Bundle::busybox(&["sh", "-c", "sleep 1000 & exec sleep 1001"]);
    let rt = Runtime::new();
    let id = unique_id("ps");
    rt.run_detached(&bundle, &id);
    wait_for("two processes", || bundle.processes().len() >= 2);
    let pid = rt.pid(&id);
    let out = rt.run_ok(&["ps", "--format", "json", &id]);
    let v: Value = serde_json::from_str(&out.stdout).expect("ps json");
    let mut pids: Vec<i64> = v
        .as_array()
        .expect("array of pids")
        .iter()
        .map(|p| p.as_i64().expect("pid number"))
        .collect();
    pids.sort();
    let mut want: Vec<i64> = bundle.processes().into_iter().map(i64::from).collect();
    want.sort();
    assert!(
        pids.contains(&i64::from(pid)),
        "ps lists init {pid}: {pids:?}"
    );
    assert_eq!(pids, want, "ps lists the container's processes");
}

#[test]
fn spec_writes_config() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::new();
    rt.run_ok(&["spec", "--bundle", dir.path().to_str().unwrap()]);
    let text = fs::read_to_string(dir.path().join("config.json")).expect("config.json written");
    let v: Value = serde_json::from_str(&text).expect("spec is JSON");
    assert!(v["ociVersion"].as_str().unwrap().starts_with("1."));
    assert_eq!(v["process"]["args"], serde_json::json!(["sh"]));
    assert_eq!(v["process"]["terminal"], true);
    assert_eq!(v["root"]["path"], "rootfs");
    assert!(v["linux"]["namespaces"].as_array().unwrap().len() >= 5);
    // A second `spec` refuses to overwrite (runc: `File config.json exists.
    // Remove it first`).
    let again = rt.output(&["spec", "--bundle", dir.path().to_str().unwrap()]);
    assert!(
        contains_any(again.assert_failure(), &["config.json"]),
        "{again}"
    );

    let rootless = tempfile::tempdir().unwrap();
    rt.run_ok(&[
        "spec",
        "--rootless",
        "--bundle",
        rootless.path().to_str().unwrap(),
    ]);
    let v: Value =
        serde_json::from_str(&fs::read_to_string(rootless.path().join("config.json")).unwrap())
            .unwrap();
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert!(ns.contains(&"user"), "rootless spec has a user ns: {ns:?}");
    assert!(v["linux"]["uidMappings"].is_array());
}

#[test]
fn spec_default_runs() {
    // The bundle script's config equals `spec`'s default apart from
    // terminal and args: check the runtime's own default the same way.
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::new();
    rt.run_ok(&["spec", "--bundle", dir.path().to_str().unwrap()]);
    let mut v: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
    let mut want = default_spec(&["sh"]);
    v["process"]["terminal"] = false.into();
    want["hostname"] = v["hostname"].clone();
    want["ociVersion"] = v["ociVersion"].clone();
    assert_eq!(
        v["process"], want["process"],
        "spec's process equals runc's default"
    );
    assert_eq!(v["mounts"], want["mounts"], "spec's mounts equal runc's");
    assert_eq!(v["linux"], want["linux"], "spec's linux equals runc's");
}

#[test]
fn features_json() {
    let rt = Runtime::new();
    let out = rt.run_ok(&["features"]);
    let v: Value = serde_json::from_str(&out.stdout).expect("features is JSON");
    assert!(
        v["ociVersionMin"].as_str().unwrap().starts_with("1."),
        "{v}"
    );
    assert!(
        v["ociVersionMax"].as_str().unwrap().starts_with("1."),
        "{v}"
    );
    let hooks: Vec<&str> = v["hooks"]
        .as_array()
        .expect("hooks list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(hooks.contains(&h), "features.hooks has {h}: {hooks:?}");
    }
    assert!(v["mountOptions"].as_array().is_some_and(|a| !a.is_empty()));
    let ns = &v["linux"]["namespaces"];
    for n in ["pid", "network", "mount", "uts", "ipc", "user", "cgroup"] {
        assert!(
            ns.as_array().unwrap().iter().any(|x| x == n),
            "features.linux.namespaces has {n}: {ns}"
        );
    }
}

#[test]
fn version_mentions_spec() {
    let out = Runtime::new().run_ok(&["--version"]);
    // runc: "runc version 1.1.5\ncommit: ...\nspec: 1.0.2-dev\ngo: ...".
    let spec_line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("spec: "))
        .unwrap_or_else(|| panic!("no `spec: ` line: {out}"));
    assert!(spec_line["spec: ".len()..].starts_with("1."), "{spec_line}");
    let first = out.stdout.lines().next().unwrap();
    assert!(first.contains("version"), "{first}");
}

/// `terminal: true` with no --console-socket: the foreground run owns the pty and copies its
/// output (the container sees a real terminal), and the exit code still passes through.
#[test]
fn run_with_terminal_and_no_console_socket() {
    let bundle = Bundle::busybox(&["sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty; exit 5"]);
    bundle.edit(|c| c["process"]["terminal"] = serde_json::json!(true));
    let rt = Runtime::new();
    let id = unique_id("tty");
    let out = rt.run_fg(&bundle, &id);
    assert_eq!(out.code(), 5, "{out}");
    let text = out.stdout.replace('\r', "");
    assert!(text.starts_with("/dev/pts/"), "{out}");
    assert!(text.contains("stdin-is-a-tty\n"), "{out}");
    rt.assert_no_state(&id);
    bundle.assert_gone();
}
