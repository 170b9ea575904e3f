//! What the `arca` CLI tests share: a scratch root per test, the binary run as a user would,
//! an image built by umoci, and arca-image's test registry.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The registry of arca-image's tests (Debian's docker-registry on a free loopback port),
/// shared rather than copied.
#[path = "../../../arca-image/tests/common/registry.rs"]
pub mod registry;

/// The busybox image and a root with it loaded, for container tests.
pub mod engine;

/// A network namespace of the test's own (`ip netns add`), removed when dropped: container
/// tests run arca in one, so the bridges, veths and firewall rules of its networks never touch
/// the host's.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Netns {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "arca-t{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let ok = |args: &[&str]| {
            let o = Command::new("ip")
                .args(args)
                .output()
                .expect("ip (iproute2)");
            assert!(
                o.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        };
        ok(&["netns", "add", &name]);
        let ns = Netns { name };
        ok(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// `program` to be run inside the namespace (network only: the mount namespace is the
    /// host's, so container mounts are where the test looks for them).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.name))
            .arg(program);
        c
    }

    /// The same as a shell prefix (for `script -c`).
    pub fn prefix(&self) -> String {
        format!("nsenter --net=/run/netns/{}", self.name)
    }

    /// `program args` in the namespace; its stdout (it must succeed).
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let o = self.command(program).args(args).output().unwrap();
        assert!(
            o.status.success(),
            "{program} {args:?} in netns {}: {}",
            self.name,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    /// Where arca runs, for container tests (see [`Netns`]); `None`: the host's namespace (the
    /// image tests reach a registry on the host's loopback).
    pub netns: Option<Netns>,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            netns: None,
        }
    }

    /// A root whose arca runs in a network namespace of its own.
    pub fn with_netns() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            netns: Some(Netns::new()),
        }
    }

    /// `arca --root ROOT` as the tests run it (in the test's namespace, with its own
    /// credentials and registries.conf), to be given arguments.
    pub fn arca_cmd(&self) -> Command {
        let exe = env!("CARGO_BIN_EXE_arca");
        let mut c = match &self.netns {
            Some(ns) => ns.command(exe),
            None => Command::new(exe),
        };
        c.arg("--root")
            .arg(self.path().join("root"))
            // Stored logins are the test's own: never the host's Podman or Docker files.
            .env("REGISTRY_AUTH_FILE", self.path().join("auth.json"))
            .env("DOCKER_CONFIG", self.path().join("docker"))
            // Nor the host's registries.conf (mirrors, blocked registries): an empty one.
            .env("ARCA_REGISTRIES_CONF", "/dev/null")
            .current_dir(self.path());
        c
    }

    /// `n` of `arca ARGS` at once; their stdouts, trimmed, once all succeeded.
    pub fn parallel(&self, n: usize, args: &[&str]) -> Vec<String> {
        let children: Vec<_> = (0..n)
            .map(|_| {
                self.arca_cmd()
                    .args(args)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        children
            .into_iter()
            .map(|c| {
                let o = c.wait_with_output().unwrap();
                assert!(
                    o.status.success(),
                    "arca {args:?}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                String::from_utf8(o.stdout).unwrap().trim().to_owned()
            })
            .collect()
    }

    /// `arca --root ROOT` as a shell command line (for `script -c`).
    pub fn arca_shell(&self) -> String {
        let exe = env!("CARGO_BIN_EXE_arca");
        let root = self.path().join("root");
        match &self.netns {
            Some(ns) => format!("{} {exe} --root {}", ns.prefix(), root.display()),
            None => format!("{exe} --root {}", root.display()),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn arca(&self, args: &[&str]) -> Output {
        self.arca_with(args, &[])
    }

    /// `arca ARGS` with extra environment variables.
    pub fn arca_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// `arca ARGS` not yet run (to spawn it, or give it input).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.arca_cmd();
        cmd.args(args);
        cmd
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.arca(args);
        assert!(
            out.status.success(),
            "arca {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.arca(args);
        assert!(!out.status.success(), "arca {args:?} succeeded");
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn blobs(&self) -> Vec<String> {
        let dir = self.path().join("root/images/blobs/sha256");
        let mut v: Vec<String> = fs::read_dir(dir)
            .map(|rd| {
                rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// `arca image inspect NAME`'s one object.
    pub fn inspect(&self, name: &str) -> Value {
        serde_json::from_str::<Value>(&self.ok(&["image", "inspect", name])).unwrap()[0].clone()
    }

    pub fn images_json(&self) -> Vec<Value> {
        serde_json::from_str::<Value>(&self.ok(&["images", "--format", "json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

pub fn run(dir: &Path, program: &str, args: &[&str]) {
    output(dir, program, args);
}

/// Runs `program` with `args` in `dir`, which must succeed; its standard output.
pub fn output(dir: &Path, program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed (apt-get install {program}): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The sha256 of `data` in hex, by coreutils (not by the code under test).
pub fn sha256_hex(data: &[u8]) -> String {
    use std::io::Write;
    use std::process::Stdio;
    let out = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// An OCI layout `dir/name` with image `v1` (two layers: /etc/app/conf, then /hello).
pub fn umoci_image(dir: &Path, name: &str) -> PathBuf {
    let b = format!("{name}-bundle");
    run(dir, "umoci", &["init", "--layout", name]);
    run(dir, "umoci", &["new", "--image", &format!("{name}:v1")]);
    run(
        dir,
        "umoci",
        &["unpack", "--image", &format!("{name}:v1"), &b],
    );
    let rootfs = dir.join(&b).join("rootfs");
    fs::create_dir_all(rootfs.join("etc/app")).unwrap();
    fs::write(rootfs.join("etc/app/conf"), "x=1\n").unwrap();
    run(
        dir,
        "umoci",
        &[
            "repack",
            "--refresh-bundle",
            "--image",
            &format!("{name}:v1"),
            &b,
        ],
    );
    fs::write(rootfs.join("hello"), "hi\n").unwrap();
    run(
        dir,
        "umoci",
        &["repack", "--image", &format!("{name}:v1"), &b],
    );
    dir.join(name)
}
