//! OCI hooks: each hook writes the state it got on stdin, an env var and an
//! argument to files; the test checks their order and content.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use serde_json::{json, Value};

const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// A hook that records into `$OUT`: `<name>.json` (stdin), `<name>.env`
/// ($HOOK_ENV), `<name>.arg` ($1) and a line in `order`.
fn recording_hook(name: &str, out_dir: &str, mark: &str) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c",
                 "cat > \"$OUT/$1.json\"; echo \"$HOOK_ENV\" > \"$OUT/$1.env\"; \
                  echo \"$1\" > \"$OUT/$1.arg\"; echo \"$1\" >> \"$OUT/order\"",
                 "sh", name],
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            format!("HOOK_ENV=env-{name}"),
            format!("OUT={out_dir}"),
            format!("ARCA_TEST_MARK={mark}"),
        ]
    })
}

fn order(out: &Path) -> Vec<String> {
    fs::read_to_string(out.join("order"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn hook_state(out: &Path, name: &str) -> Value {
    let text = fs::read_to_string(out.join(format!("{name}.json")))
        .unwrap_or_else(|e| panic!("{name} hook wrote no state: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} state not JSON ({e}): {text}"))
}

#[test]
fn all_hooks_in_order_with_state() {
    let bundle = Bundle::busybox(&["sh", "-c", "sleep 1000"]);
    let out = bundle.path().join("hookout");
    fs::create_dir_all(&out).unwrap();
    fs::create_dir_all(bundle.rootfs().join("hookout")).unwrap();
    let host_out = out.to_str().unwrap().to_string();
    let mark = bundle.mark().to_string();
    bundle.edit(|c| {
        let mut hooks = serde_json::Map::new();
        for name in HOOKS {
            // startContainer runs in the container, after pivot_root: its
            // /bin/sh is busybox and it writes through a bind mount.
            let dir = if name == "startContainer" {
                "/hookout"
            } else {
                &host_out
            };
            hooks.insert(name.into(), json!([recording_hook(name, dir, &mark)]));
        }
        c["hooks"] = Value::Object(hooks);
        add_mount(
            c,
            json!({"destination": "/hookout", "type": "bind", "source": host_out,
                   "options": ["rbind", "rw"]}),
        );
    });
    let rt = Runtime::new();
    let id = unique_id("hooks");

    // runc 1.1 runs poststart during create, before the user process starts
    // (runc issue #4347, fixed upstream in 2026); the spec, and arca, run it
    // in start after the process started.
    let (at_create, at_start): (&[&str], &[&str]) = if is_runc() {
        (
            &["prestart", "createRuntime", "createContainer", "poststart"],
            &["startContainer"],
        )
    } else {
        (
            &["prestart", "createRuntime", "createContainer"],
            &["startContainer", "poststart"],
        )
    };
    rt.create(&bundle, &id);
    let pid = rt.pid(&id);
    assert_eq!(order(&out), at_create, "hooks run by create");
    rt.run_ok(&["start", &id]);
    wait_for("start hooks", || order(&out).len() >= 5);
    assert_eq!(
        order(&out)[at_create.len()..],
        *at_start,
        "hooks run by start"
    );
    rt.run_ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    rt.run_ok(&["delete", &id]);
    let all: Vec<&str> = at_create
        .iter()
        .chain(at_start)
        .copied()
        .chain(["poststop"])
        .collect();
    assert_eq!(order(&out), all, "all hooks, in order, once each");

    for name in HOOKS {
        let state = hook_state(&out, name);
        assert_eq!(state["id"], id.as_str(), "{name}: {state}");
        assert_eq!(
            state["bundle"].as_str(),
            Some(bundle.path_str()),
            "{name}: {state}"
        );
        assert!(
            state["ociVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("1.")),
            "{name}: {state}"
        );
        let status = state["status"].as_str().unwrap_or_default();
        let want: &[&str] = match name {
            // runc 1.1 says "creating" for the create-time hooks (the spec
            // allows "creating" or "created" there).
            "prestart" | "createRuntime" | "createContainer" => &["creating", "created"],
            "startContainer" => &["created"],
            // runc 1.1 runs poststart at create (see above).
            "poststart" if is_runc() => &["created", "running"],
            "poststart" => &["running"],
            "poststop" => &["stopped"],
            _ => unreachable!(),
        };
        assert!(
            want.contains(&status),
            "{name}: status {status:?} in {want:?}"
        );
        match name {
            // These run in the container's pid namespace; runc gives the pid
            // as seen there (1), the host pid is fine as well.
            "createContainer" | "startContainer" => assert!(
                state["pid"] == pid || state["pid"] == 1,
                "{name}: pid of init: {state}"
            ),
            "poststop" => {}
            _ => assert_eq!(state["pid"], pid, "{name}: pid of init: {state}"),
        }
        let env = fs::read_to_string(out.join(format!("{name}.env"))).unwrap();
        assert_eq!(env, format!("env-{name}\n"));
        let arg = fs::read_to_string(out.join(format!("{name}.arg"))).unwrap();
        assert_eq!(arg, format!("{name}\n"));
    }
    rt.assert_no_state(&id);
    bundle.assert_gone();
}

#[test]
fn hooks_with_run() {
    // `run` runs the create and start hooks, and poststop when the
    // container exits.
    let bundle = Bundle::busybox(&["sh", "-c", "echo body"]);
    let out = bundle.path().join("hookout");
    fs::create_dir_all(&out).unwrap();
    let host_out = out.to_str().unwrap().to_string();
    let mark = bundle.mark().to_string();
    bundle.edit(|c| {
        c["hooks"] = json!({
            "createRuntime": [recording_hook("createRuntime", &host_out, &mark)],
            "poststart": [recording_hook("poststart", &host_out, &mark)],
            "poststop": [recording_hook("poststop", &host_out, &mark)],
        });
    });
    let rt = Runtime::new();
    let body = rt.run_stdout(&bundle);
    assert_eq!(body, "body\n");
    assert_eq!(order(&out), ["createRuntime", "poststart", "poststop"]);
    if !is_runc() {
        // After the user's process started (runc 1.1 runs poststart at create).
        assert_eq!(hook_state(&out, "poststart")["status"], "running");
    }
    assert_eq!(hook_state(&out, "poststop")["status"], "stopped");
    drop(rt);
    bundle.assert_gone();
}

#[test]
fn hook_timeout_fails_create_cleanly() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let mark = bundle.mark().to_string();
    bundle.edit(|c| {
        c["hooks"] = json!({
            "createRuntime": [{
                "path": "/bin/sh",
                "args": ["sh", "-c", "exec sleep 1000"],
                "env": [format!("ARCA_TEST_MARK={mark}")],
                "timeout": 1
            }]
        });
    });
    let rt = Runtime::new();
    let id = unique_id("hooktimeout");
    rt.track(&id);
    let out = rt.output(&["create", "--bundle", bundle.path_str(), &id]);
    let err = out.assert_failure();
    // runc: `error running hook #0: error running hook: exit status ...,
    // stdout: , stderr: : timeout`-like ("hook ... timed out").
    assert!(contains_any(err, &["timeout", "timed out"]), "{out}");
    assert!(contains_any(err, &["hook"]), "{out}");
    rt.assert_no_state(&id);
    assert!(rt.output(&["state", &id]).status.code() != Some(0));
    // The hook process is killed too (it carries the bundle's marker).
    wait_for("hook and container processes to go", || {
        bundle.processes().is_empty()
    });
    bundle.assert_gone();
}

#[test]
fn failing_prestart_hook_fails_create_cleanly() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let mark = bundle.mark().to_string();
    bundle.edit(|c| {
        c["hooks"] = json!({
            "prestart": [{
                "path": "/bin/sh",
                "args": ["sh", "-c", "echo hook-complains >&2; exit 3"],
                "env": [format!("ARCA_TEST_MARK={mark}")]
            }]
        });
    });
    let rt = Runtime::new();
    let id = unique_id("hookfail");
    rt.track(&id);
    let out = rt.output(&["create", "--bundle", bundle.path_str(), &id]);
    let err = out.assert_failure();
    // runc: `error running hook #0: error running hook: exit status 3,
    // stdout: , stderr: hook-complains`.
    assert!(contains_any(err, &["hook"]), "{out}");
    assert!(
        contains_any(err, &["exit status 3", "hook-complains"]),
        "{out}"
    );
    rt.assert_no_state(&id);
    wait_for("container processes to go", || {
        bundle.processes().is_empty()
    });
    bundle.assert_gone();
}

#[test]
fn hook_with_missing_path_fails_create() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let missing = unique_id("/nonexistent-hook");
    bundle.edit(|c| {
        c["hooks"] = json!({ "createRuntime": [{ "path": missing }] });
    });
    let rt = Runtime::new();
    let id = unique_id("hookmissing");
    rt.track(&id);
    let out = rt.output(&["create", "--bundle", bundle.path_str(), &id]);
    assert!(contains_any(out.assert_failure(), &["hook"]), "{out}");
    rt.assert_no_state(&id);
    wait_for("container processes to go", || {
        bundle.processes().is_empty()
    });
    bundle.assert_gone();
}
