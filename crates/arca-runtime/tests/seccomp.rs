//! `linux.seccomp`: profiles confine the container's process (errno, kill, argument
//! conditions, allow lists, Podman's default profile), SCMP_ACT_NOTIFY hands the listener fd to
//! an agent, and the compiled program is cached under the runtime's root.

mod common;

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// A busybox bundle running `sh -c SCRIPT` under `profile`, with a writable root (so that a
/// failing mkdir fails because of seccomp, not EROFS).
fn bundle(script: &str, profile: Value) -> Bundle {
    let b = Bundle::busybox(&["sh", "-c", script]);
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["linux"]["seccomp"] = profile;
    });
    b
}

fn deny_mkdir(errno: u32) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno }]
    })
}

/// Podman's default profile (from the config.json podman generates).
fn podman_profile() -> Value {
    let text = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/podman-seccomp.json"),
    )
    .expect("read podman profile fixture");
    serde_json::from_str(&text).expect("podman profile is JSON")
}

/// The unconditional allow list of Podman's profile, less `except`.
fn allow_list_without(except: &[&str]) -> Vec<String> {
    let p = podman_profile();
    p["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none())
        .flat_map(|r| r["names"].as_array().unwrap().iter())
        .map(|n| n.as_str().unwrap().to_owned())
        .filter(|n| !except.contains(&n.as_str()))
        .collect()
}

fn cache_files(rt: &Runtime) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(rt.root().join(".seccomp-cache"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn errno_rule_fails_the_syscall() {
    let b = bundle("mkdir /tmp/x", deny_mkdir(1));
    let rt = Runtime::new();
    let out = rt.run_fg(&b, &unique_id("sc-errno"));
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stderr.contains("Operation not permitted"),
        "mkdir must fail with EPERM: {out}"
    );
    assert!(!b.rootfs().join("tmp/x").exists());
    // The same container without the profile can mkdir.
    b.edit(|c| {
        c["linux"]
            .as_object_mut()
            .unwrap()
            .remove("seccomp")
            .map(drop)
            .unwrap_or(())
    });
    rt.run_stdout(&b);
    assert!(b.rootfs().join("tmp/x").is_dir());
}

#[test]
fn errno_default_with_allow_list() {
    // Everything Podman allows but mkdir: busybox runs, mkdir(2) gets the default EPERM.
    let profile = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{ "names": allow_list_without(&["mkdir", "mkdirat"]), "action": "SCMP_ACT_ALLOW" }]
    });
    let b = bundle("echo start; mkdir /tmp/x; echo mkdir=$?", profile.clone());
    let rt = Runtime::new();
    let out = rt.run_fg(&b, &unique_id("sc-allow"));
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout, "start\nmkdir=1\n", "{out}");
    assert!(out.stderr.contains("Operation not permitted"), "{out}");

    // defaultErrnoRet changes the errno.
    let mut profile = profile;
    profile["defaultErrnoRet"] = json!(38);
    b.edit(|c| c["linux"]["seccomp"] = profile);
    let out = rt.run_fg(&b, &unique_id("sc-allow"));
    assert!(out.success(), "{out}");
    assert!(out.stderr.contains("Function not implemented"), "{out}");
}

#[test]
fn argument_condition() {
    // personality(PER_LINUX32) is refused, personality(PER_LINUX) is not.
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{
            "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
            "args": [{ "index": 0, "value": 8, "op": "SCMP_CMP_EQ" }]
        }]
    });
    let b = bundle(
        "linux64 true && echo linux64-ok; linux32 true || echo linux32-refused",
        profile,
    );
    let rt = Runtime::new();
    let out = rt.run_fg(&b, &unique_id("sc-arg"));
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout, "linux64-ok\nlinux32-refused\n", "{out}");
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
}

#[test]
fn kill_process_is_sigsys() {
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["sync"], "action": "SCMP_ACT_KILL_PROCESS" }]
    });
    // exec: the container's process itself makes the call (a forked applet would die alone).
    let b = bundle("echo before; exec sync", profile);
    let rt = Runtime::new();
    let out = rt.run_fg(&b, &unique_id("sc-kill"));
    assert_eq!(out.code(), 128 + 31, "killed by SIGSYS: {out}");
    assert_eq!(out.stdout, "before\n", "{out}");
}

#[test]
fn unknown_syscall_names_are_skipped() {
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            { "names": ["arca_no_such_syscall", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 },
            { "names": ["another_made_up_one"], "action": "SCMP_ACT_KILL" }
        ]
    });
    let b = bundle("echo running; mkdir /tmp/x", profile);
    let rt = Runtime::new();
    let out = rt.run_fg(&b, &unique_id("sc-unknown"));
    assert_eq!(out.stdout, "running\n", "{out}");
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
}

#[test]
fn podman_default_profile() {
    let rt = Runtime::new();
    // Podman leaves noNewPrivileges unset: the filter is then loaded while the init still has
    // CAP_SYS_ADMIN; with it set, after the capabilities are dropped.
    for nnp in [false, true] {
        let b = bundle("echo ok", podman_profile());
        b.edit(|c| c["process"]["noNewPrivileges"] = json!(nnp));
        assert_eq!(rt.run_stdout(&b), "ok\n", "noNewPrivileges {nnp}");
    }
    // What it refuses, it refuses with errnoRet 1, even with the capability.
    let b = bundle("hostname arca-renamed || echo refused", podman_profile());
    b.edit(|c| {
        let caps = &mut c["process"]["capabilities"];
        for set in ["bounding", "effective", "permitted"] {
            caps[set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_ADMIN"));
        }
    });
    let out = rt.run_fg(&b, &unique_id("sc-podman"));
    assert_eq!(out.stdout, "refused\n", "{out}");
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
    b.edit(|c| {
        c["linux"]
            .as_object_mut()
            .unwrap()
            .remove("seccomp")
            .map(drop)
            .unwrap_or(())
    });
    let out = rt.run_fg(&b, &unique_id("sc-podman"));
    assert_eq!(out.stdout, "", "allowed without the profile: {out}");
}

#[test]
fn exec_is_confined_too() {
    let b = bundle("sleep 1000", deny_mkdir(1));
    let rt = Runtime::new();
    let id = unique_id("sc-exec");
    rt.run_detached(&b, &id);
    rt.wait_status(&id, "running");
    let out = rt.output(&["exec", &id, "mkdir", "/tmp/x"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
}

#[test]
fn notify_sends_the_listener_fd_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "arca-test-metadata",
        "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY" }]
    });
    // mkdir blocks until the agent answers or goes away (then: ENOSYS); the script goes on.
    let b = bundle("mkdir /tmp/n; echo done", profile);
    let rt = Runtime::new();
    let id = unique_id("sc-notify");
    rt.track(&id);
    let run = rt.spawn(&["run", "--bundle", b.path_str(), &id]);

    let deadline = Instant::now() + Duration::from_secs(60);
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    Instant::now() < deadline,
                    "no connection from the runtime; stderr: {}",
                    run.stderr_now()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let (fd, payload) = receive_fd_and_json(&stream);
    assert!(payload["ociVersion"].is_string(), "{payload}");
    if !is_runc() {
        assert_eq!(payload["ociVersion"], "1.2.0", "{payload}");
    }
    assert_eq!(payload["fds"], json!(["seccompFd"]), "{payload}");
    assert_eq!(payload["metadata"], "arca-test-metadata", "{payload}");
    let pid = payload["pid"].as_i64().expect("pid");
    assert!(pid > 0, "{payload}");
    let state = &payload["state"];
    assert_eq!(state["id"], id.as_str(), "{payload}");
    assert_eq!(state["pid"], pid, "{payload}");
    assert_eq!(
        Path::new(state["bundle"].as_str().unwrap()),
        b.path(),
        "{payload}"
    );
    assert!(state["status"].is_string(), "{payload}");
    // It is a seccomp notify fd.
    let link = fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
    assert!(
        link.to_string_lossy().contains("seccomp notify"),
        "{link:?}"
    );
    // The agent goes away: the pending and later notifications fail with ENOSYS.
    nix::unistd::close(fd).unwrap();
    drop(stream);
    let out = run.wait();
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout, "done\n", "{out}");
    assert!(!b.rootfs().join("tmp/n").exists(), "{out}");
}

/// One message from the agent's side: the fd (SCM_RIGHTS) and the JSON that comes with it.
fn receive_fd_and_json(stream: &std::os::unix::net::UnixStream) -> (RawFd, Value) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = vec![0u8; 65536];
    let (n, fd) = {
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .expect("recvmsg from the runtime");
        let mut fd = None;
        for c in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(fds) = c {
                fd = fds.first().copied();
            }
        }
        (msg.bytes, fd.expect("an fd came with the message"))
    };
    let mut data = buf[..n].to_vec();
    let mut s = stream;
    while serde_json::from_slice::<Value>(&data).is_err() {
        let mut more = [0u8; 4096];
        let m = s.read(&mut more).expect("read the rest of the state");
        assert!(
            m > 0,
            "EOF before a whole JSON: {}",
            String::from_utf8_lossy(&data)
        );
        data.extend_from_slice(&more[..m]);
    }
    (fd, serde_json::from_slice(&data).unwrap())
}

#[test]
fn notify_without_listener_path_is_refused() {
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
    });
    let b = bundle("true", profile);
    let rt = Runtime::new();
    let id = unique_id("sc-nolistener");
    let out = rt.run_fg(&b, &id);
    let err = out.assert_failure();
    if !is_runc() {
        assert!(err.contains("listenerPath"), "{out}");
    }
    b.assert_gone();
}

#[test]
fn compiled_program_is_cached() {
    if is_runc() {
        return; // runc has no cache
    }
    let rt = Runtime::new();
    let b = bundle("mkdir /tmp/x", deny_mkdir(1));
    let out = rt.run_fg(&b, &unique_id("sc-cache"));
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
    let files = cache_files(&rt);
    assert_eq!(files.len(), 1, "one entry: {files:?}");
    let eperm_entry = files[0].clone();
    let name = eperm_entry.file_name().unwrap().to_str().unwrap();
    assert!(
        name.len() == 68 && name.ends_with(".bpf"),
        "<sha256 hex>.bpf: {name}"
    );
    let mtime = fs::metadata(&eperm_entry).unwrap().modified().unwrap();

    // The same profile again: the entry is read, not rewritten.
    let out = rt.run_fg(&b, &unique_id("sc-cache"));
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
    assert_eq!(cache_files(&rt), files);
    assert_eq!(
        fs::metadata(&eperm_entry).unwrap().modified().unwrap(),
        mtime
    );

    // Another profile gets another entry. Put its program in the first entry's place: a run
    // of the first profile now behaves like the second, so the cache is what gets loaded.
    b.edit(|c| c["linux"]["seccomp"] = deny_mkdir(13));
    let out = rt.run_fg(&b, &unique_id("sc-cache"));
    assert!(out.stderr.contains("Permission denied"), "{out}");
    let files = cache_files(&rt);
    assert_eq!(files.len(), 2, "{files:?}");
    let eacces_entry = files.iter().find(|f| **f != eperm_entry).unwrap();
    fs::copy(eacces_entry, &eperm_entry).unwrap();
    b.edit(|c| c["linux"]["seccomp"] = deny_mkdir(1));
    let out = rt.run_fg(&b, &unique_id("sc-cache"));
    assert!(out.stderr.contains("Permission denied"), "{out}");

    // A damaged entry is compiled again and replaced.
    fs::write(&eperm_entry, b"not a program").unwrap();
    let out = rt.run_fg(&b, &unique_id("sc-cache"));
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
    assert_eq!(fs::metadata(&eperm_entry).unwrap().len() % 8, 0);
}

#[test]
fn features_report_seccomp() {
    let rt = Runtime::new();
    let out = rt.run_ok(&["features"]);
    let f: Value = serde_json::from_str(&out.stdout).unwrap();
    let s = &f["linux"]["seccomp"];
    assert_eq!(s["enabled"], true, "{s}");
    for (k, v) in [
        ("actions", "SCMP_ACT_NOTIFY"),
        ("actions", "SCMP_ACT_KILL_PROCESS"),
        ("operators", "SCMP_CMP_MASKED_EQ"),
        ("archs", "SCMP_ARCH_X86_64"),
        ("knownFlags", "SECCOMP_FILTER_FLAG_LOG"),
        ("supportedFlags", "SECCOMP_FILTER_FLAG_LOG"),
    ] {
        if is_runc() && k.ends_with("Flags") {
            continue; // older runc versions do not list flags
        }
        assert!(
            s[k].as_array().unwrap().iter().any(|x| x == v),
            "{k} lacks {v}: {s}"
        );
    }
}
