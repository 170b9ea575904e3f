//! Rootless mode: an unprivileged user (made for each test, removed on drop) runs containers
//! with `arca-runtime` and the default `--root` ($XDG_RUNTIME_DIR/arca): a user namespace
//! mapping the user's uid to root, multi-range mappings through newuidmap/newgidmap with the
//! user's /etc/subuid and /etc/subgid ranges, no cgroup on v1/hybrid, exec into the container,
//! and nothing left behind.

mod common;

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::user::TestUser;
use common::{runtime, Bundle, Out, Proc};
use serde_json::{json, Value};

/// What only the runtime's tests do as the user.
impl TestUser {
    /// `arca-runtime args...` as this user (no `--root`: the default for a user).
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(&[], runtime().to_str().unwrap());
        cmd.args(args);
        cmd
    }

    fn output(&self, args: &[&str]) -> Out {
        Proc::spawn(self.cmd(args)).wait()
    }

    fn run_ok(&self, args: &[&str]) -> Out {
        let out = self.output(args);
        out.assert_success();
        out
    }

    fn state_root(&self) -> PathBuf {
        self.xdg.path().join("arca")
    }

    fn status(&self, id: &str) -> String {
        let out = self.run_ok(&["state", id]);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        v["status"].as_str().unwrap().to_string()
    }

    /// No container state and no process of the user left.
    fn assert_clean(&self) {
        let left: Vec<_> = fs::read_dir(self.state_root())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        assert!(left.is_empty(), "state left under the root: {left:?}");
        common::wait_for("the user's processes to go", || self.processes().is_empty());
    }
}

/// A busybox bundle whose namespaces and mounts are those `arca-runtime spec --rootless` writes
/// (user namespace, no network namespace, /sys bound from the host, no cgroup mount, devpts
/// without gid=5), with no resources and the user namespace mapping `maps` (uid and gid alike).
fn rootless_bundle(args: &[&str], maps: Value) -> Bundle {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(runtime())
        .args(["spec", "--rootless", "--bundle"])
        .arg(dir.path())
        .output()
        .expect("run spec --rootless");
    assert!(out.status.success(), "spec --rootless: {out:?}");
    let spec: Value =
        serde_json::from_slice(&fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    let bundle = Bundle::busybox(args);
    bundle.edit(|c| {
        c["mounts"] = spec["mounts"].clone();
        let linux = &mut c["linux"];
        linux["namespaces"] = spec["linux"]["namespaces"].clone();
        linux["uidMappings"] = maps.clone();
        linux["gidMappings"] = maps;
        linux.as_object_mut().unwrap().remove("resources");
    });
    // The user must reach the rootfs (the bundle's own dirs are 0755 already).
    assert!(is_traversable(&bundle.rootfs()));
    bundle
}

fn is_traversable(p: &Path) -> bool {
    p.ancestors()
        .all(|a| fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

fn own_map(user: &TestUser) -> Value {
    json!([{"containerID": 0, "hostID": user.uid, "size": 1}])
}

fn skip_for_runc() -> bool {
    // runc needs its own rootless spec handling (and its root); these tests are arca's.
    common::is_runc()
}

#[test]
fn run_maps_the_user_to_root() {
    if skip_for_runc() {
        return;
    }
    let user = TestUser::new();
    let bundle = rootless_bundle(
        &[
            "sh",
            "-c",
            "id -u; id -g; cat /proc/self/uid_map; hostname; cat /proc/self/setgroups",
        ],
        own_map(&user),
    );
    let out = user.output(&["run", "--bundle", bundle.path_str(), "r1"]);
    out.assert_success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"0"), "uid inside: {out}");
    assert_eq!(lines.get(1), Some(&"0"), "gid inside: {out}");
    let map: Vec<&str> = lines.get(2).unwrap_or(&"").split_whitespace().collect();
    assert_eq!(map, ["0", &user.uid.to_string(), "1"], "uid_map: {out}");
    assert_eq!(lines.get(3), Some(&"runc"), "hostname: {out}");
    // The runtime mapped the gid itself: setgroups had to be denied.
    assert_eq!(lines.get(4), Some(&"deny"), "setgroups: {out}");
    // The default root for a user is $XDG_RUNTIME_DIR/arca, owned by the user.
    assert!(user.state_root().is_dir());
    user.assert_clean();
    bundle.assert_gone();
}

#[test]
fn lifecycle_and_exec() {
    if skip_for_runc() {
        return;
    }
    let user = TestUser::new();
    let bundle = rootless_bundle(&["sleep", "1000"], own_map(&user));
    let id = "life";
    user.run_ok(&["create", "--bundle", bundle.path_str(), id]);
    assert_eq!(user.status(id), "created");
    user.run_ok(&["start", id]);
    assert_eq!(user.status(id), "running");

    let out = user.run_ok(&["exec", id, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"0"), "exec uid: {out}");
    assert!(
        lines
            .get(1)
            .is_some_and(|l| l.split_whitespace().nth(1) == Some(&user.uid.to_string())),
        "exec uid_map: {out}"
    );
    // ps finds the container's processes without a cgroup (v1) or with one (delegated v2).
    let out = user.run_ok(&["ps", "--format", "json", id]);
    let pids: Vec<i32> = serde_json::from_str(&out.stdout).unwrap();
    assert!(!pids.is_empty(), "ps: {out}");

    // A detached exec'd process goes with kill --all.
    user.run_ok(&["exec", "-d", id, "sleep", "999"]);
    user.run_ok(&["kill", "--all", id, "KILL"]);
    common::wait_for("the container to stop", || user.status(id) == "stopped");
    user.run_ok(&["delete", id]);
    assert!(!user.output(&["state", id]).success());

    // kill of the init, then delete --force of a created one.
    user.run_ok(&["run", "-d", "--bundle", bundle.path_str(), "k2"]);
    user.run_ok(&["kill", "k2", "KILL"]);
    common::wait_for("k2 to stop", || user.status("k2") == "stopped");
    user.run_ok(&["delete", "k2"]);
    user.run_ok(&["create", "--bundle", bundle.path_str(), "k3"]);
    user.run_ok(&["delete", "--force", "k3"]);

    user.assert_clean();
    bundle.assert_gone();
}

#[test]
fn subuid_ranges_through_newuidmap() {
    if skip_for_runc() {
        return;
    }
    let user = TestUser::new();
    let maps = json!([
        {"containerID": 0, "hostID": user.uid, "size": 1},
        {"containerID": 1, "hostID": user.sub_start, "size": 65536}
    ]);
    let bundle = rootless_bundle(
        &[
            "sh",
            "-c",
            "stat -c %u:%g /tmp/owned; cat /proc/self/uid_map; cat /proc/self/setgroups; id -G",
        ],
        maps,
    );
    // A file owned by uid/gid 1000 in the container: sub_start + 999 on the host.
    let file = bundle.rootfs().join("tmp/owned");
    fs::write(&file, "x").unwrap();
    let host = user.sub_start + 999;
    chown(&file, Some(host), Some(host)).unwrap();
    bundle.edit(|c| c["process"]["user"]["additionalGids"] = json!([5, 1000]));

    let out = user.output(&["run", "--bundle", bundle.path_str(), "m1"]);
    out.assert_success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"1000:1000"), "owner inside: {out}");
    let maps: Vec<Vec<&str>> = lines[1..3]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        maps,
        [
            vec!["0", &user.uid.to_string(), "1"],
            vec!["1", &user.sub_start.to_string(), "65536"]
        ],
        "uid_map: {out}"
    );
    // newgidmap leaves setgroups allowed: the additional gids are set.
    assert_eq!(lines.get(3), Some(&"allow"), "setgroups: {out}");
    assert_eq!(lines.get(4), Some(&"0 5 1000"), "groups: {out}");

    // As uid 1000 through exec in a running container.
    bundle.edit(|c| c["process"]["args"] = json!(["sleep", "1000"]));
    user.run_ok(&["run", "-d", "--bundle", bundle.path_str(), "m2"]);
    let out = user.run_ok(&[
        "exec",
        "--user",
        "1000:1000",
        "m2",
        "sh",
        "-c",
        "id -u; cat /tmp/owned",
    ]);
    assert_eq!(out.stdout, "1000\nx", "{out}");
    user.run_ok(&["delete", "--force", "m2"]);

    user.assert_clean();
    bundle.assert_gone();
}

#[test]
fn clear_errors_unprivileged() {
    if skip_for_runc() {
        return;
    }
    let user = TestUser::new();
    // A range the user was not given in /etc/subuid: newuidmap refuses, the error names the
    // field, nothing is left.
    let maps = json!([
        {"containerID": 0, "hostID": user.uid, "size": 1},
        {"containerID": 1, "hostID": 10, "size": 100}
    ]);
    let bundle = rootless_bundle(&["true"], maps);
    let out = user.output(&["run", "--bundle", bundle.path_str(), "e1"]);
    let err = out.assert_failure();
    assert!(err.contains("linux.uidMappings"), "{out}");
    // additionalGids cannot be set when the runtime had to deny setgroups.
    let bundle = rootless_bundle(&["true"], own_map(&user));
    bundle.edit(|c| c["process"]["user"]["additionalGids"] = json!([5]));
    let out = user.output(&["run", "--bundle", bundle.path_str(), "e2"]);
    let err = out.assert_failure();
    assert!(err.contains("additionalGids"), "{out}");
    // A config with resources runs on v1 without a cgroup (a warning), or in a delegated one.
    let bundle = rootless_bundle(&["true"], own_map(&user));
    bundle.edit(|c| c["linux"]["resources"] = json!({"pids": {"limit": 100}}));
    let out = user.output(&["run", "--bundle", bundle.path_str(), "e3"]);
    out.assert_success();
    user.assert_clean();
    bundle.assert_gone();
}
