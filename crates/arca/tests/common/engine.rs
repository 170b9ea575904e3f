//! Real containers from the busybox image (built from Debian's busybox-static by
//! scripts/busybox-image.sh, loaded with `arca load`), run as root: a scratch root per test
//! whose containers and mounts are removed when it ends, even on failure. arca runs in a
//! network namespace of the test's own (see `Netns`), so its networks never touch the host's.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Env;

pub const IMAGE: &str = "arca-busybox";

/// The busybox image archive, built once into cargo's scratch directory for tests and kept
/// there (the script is reproducible: every build is the same image), so nothing is left in
/// /tmp. Built beside and renamed into place, so concurrent test binaries agree.
pub fn image_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = tmp.join("busybox-image");
        if !dir.join("image.tar").is_file() {
            let building = tmp.join(format!("busybox-image.{}", std::process::id()));
            let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let out = std::process::Command::new("bash")
                .arg(repo.join("scripts/busybox-image.sh"))
                .arg(&building)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            if std::fs::rename(&building, &dir).is_err() {
                let _ = std::fs::remove_dir_all(&building);
            }
        }
        dir.join("image.tar")
    })
}

/// A scratch root with the busybox image loaded; cleans up every container on drop.
pub struct Engine {
    pub env: Env,
}

impl Engine {
    pub fn new() -> Engine {
        let env = Env::with_netns();
        env.ok(&["load", "-q", "-i", image_tar().to_str().unwrap()]);
        Engine { env }
    }

    pub fn ok(&self, args: &[&str]) -> String {
        self.env.ok(args)
    }

    pub fn arca(&self, args: &[&str]) -> Output {
        self.env.arca(args)
    }

    pub fn root(&self) -> PathBuf {
        self.env.path().join("root")
    }

    pub fn inspect(&self, what: &str) -> Value {
        let v: Value = serde_json::from_str(&self.ok(&["inspect", what])).unwrap();
        v[0].clone()
    }

    /// The busybox image again as `name`, with Dockerfile instructions applied (`import
    /// --change`): a created container's filesystem exported and imported back. The container
    /// is removed again.
    pub fn image_with_changes(&self, name: &str, changes: &[&str]) {
        let src = format!("src-{}", name.replace([':', '/'], "-"));
        self.ok(&["create", "--name", &src, IMAGE, "true"]);
        let tar = self.env.path().join(format!("{src}.tar"));
        let tar = tar.to_str().unwrap();
        self.ok(&["export", "-o", tar, &src]);
        let mut args = vec!["import"];
        for c in changes {
            args.extend(["--change", c]);
        }
        args.extend([tar, name]);
        self.ok(&args);
        self.ok(&["rm", &src]);
    }

    /// Polls `f` for up to 10 s.
    pub fn eventually(&self, what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Mounts under this root (there must be none once containers are gone).
    pub fn mounts(&self) -> Vec<String> {
        let root = self.root().to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&root))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let ids =
            String::from_utf8_lossy(&self.arca(&["ps", "-aq", "--no-trunc"]).stdout).into_owned();
        for id in ids.split_whitespace() {
            let _ = self.arca(&["rm", "-f", id]);
        }
        for m in self.mounts().into_iter().rev() {
            let _ = rustix::mount::unmount(m.as_str(), rustix::mount::UnmountFlags::DETACH);
        }
    }
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `cmd` run by util-linux `script` on a fresh pseudo-terminal, each of `typed` typed into it
/// half a second apart; what the terminal showed and the exit status (`script -e` passes the
/// command's through). Killed if it outlasts the test's patience.
pub fn through_pty(e: &Engine, cmd: &str, typed: &[&str]) -> (String, i32) {
    let mut child = std::process::Command::new("script")
        .args(["-qec", cmd, "/dev/null"])
        .current_dir(e.env.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for input in typed {
            // Typed once the other side is up: a terminal has no "before" for what is typed.
            std::thread::sleep(Duration::from_millis(500));
            // An early exit shows in the output checked by the caller.
            let _ = std::io::Write::write_all(&mut stdin, input.as_bytes());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output().unwrap()));
    let o = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| {
            // Its pty goes with it, and the hangup ends what runs on it.
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid])
                .status();
            panic!("{cmd} did not exit");
        });
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (shown, code(&o))
}
