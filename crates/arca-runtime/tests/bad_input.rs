//! Bad bundles and configs: each `create` fails with a non-zero exit and one
//! clear error line naming the field or file, and leaves nothing behind (no
//! state under --root, no cgroup dir, no process).
//!
//! runc's messages differ from arca's: substring checks are loose and
//! case-insensitive; assertions that only arca meets sit under `!is_runc()`.

mod common;

use std::fs;

use common::*;
use serde_json::json;

/// Runs `create` on `bundle` and checks the failure; returns stderr.
fn create_fails(bundle: &Bundle, wants: &[&str]) -> String {
    let rt = Runtime::new();
    let id = unique_id("bad");
    rt.track(&id);
    let out = rt.output(&["create", "--bundle", bundle.path_str(), &id]);
    let err = out.assert_failure().to_string();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one error line on stderr: {out}");
    assert!(
        contains_any(&err, wants),
        "stderr names one of {wants:?}: {out}"
    );
    rt.assert_no_state(&id);
    assert!(
        rt.output(&["state", &id]).status.code() != Some(0),
        "no state after a failed create"
    );
    let list = rt.run_ok(&["list", "-q"]);
    assert_eq!(list.stdout.trim(), "", "list is empty: {list}");
    bundle.assert_gone();
    drop(rt);
    err
}

#[test]
fn missing_config_json() {
    let bundle = Bundle::busybox(&["true"]);
    fs::remove_file(bundle.config_path()).unwrap();
    // runc: `JSON specification file config.json not found`.
    create_fails(&bundle, &["config.json"]);
}

#[test]
fn malformed_json() {
    let bundle = Bundle::busybox(&["true"]);
    fs::write(bundle.config_path(), "{\"ociVersion\": ").unwrap();
    // runc: `unexpected EOF` (it does not name the file).
    let err = create_fails(&bundle, &["config.json", "unexpected EOF"]);
    if !is_runc() {
        // arca-specific: the message names the file.
        assert!(contains_any(&err, &["config.json"]), "{err}");
    }
}

#[test]
fn wrong_json_type() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.edit(|c| c["process"]["args"] = json!("sh -c true"));
    // runc: `json: cannot unmarshal string into Go struct field
    // Process.process.args of type []string`.
    create_fails(&bundle, &["args", "config.json"]);
}

#[test]
fn unsupported_oci_version() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.edit(|c| c["ociVersion"] = json!("2.0.0"));
    if is_runc() {
        // runc 1.1 does not check ociVersion and runs the container.
        let rt = Runtime::new();
        let id = unique_id("v2");
        rt.run_ok(&["run", "--bundle", bundle.path_str(), &id]);
        return;
    }
    // arca-specific: a major version it does not know is refused.
    create_fails(&bundle, &["ociVersion"]);
}

#[test]
fn missing_rootfs() {
    let bundle = Bundle::busybox(&["true"]);
    fs::remove_dir_all(bundle.rootfs()).unwrap();
    // runc: `invalid rootfs: stat <bundle>/rootfs: no such file or directory`.
    create_fails(&bundle, &["rootfs"]);
}

#[test]
fn empty_args() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.edit(|c| c["process"]["args"] = json!([]));
    // runc: `args must not be empty`.
    create_fails(&bundle, &["args"]);
}

#[test]
fn relative_cwd() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.edit(|c| c["process"]["cwd"] = json!("tmp"));
    // runc: `Cwd must be an absolute path`.
    create_fails(&bundle, &["cwd"]);
}

#[test]
fn unknown_namespace_type() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "bogus"}))
    });
    // runc: `namespace {"bogus" ""} does not exist`.
    create_fails(&bundle, &["namespace"]);
}

#[test]
fn invalid_uid() {
    let bundle = Bundle::busybox(&["true"]);
    bundle.edit(|c| c["process"]["user"]["uid"] = json!(4294967295u32));
    // runc: `unable to setup user: uids and gids must be in range
    // 0-2147483647`.
    create_fails(&bundle, &["uid"]);
}

#[test]
fn nonexistent_executable() {
    let bundle = Bundle::busybox(&["/nonexistent"]);
    // runc: `exec: "/nonexistent": stat /nonexistent: no such file or
    // directory`, at create time.
    create_fails(&bundle, &["/nonexistent"]);
}

#[test]
fn executable_not_in_path() {
    let bundle = Bundle::busybox(&["no-such-command"]);
    // runc: `exec: "no-such-command": executable file not found in $PATH`.
    create_fails(&bundle, &["no-such-command"]);
}

#[test]
fn mount_destination_escaping_with_dotdot() {
    let host_dir = unique_id("/tmp/arca-escape");
    let bundle = Bundle::busybox(&["sh", "-c", "echo ran"]);
    let dest = format!("/../../../../../..{host_dir}");
    bundle.edit(|c| {
        add_mount(
            c,
            json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}),
        )
    });
    if is_runc() {
        // runc resolves the path inside the rootfs (securejoin) and runs.
        let rt = Runtime::new();
        let out = rt.run_stdout(&bundle);
        assert_eq!(out, "ran\n");
        assert!(bundle.rootfs().join(&host_dir[1..]).is_dir());
    } else {
        // arca-specific: a destination with `..` is refused.
        create_fails(&bundle, &["mounts", "destination"]);
    }
    assert!(
        !std::path::Path::new(&host_dir).exists(),
        "nothing created on the host at {host_dir}"
    );
}

/// A rootfs symlink to a host directory, used as a mount destination: the
/// mount must land inside the rootfs, never on the host directory.
fn symlink_destination(link_target: impl FnOnce(&std::path::Path) -> String) {
    let host = tempfile::tempdir().unwrap();
    fs::write(host.path().join("marker"), "host file\n").unwrap();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("inside"), "mounted\n").unwrap();
    let bundle = Bundle::busybox(&[
        "sh",
        "-c",
        "cat /evil/inside; [ -e /evil/marker ] && echo marker-visible || echo no-marker",
    ]);
    std::os::unix::fs::symlink(link_target(host.path()), bundle.rootfs().join("evil")).unwrap();
    let s = src.path().to_str().unwrap().to_string();
    bundle.edit(|c| {
        add_mount(
            c,
            json!({"destination": "/evil", "type": "bind", "source": s,
                   "options": ["rbind", "rw"]}),
        )
    });
    let rt = Runtime::new();
    let id = unique_id("symlink");
    let out = rt.run_fg(&bundle, &id);
    // The host directory is not shadowed, not written.
    assert_eq!(
        fs::read_to_string(host.path().join("marker")).unwrap(),
        "host file\n"
    );
    assert!(!host.path().join("inside").exists());
    assert!(
        fs::read_dir(host.path()).unwrap().count() == 1,
        "host dir untouched"
    );
    if out.success() {
        // Followed inside the rootfs: the container sees the bind mount
        // through its symlink, and no host file.
        assert_eq!(out.stdout, "mounted\nno-marker\n", "{out}");
    } else {
        // Refusing is fine too, with a clear message.
        assert!(
            contains_any(&out.stderr, &["mount", "evil", "symlink"]),
            "{out}"
        );
        rt.assert_no_state(&id);
    }
    drop(rt);
    bundle.assert_gone();
}

#[test]
fn symlink_to_host_dir_as_mount_destination() {
    symlink_destination(|host| host.to_str().unwrap().to_string());
}

#[test]
fn relative_symlink_escaping_as_mount_destination() {
    symlink_destination(|host| format!("../../../../../../../..{}", host.display()));
}

#[test]
fn bind_source_missing() {
    let bundle = Bundle::busybox(&["true"]);
    let missing = unique_id("/tmp/arca-missing-src");
    bundle.edit(|c| {
        add_mount(
            c,
            json!({"destination": "/data", "type": "bind", "source": missing,
                   "options": ["bind"]}),
        )
    });
    // runc: `error mounting "/tmp/..." to rootfs at "/data": stat ...: no
    // such file or directory`.
    create_fails(&bundle, &[&missing, "mount"]);
}

#[test]
fn start_unknown_container() {
    let rt = Runtime::new();
    let id = unique_id("ghost");
    for cmd in ["start", "state", "delete", "kill", "ps"] {
        let out = rt.output(&[cmd, &id]);
        // runc: `container does not exist`.
        let err = out.assert_failure();
        assert!(
            contains_any(err, &["not exist", "not found", "no such"]),
            "{cmd}: {out}"
        );
    }
    // `delete --force` of an unknown id succeeds quietly (containerd relies
    // on this when cleaning up).
    let out = rt.output(&["delete", "--force", &id]);
    assert!(out.success(), "{out}");
}

#[test]
fn invalid_container_id() {
    let bundle = Bundle::busybox(&["true"]);
    // runc: `invalid container id format: ../x`.
    create_fails_with_id(&bundle, "../x", &["id"]);
    create_fails_with_id(&bundle, "a/b", &["id"]);
}

fn create_fails_with_id(bundle: &Bundle, id: &str, wants: &[&str]) {
    let rt = Runtime::new();
    let out = rt.output(&["create", "--bundle", bundle.path_str(), id]);
    assert!(contains_any(out.assert_failure(), wants), "{out}");
    let left: Vec<_> = fs::read_dir(rt.root()).unwrap().flatten().collect();
    assert!(left.is_empty(), "nothing under --root: {left:?}");
    bundle.assert_gone();
}
