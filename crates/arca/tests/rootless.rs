//! The engine run by an ordinary user, Podman-style: a freshly created user (with an
//! /etc/subuid and /etc/subgid range) runs `arca` with its own store ($XDG_DATA_HOME/arca) and
//! run directory ($XDG_RUNTIME_DIR/arca-engine), inside a network namespace of the test's own
//! (pasta copies its address and route, so the host's interfaces are never touched). The user,
//! its processes and its files are removed on drop, even when a test fails.

mod common;
#[path = "../../arca-runtime/tests/common/user.rs"]
mod user;

use std::fs;
use std::os::unix::fs::{chown, MetadataExt};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::engine::{image_tar, IMAGE};
use common::Netns;
use user::TestUser;

/// A rootless user with the busybox image loaded, whose arca runs in `ns`.
struct Rootless {
    // Dropped first: the user's processes (pasta among them) go before the namespace.
    user: TestUser,
    ns: Netns,
}

impl Rootless {
    fn new() -> Rootless {
        let user = TestUser::new();
        let ns = Netns::new();
        // What pasta copies into containers: an address and a default route.
        for args in [
            &[
                "link", "add", "ext0", "type", "veth", "peer", "name", "ext1",
            ][..],
            &["addr", "add", "192.0.2.1/24", "dev", "ext0"],
            &["link", "set", "ext0", "up"],
            &["link", "set", "ext1", "up"],
            &["route", "add", "default", "via", "192.0.2.254"],
        ] {
            ns.run("ip", args);
        }
        let r = Rootless { user, ns };
        fs::create_dir(r.data()).unwrap();
        chown(r.data(), Some(r.user.uid), Some(r.user.gid)).unwrap();
        let tar = r.user.xdg.path().join("busybox.tar");
        fs::copy(image_tar(), &tar).unwrap();
        chown(&tar, Some(r.user.uid), Some(r.user.gid)).unwrap();
        r.ok(&["load", "-q", "-i", tar.to_str().unwrap()]);
        r
    }

    /// The user's $XDG_DATA_HOME (the store is `arca` in it).
    fn data(&self) -> PathBuf {
        self.user.xdg.path().join("data")
    }

    fn run_dir(&self) -> PathBuf {
        self.user.xdg.path().join("arca-engine")
    }

    /// `arca ARGS` as the user, in the test's network namespace, with no `--root`.
    fn arca(&self, args: &[&str]) -> Output {
        let net = format!("--net=/run/netns/{}", self.ns.name);
        self.user
            .command(&["nsenter", &net], env!("CARGO_BIN_EXE_arca"))
            .args(args)
            .env("XDG_DATA_HOME", self.data())
            .env("ARCA_REGISTRIES_CONF", "/dev/null")
            .current_dir(self.user.xdg.path())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.arca(args);
        assert!(
            out.status.success(),
            "arca {args:?} as {}: {}\n{}",
            self.user.name,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.arca(args);
        assert!(!out.status.success(), "arca {args:?} succeeded");
        String::from_utf8(out.stderr).unwrap()
    }

    /// The pause process holding the user's namespaces.
    fn pause_pid(&self) -> i32 {
        fs::read_to_string(self.run_dir().join("pause.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Mounts of the user's mount namespace under its store or run directory.
    fn mounts(&self, pause: i32) -> Vec<String> {
        let prefix = self.user.xdg.path().to_string_lossy().into_owned();
        fs::read_to_string(format!("/proc/{pause}/mountinfo"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&prefix))
            .map(str::to_owned)
            .collect()
    }

    fn curl(&self, url: &str) -> Option<String> {
        let o = self
            .ns
            .command("curl")
            .args(["-s", "--max-time", "2", url])
            .output()
            .unwrap();
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// `system migrate` stops everything: no container, mount, pasta or pause process of
    /// the user is left.
    fn migrate_and_check_clean(&self) {
        let pause = self.pause_pid();
        self.ok(&["system", "migrate"]);
        assert!(!self.run_dir().join("pause.pid").exists());
        eventually("the user's processes to end", || {
            self.user.processes().is_empty()
        });
        assert!(!alive(pause));
    }
}

fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `pid` runs (a zombie waiting for its reaper does not).
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// The rows of an id map, fields split.
fn map_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[test]
fn the_user_is_root_in_its_namespace_with_its_subordinate_ids() {
    let r = Rootless::new();
    let (uid, gid, sub) = (r.user.uid, r.user.gid, r.user.sub_start);
    let id = r.ok(&["run", "--rm", IMAGE, "id"]);
    assert!(id.starts_with("uid=0(root) gid=0(root)"), "{id}");
    let expect = |own: u32| {
        vec![
            vec!["0".to_owned(), own.to_string(), "1".to_owned()],
            vec!["1".to_owned(), sub.to_string(), "65536".to_owned()],
        ]
    };
    let uid_map = r.ok(&["run", "--rm", IMAGE, "cat", "/proc/self/uid_map"]);
    assert_eq!(map_rows(&uid_map), expect(uid), "{uid_map}");
    let gid_map = r.ok(&["run", "--rm", IMAGE, "cat", "/proc/self/gid_map"]);
    assert_eq!(map_rows(&gid_map), expect(gid), "{gid_map}");
    // --init binds arca's own binary in: found on the namespace's copy of its mount.
    let init = r.ok(&["run", "--rm", "--init", IMAGE, "cat", "/proc/1/cmdline"]);
    assert!(init.starts_with("/run/arca-init\0"), "{init:?}");
    // The pause process holds that namespace; the store is the user's, in $XDG_DATA_HOME.
    let pause = r.pause_pid();
    let held = fs::read_to_string(format!("/proc/{pause}/uid_map")).unwrap();
    assert_eq!(map_rows(&held), expect(uid));
    let store = r.data().join("arca/images");
    assert_eq!(fs::metadata(&store).unwrap().uid(), uid);
    // What a rootless user cannot have is refused, naming why.
    let err = r.fails(&["run", "--rm", "--network", "bridge", IMAGE, "true"]);
    assert!(err.contains("CNI networks need root"), "{err}");
    let err = r.fails(&["network", "create", "n1"]);
    assert!(err.contains("CNI networks need root"), "{err}");
    let err = r.fails(&["run", "--rm", "--memory", "64m", IMAGE, "true"]);
    assert!(
        err.contains("--memory") && err.contains("need a cgroup"),
        "{err}"
    );
    assert_eq!(r.ok(&["ps", "-aq"]), "");
    // migrate stops a running container too.
    r.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        IMAGE,
        "sh",
        "-c",
        "trap 'exit 0' TERM; sleep 1000 & wait",
    ]);
    r.migrate_and_check_clean();
    // Concurrent first invocations agree on one pause process (and one namespace).
    let children: Vec<_> = (0..4)
        .map(|_| {
            let net = format!("--net=/run/netns/{}", r.ns.name);
            r.user
                .command(&["nsenter", &net], env!("CARGO_BIN_EXE_arca"))
                .args(["run", "--rm", IMAGE, "readlink", "/proc/self/ns/user"])
                .env("XDG_DATA_HOME", r.data())
                .current_dir(r.user.xdg.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let namespaces: std::collections::BTreeSet<String> = children
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout).unwrap()
        })
        .collect();
    assert_eq!(namespaces.len(), 1, "{namespaces:?}");
    let pause = r.pause_pid();
    assert_eq!(
        namespaces.first().unwrap().trim(),
        fs::read_link(format!("/proc/{pause}/ns/user"))
            .unwrap()
            .to_str()
            .unwrap()
    );
    r.migrate_and_check_clean();
}

#[test]
fn image_files_keep_their_owners() {
    let r = Rootless::new();
    // A one-layer image with a file owned by 1234:2345 (tar keeps the numeric owner).
    let src = r.user.xdg.path().join("src");
    fs::create_dir_all(src.join("bin")).unwrap();
    fs::create_dir_all(src.join("data")).unwrap();
    fs::copy("/bin/busybox", src.join("bin/busybox")).unwrap();
    fs::write(src.join("data/f"), "owned\n").unwrap();
    chown(src.join("data/f"), Some(1234), Some(2345)).unwrap();
    let tar = r.user.xdg.path().join("owned.tar");
    let out = Command::new("tar")
        .arg("-C")
        .arg(&src)
        .args(["--numeric-owner", "-cf"])
        .arg(&tar)
        .arg(".")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    chown(&tar, Some(r.user.uid), Some(r.user.gid)).unwrap();
    r.ok(&["import", tar.to_str().unwrap(), "owned:1"]);
    let inside = r.ok(&[
        "run",
        "--rm",
        "owned:1",
        "/bin/busybox",
        "stat",
        "-c",
        "%u:%g",
        "/data/f",
        "/bin/busybox",
    ]);
    assert_eq!(inside, "1234:2345\n0:0\n");
    // On the host, the owners are the user's subordinate ids (and the user for root's).
    let stored: Vec<_> = walk(&r.data().join("arca/images/snapshots"))
        .into_iter()
        .filter(|p| p.ends_with("data/f"))
        .collect();
    assert!(!stored.is_empty());
    for p in stored {
        let m = fs::symlink_metadata(&p).unwrap();
        assert_eq!(
            (m.uid(), m.gid()),
            (r.user.sub_start + 1233, r.user.sub_start + 2344),
            "{}",
            p.display()
        );
    }
    r.migrate_and_check_clean();
}

#[test]
fn layers_with_whiteouts_stack_in_the_users_namespace() {
    let r = Rootless::new();
    // Layer 1: busybox, /d/old, /gone; layer 2 empties /d (opaque) and deletes /gone.
    let work = r.user.xdg.path().join("layers");
    let l1 = work.join("l1");
    let l2 = work.join("l2");
    for d in [l1.join("bin"), l1.join("d"), l2.join("d")] {
        fs::create_dir_all(d).unwrap();
    }
    fs::copy("/bin/busybox", l1.join("bin/busybox")).unwrap();
    fs::write(l1.join("d/old"), "old\n").unwrap();
    fs::write(l1.join("gone"), "gone\n").unwrap();
    fs::write(l2.join("d/.wh..wh..opq"), "").unwrap();
    fs::write(l2.join("d/new"), "new\n").unwrap();
    fs::write(l2.join(".wh.gone"), "").unwrap();
    let layout = work.join("layout");
    oci_layout(&layout, &[&l1, &l2]);
    for p in walk(&work).into_iter().chain([work.clone()]) {
        std::os::unix::fs::lchown(&p, Some(r.user.uid), Some(r.user.gid)).unwrap();
    }
    r.ok(&["pull", &format!("oci:{}:v1", layout.display())]);
    let out = r.ok(&[
        "run",
        "--rm",
        "localhost/layout:v1",
        "/bin/busybox",
        "sh",
        "-c",
        "/bin/busybox ls /d; /bin/busybox test -e /gone || echo no-gone",
    ]);
    assert_eq!(out, "new\nno-gone\n");
    r.migrate_and_check_clean();
}

/// An OCI layout at `dir` with image `v1` made of `layers` (directories, tarred uncompressed).
fn oci_layout(dir: &std::path::Path, layers: &[&std::path::Path]) {
    use serde_json::json;
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let hex = common::sha256_hex(data);
        fs::write(blobs.join(&hex), data).unwrap();
        (format!("sha256:{hex}"), data.len())
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        let tar = common::output(l, "tar", &["--numeric-owner", "-cf", "-", "."]);
        let (digest, size) = put(&tar);
        diff_ids.push(digest.clone());
        descs.push(json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": digest, "size": size
        }));
    }
    let config = json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    });
    let (cdigest, csize) = put(&serde_json::to_vec(&config).unwrap());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cdigest, "size": csize},
        "layers": descs
    });
    let (mdigest, msize) = put(&serde_json::to_vec(&manifest).unwrap());
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": mdigest, "size": msize,
            "annotations": {"org.opencontainers.image.ref.name": "v1"}
        }]
    });
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// Every path under `dir` (symlinks not followed).
fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn detached_containers_are_shared_by_invocations_and_pasta_publishes_ports() {
    let r = Rootless::new();
    let id = r
        .ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            "18099:80",
            IMAGE,
            "sh",
            "-c",
            "echo started; mkdir -p /w && echo via-pasta > /w/index.html && \
             exec httpd -f -p 80 -h /w",
        ])
        .trim()
        .to_owned();
    // pasta is the default network; its port answers in the test's namespace.
    eventually("httpd to answer", || {
        r.curl("http://127.0.0.1:18099/").as_deref() == Some("via-pasta\n")
    });
    assert_eq!(
        r.curl("http://192.0.2.1:18099/").as_deref(),
        Some("via-pasta\n")
    );
    let inspect: serde_json::Value = serde_json::from_str(&r.ok(&["inspect", "web"])).unwrap();
    assert_eq!(inspect[0]["HostConfig"]["NetworkMode"], "pasta");
    // Each of these is a separate arca process: they find the container, its mounts and its
    // processes because they join the same namespaces.
    let ps = r.ok(&["ps"]);
    assert!(
        ps.contains("web") && ps.contains("Up") && ps.contains("0.0.0.0:18099->80/tcp"),
        "{ps}"
    );
    assert_eq!(r.ok(&["logs", "web"]), "started\n");
    let err = r.fails(&["network", "connect", "arca", "web"]);
    assert!(err.contains("CNI networks need root"), "{err}");
    assert_eq!(r.ok(&["exec", "web", "id", "-u"]), "0\n");
    let map = r.ok(&["exec", "web", "cat", "/proc/self/uid_map"]);
    assert_eq!(map_rows(&map)[0][1], r.user.uid.to_string());
    let pasta: i32 =
        fs::read_to_string(r.data().join(format!("arca/containers/{id}/net/pasta.pid")))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    // A killed pause process: the next invocation rejoins the namespaces through the
    // container's monitor (the rootfs is still there for exec) and starts a replacement.
    let killed = r.pause_pid();
    Command::new("kill")
        .args(["-9", &killed.to_string()])
        .status()
        .unwrap();
    eventually("the pause process to die", || !alive(killed));
    assert_eq!(
        r.ok(&["exec", "web", "cat", "/w/index.html"]),
        "via-pasta\n"
    );
    let pause = r.pause_pid();
    assert_ne!(pause, killed);
    assert_eq!(
        fs::read_link(format!("/proc/{pause}/ns/user")).unwrap(),
        fs::read_link(format!("/proc/{pasta}/ns/user")).unwrap()
    );
    assert!(!r.mounts(pause).is_empty(), "the rootfs is mounted");
    r.ok(&["stop", "-t", "1", "web"]);
    assert!(r.ok(&["ps", "-a"]).contains("Exited"));
    eventually("pasta to stop", || !alive(pasta));
    assert!(r.curl("http://127.0.0.1:18099/").is_none());
    r.ok(&["rm", "web"]);
    assert_eq!(r.ok(&["ps", "-aq"]), "");
    assert_eq!(r.mounts(pause), Vec::<String>::new());
    assert_eq!(
        fs::read_dir(r.run_dir().join("netns")).unwrap().count(),
        0,
        "network namespace files left"
    );
    r.migrate_and_check_clean();
}
