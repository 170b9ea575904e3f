//! Helpers shared by the CVE regression tests (on top of `common`).

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::common::*;

pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the marker file of a [`HostDir`] holds.
pub const HOST_SECRET: &str = "host secret\n";

/// A host directory the container must never reach: it holds one file with
/// a unique name (the marker) and [`HOST_SECRET`] in it.
pub struct HostDir {
    dir: TempDir,
    pub marker: String,
}

impl HostDir {
    pub fn new() -> HostDir {
        let dir = tempfile::Builder::new()
            .prefix("arca-hostdir-")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let marker = unique_id("ARCA-HOST-MARKER");
        fs::write(dir.path().join(&marker), HOST_SECRET).unwrap();
        HostDir { dir, marker }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn path_str(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 temp path")
    }

    /// The marker file's host path.
    pub fn marker_path(&self) -> PathBuf {
        self.path().join(&self.marker)
    }

    /// The host path without its leading `/` (to recreate it in a rootfs).
    pub fn rel(&self) -> &str {
        self.path_str().trim_start_matches('/')
    }

    /// Names in the directory.
    pub fn entries(&self) -> BTreeSet<String> {
        fs::read_dir(self.path())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the directory holds nothing but its untouched marker file and
    /// that nothing is mounted in or on it (in the host's mount namespace).
    pub fn assert_untouched(&self, what: &str) {
        let entries = self.entries();
        let expected: BTreeSet<String> = [self.marker.clone()].into_iter().collect();
        assert_eq!(
            entries,
            expected,
            "{what}: the host directory {} was written to",
            self.path().display()
        );
        let meta = fs::symlink_metadata(self.marker_path()).unwrap();
        assert!(
            meta.file_type().is_file(),
            "{what}: the host file {} was replaced",
            self.marker_path().display()
        );
        assert_eq!(
            fs::read_to_string(self.marker_path()).unwrap(),
            HOST_SECRET,
            "{what}: the host file {} was modified",
            self.marker_path().display()
        );
        let mounts = host_mounts_under(self.path());
        assert!(
            mounts.is_empty(),
            "{what}: mounts appeared on the host under {}: {mounts:?}",
            self.path().display()
        );
    }
}

/// Mount points in the host's (our) mountinfo at or below `path`.
pub fn host_mounts_under(path: &Path) -> Vec<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| Path::new(mp).starts_with(path))
        .map(String::from)
        .collect()
}

/// A host directory bind-mounted read-write at `/results` in a container:
/// how a container reports back when its root is read-only and it runs
/// detached.
pub struct Results {
    dir: TempDir,
}

impl Results {
    pub fn new() -> Results {
        let dir = tempfile::Builder::new()
            .prefix("arca-results-")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        Results { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The spec mount for config.json.
    pub fn mount(&self) -> Value {
        json!({
            "destination": "/results",
            "type": "bind",
            "source": self.path(),
            "options": ["rbind", "rw"]
        })
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path().join(name).exists()
    }

    /// A result file's content ("" if absent).
    pub fn read(&self, name: &str) -> String {
        fs::read(self.path().join(name))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Waits for the container to create `name`.
    pub fn wait(&self, name: &str) {
        wait_for(&format!("the container to write /results/{name}"), || {
            self.exists(name)
        });
    }
}

/// `runtime --root ROOT args...` under `wrapper` (e.g. `setpriv --groups 1,2 --`).
pub fn run_wrapped(rt: &Runtime, wrapper: &[&str], args: &[&str]) -> Out {
    let mut cmd = Command::new(wrapper[0]);
    cmd.args(&wrapper[1..])
        .arg(runtime())
        .arg("--root")
        .arg(rt.root())
        .args(args);
    Proc::spawn(cmd).wait()
}

/// (mount point, per-mount options, fstype) of each mountinfo line.
pub fn mounts(mountinfo: &str) -> Vec<(String, Vec<String>, String)> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mut pre = pre.split(' ');
            let mp = pre.nth(4)?.to_string();
            let opts = pre.next()?.split(',').map(String::from).collect();
            let fstype = post.split(' ').next()?.to_string();
            Some((mp, opts, fstype))
        })
        .collect()
}

/// Mount points of a mountinfo text.
pub fn mount_points(mountinfo: &str) -> Vec<String> {
    mounts(mountinfo).into_iter().map(|(mp, _, _)| mp).collect()
}

/// Removes the spec's mount at `dest`.
pub fn remove_mount(config: &mut Value, dest: &str) {
    config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != dest);
}

/// Replaces the spec's mount at `dest` by `mount`, in place (keeping the order).
pub fn replace_mount(config: &mut Value, dest: &str, mount: Value) {
    let mounts = config["mounts"].as_array_mut().unwrap();
    let i = mounts
        .iter()
        .position(|m| m["destination"] == dest)
        .unwrap_or_else(|| panic!("no mount at {dest}"));
    mounts[i] = mount;
}

/// Runs a fresh container from `bundle` in the foreground to the end (any
/// exit code), with a fresh `--root`; checks nothing is left behind.
pub fn run_once(bundle: &Bundle) -> Out {
    let rt = Runtime::new();
    let id = unique_id("sec");
    let out = rt.run_fg(bundle, &id);
    drop(rt);
    bundle.assert_gone();
    out
}

/// `mknod PATH c MAJOR MINOR` with mode 0666.
pub fn mknod_char(path: &Path, major: u64, minor: u64) {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    mknod(
        path,
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        makedev(major, minor),
    )
    .unwrap_or_else(|e| panic!("mknod {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o666)).unwrap();
}
