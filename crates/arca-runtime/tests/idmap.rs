//! Id-mapped bind mounts (runtime spec 1.2 `mounts[].uidMappings/gidMappings`, options
//! `idmap` / `ridmap`).
//!
//! Mapping semantics (spec: "the format is the same as user namespace mappings"; runc 1.2 writes
//! them as-is to a helper user namespace): `containerID` is the id stored on the source
//! filesystem, `hostID` the id it shows as through the mount, relative to the runtime's (host's)
//! user namespace. So a file owned by host uid 1000 shows as root inside a container whose user
//! namespace maps 0 → 100000 when the mount maps 1000 → 100000.
//!
//! runc 1.1.5 (the reference runtime here) predates idmapped mounts: it passes `idmap` to the
//! kernel as a filesystem option of a bind mount and ignores the mappings. Where that matters
//! the tests assert what runc does instead (see each `is_runc()` branch).

mod common;

use std::fs;
use std::os::unix::fs::{chown, MetadataExt};
use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};

/// A host directory `vol` in the bundle dir, owned by `uid:gid`, holding a file `f` owned the
/// same way. Removed with the bundle.
fn volume(bundle: &Bundle, name: &str, uid: u32, gid: u32) -> PathBuf {
    let dir = bundle.path().join(name);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("f"), "data").unwrap();
    chown(&dir, Some(uid), Some(gid)).unwrap();
    chown(dir.join("f"), Some(uid), Some(gid)).unwrap();
    dir
}

fn maps(container: u32, host: u32, size: u32) -> Value {
    json!([{"containerID": container, "hostID": host, "size": size}])
}

/// Gives the container a user namespace (0 → 100000); `dirs` are made in the rootfs first (its
/// root-owned directories are not writable from the user namespace).
fn user_namespace(c: &mut Value, bundle: &Bundle, dirs: &[&str]) {
    for d in dirs {
        fs::create_dir_all(bundle.rootfs().join(d)).unwrap();
    }
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    c["linux"]["uidMappings"] = maps(0, 100_000, 65536);
    c["linux"]["gidMappings"] = maps(0, 100_000, 65536);
    // Keep the tests about the mounts (a cgroup mount under a user namespace needs a cgroup
    // namespace in some runtimes).
    c["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["type"] != "cgroup");
}

/// Pids of live processes whose command line has `id` as an argument: the runtime, its clones
/// (the init before it execs, an id-mapping helper) — never a container's own process.
fn runtime_processes(id: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if cmdline.split(|b| *b == 0).any(|a| a == id.as_bytes()) && process_alive(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// Runs `script` in a fresh foreground container; returns the runtime's output and checks that
/// no process of that run (helper included) is left.
fn run(bundle: &Bundle, script: &str) -> Out {
    bundle.edit(|c| set_args(c, &["sh", "-c", script]));
    let rt = Runtime::new();
    let id = unique_id("idmap");
    let out = rt.run_fg(bundle, &id);
    let left = runtime_processes(&id);
    assert!(left.is_empty(), "processes of {id} left: {left:?}\n{out}");
    drop(rt);
    bundle.assert_gone();
    out
}

fn owner(p: &Path) -> (u32, u32) {
    let m = fs::symlink_metadata(p).unwrap();
    (m.uid(), m.gid())
}

#[test]
fn idmap_without_user_namespace() {
    // Mappings relative to the initial user namespace: on-disk 1000 shows as 0.
    let bundle = Bundle::busybox(&["true"]);
    let vol = volume(&bundle, "vol", 1000, 1000);
    bundle.edit(|c| {
        add_mount(
            c,
            json!({"destination": "/data", "type": "bind", "source": vol,
                   "options": ["bind", "idmap"],
                   "uidMappings": maps(1000, 0, 1), "gidMappings": maps(1000, 0, 1)}),
        )
    });
    let out = run(
        &bundle,
        "stat -c '%u %g' /data/f; ls -ln /data | grep ' f$'; touch /data/new",
    );
    if is_runc() {
        // runc 1.1.5 ignores the mappings (and `idmap`, a data option a bind mount drops):
        // the file keeps its on-disk owner and root (without CAP_DAC_OVERRIDE) cannot write.
        assert!(out.stdout.starts_with("1000 1000\n"), "{out}");
        assert!(out.assert_failure().contains("Permission denied"), "{out}");
        return;
    }
    out.assert_success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "0 0", "{out}");
    assert!(
        lines[1].split_whitespace().nth(2) == Some("0"),
        "ls -ln shows root as owner: {out}"
    );
    // Created through the mount as root (0): stored as 1000 on the host.
    assert_eq!(owner(&vol.join("new")), (1000, 1000));
}

#[test]
fn idmap_in_user_namespaced_container() {
    // The brief's case: a host dir owned by 1000 shows as owned by the container's root.
    let bundle = Bundle::busybox(&["true"]);
    let vol = volume(&bundle, "vol", 1000, 1000);
    bundle.edit(|c| {
        user_namespace(c, &bundle, &["data", "data2"]);
        add_mount(
            c,
            json!({"destination": "/data", "type": "bind", "source": vol,
                   "options": ["rbind", "idmap"],
                   "uidMappings": maps(1000, 100_000, 1),
                   "gidMappings": maps(1000, 100_000, 1)}),
        );
        // Same mapping twice: one helper namespace serves both.
        add_mount(
            c,
            json!({"destination": "/data2", "type": "bind", "source": vol,
                   "options": ["bind", "idmap"],
                   "uidMappings": maps(1000, 100_000, 1),
                   "gidMappings": maps(1000, 100_000, 1)}),
        );
    });
    let out = run(
        &bundle,
        "id -u; stat -c '%u %g' /data/f /data2/f; touch /data/new && stat -c '%u %g' /data/new",
    );
    if is_runc() {
        // runc 1.1.5: no idmap; host uid 1000 is unmapped (nobody) in the user namespace.
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines, ["0", "65534 65534", "65534 65534"], "{out}");
        assert!(out.assert_failure().contains("Permission denied"), "{out}");
        return;
    }
    out.assert_success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines, ["0", "0 0", "0 0", "0 0"], "{out}");
    // Created by the container's root (host 100000) through the mount: 1000 on disk.
    assert_eq!(owner(&vol.join("new")), (1000, 1000));
}

#[test]
fn idmap_option_alone_uses_the_container_mappings() {
    // `idmap` without mappings: the container's user namespace mapping (0 → 100000), so the
    // host's root-owned files show as the container's root instead of nobody.
    let bundle = Bundle::busybox(&["true"]);
    let vol = volume(&bundle, "vol", 0, 0);
    bundle.edit(|c| {
        user_namespace(c, &bundle, &["data"]);
        add_mount(
            c,
            json!({"destination": "/data", "type": "bind", "source": vol,
                   "options": ["bind", "idmap"]}),
        );
    });
    let out = run(&bundle, "stat -c '%u %g' /data/f; touch /data/new");
    if is_runc() {
        // runc 1.1.5: no idmap; host root is unmapped (nobody) in the user namespace.
        assert_eq!(out.stdout.trim(), "65534 65534", "{out}");
        assert!(out.assert_failure().contains("Permission denied"), "{out}");
        return;
    }
    out.assert_success();
    assert_eq!(out.stdout.trim(), "0 0", "{out}");
    assert_eq!(owner(&vol.join("new")), (0, 0));
}

#[test]
fn idmap_option_without_mappings_or_user_namespace_fails() {
    let bundle = Bundle::busybox(&["true"]);
    let vol = volume(&bundle, "vol", 1000, 1000);
    bundle.edit(|c| {
        add_mount(
            c,
            json!({"destination": "/data", "type": "bind", "source": vol,
                   "options": ["bind", "idmap"]}),
        )
    });
    let out = run(&bundle, "true");
    if is_runc() {
        // runc 1.1.5 does not know the option and a bind mount drops it: no error.
        out.assert_success();
        return;
    }
    let err = out.assert_failure();
    assert!(err.contains("mounts[7] (/data)"), "{out}");
    assert!(err.contains("user namespace"), "{out}");
}

#[test]
fn ridmap_maps_submounts_and_idmap_does_not() {
    let bundle = Bundle::busybox(&["true"]);
    let vol = volume(&bundle, "vol", 1000, 1000);
    let sub = vol.join("sub");
    let _tmpfs = HostMount::tmpfs(&sub);
    fs::write(sub.join("g"), "x").unwrap();
    chown(sub.join("g"), Some(1000), Some(1000)).unwrap();
    bundle.edit(|c| {
        for (dest, opt) in [("/r", "ridmap"), ("/n", "idmap")] {
            add_mount(
                c,
                json!({"destination": dest, "type": "bind", "source": vol,
                       "options": ["rbind", opt],
                       "uidMappings": maps(1000, 0, 1), "gidMappings": maps(1000, 0, 1)}),
            );
        }
    });
    let out = run(&bundle, "stat -c '%u' /r/f /r/sub/g /n/f /n/sub/g");
    if is_runc() {
        // runc 1.1.5 ignores the mappings: every file keeps its on-disk owner.
        out.assert_success();
        assert_eq!(
            out.stdout.split_whitespace().collect::<Vec<_>>(),
            ["1000"; 4],
            "{out}"
        );
        return;
    }
    out.assert_success();
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "0", "1000"],
        "{out}"
    );
}

#[test]
fn idmap_refused_by_the_filesystem_names_the_mount() {
    // sysfs has no id-mapped mount support: the kernel says EINVAL.
    let bundle = Bundle::busybox(&["true"]);
    bundle.edit(|c| {
        add_mount(
            c,
            json!({"destination": "/hostsys", "type": "bind", "source": "/sys/kernel",
                   "options": ["bind", "idmap"],
                   "uidMappings": maps(0, 1000, 1), "gidMappings": maps(0, 1000, 1)}),
        )
    });
    let out = run(&bundle, "true");
    if is_runc() {
        // runc 1.1.5 ignores the mapping, so the filesystem is never asked.
        out.assert_success();
        return;
    }
    let err = out.assert_failure();
    assert!(err.contains("mounts[7] (/hostsys)"), "{out}");
    assert!(err.contains("id-mapped"), "{out}");
}

#[test]
fn idmap_mapping_errors_name_the_mount() {
    // Only uidMappings; and mappings on a non-bind mount.
    for (mount, needle) in [
        (
            json!({"destination": "/data", "type": "bind", "source": "/tmp",
                   "options": ["bind"], "uidMappings": maps(0, 1000, 1)}),
            "gidMappings",
        ),
        (
            json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                   "options": ["idmap"],
                   "uidMappings": maps(0, 1000, 1), "gidMappings": maps(0, 1000, 1)}),
            "bind",
        ),
    ] {
        let bundle = Bundle::busybox(&["true"]);
        bundle.edit(|c| add_mount(c, mount.clone()));
        let out = run(&bundle, "true");
        if is_runc() {
            // runc 1.1.5 ignores the mappings: the bind succeeds, and the tmpfs fails only
            // because `idmap` reaches the kernel as a tmpfs option.
            if needle == "bind" {
                assert!(
                    out.assert_failure().contains("idmap: invalid argument"),
                    "{out}"
                );
            } else {
                out.assert_success();
            }
            continue;
        }
        let err = out.assert_failure();
        assert!(err.contains("mounts[7] (/data)"), "{out}");
        assert!(err.contains(needle), "{out}");
    }
}

#[test]
fn created_container_keeps_no_helper() {
    // After `create` only the init (still the runtime's clone) carries the id.
    let bundle = Bundle::busybox(&["true"]);
    let vol = volume(&bundle, "vol", 1000, 1000);
    bundle.edit(|c| {
        add_mount(
            c,
            json!({"destination": "/data", "type": "bind", "source": vol,
                   "options": ["bind", "idmap"],
                   "uidMappings": maps(1000, 0, 1), "gidMappings": maps(1000, 0, 1)}),
        )
    });
    let rt = Runtime::new();
    let id = unique_id("idmapc");
    rt.track(&id);
    rt.run_ok(&["create", "--bundle", bundle.path_str(), &id]);
    let pid = rt.pid(&id);
    if is_runc() {
        // runc's init is a re-exec (`runc init`): no process carries the id.
        assert_eq!(runtime_processes(&id), Vec::<i32>::new());
    } else {
        assert_eq!(runtime_processes(&id), [pid]);
    }
    rt.run_ok(&["delete", "--force", &id]);
    drop(rt);
    bundle.assert_gone();
}

#[test]
fn features_report_idmap() {
    let rt = Runtime::new();
    let out = rt.run_ok(&["features"]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let opts = v["mountOptions"].as_array().unwrap();
    if is_runc() {
        // runc 1.1.5 predates idmapped mounts: neither listed nor reported.
        assert!(!opts.contains(&json!("idmap")) && !opts.contains(&json!("ridmap")));
        assert!(v["linux"]["mountExtensions"].is_null(), "{out}");
        return;
    }
    assert_eq!(v["linux"]["mountExtensions"]["idmap"]["enabled"], true);
    assert!(opts.contains(&json!("idmap")) && opts.contains(&json!("ridmap")));
}
