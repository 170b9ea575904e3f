//! A freshly created unprivileged user for rootless tests (shared with `arca`'s tests, which
//! include this file by path): made with useradd and a subordinate id range, removed on drop
//! with its processes and its /etc/subuid and /etc/subgid entries, even when the test fails.

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::Duration;

use tempfile::TempDir;

/// A unique unprivileged user with a subordinate id range, deleted (with its processes and
/// its /etc/subuid and /etc/subgid entries) on drop, even when the test fails.
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Start of its range in /etc/subuid and /etc/subgid (65536 ids).
    pub sub_start: u32,
    /// Its $XDG_RUNTIME_DIR: 0700, owned by the user.
    pub xdg: TempDir,
}

/// useradd, userdel and usermod lock /etc/passwd: retry while another test holds it.
fn admin(cmd: &str, args: &[&str]) {
    for _ in 0..100 {
        let out = Command::new(cmd)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running {cmd}: {e}"));
        if out.status.success() {
            return;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("lock") || err.contains("try again"),
            "{cmd} {args:?} failed: {err}"
        );
        sleep(Duration::from_millis(50));
    }
    panic!("{cmd} {args:?}: /etc/passwd stayed locked");
}

fn sub_range(file: &str, name: &str) -> Option<u32> {
    fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() == 3 && f[0] == name && f[2].parse::<u32>().ok()? >= 65536)
            .then(|| f[1].parse().ok())
            .flatten()
    })
}

impl TestUser {
    pub fn new() -> TestUser {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "arcarl{}x{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        admin(
            "useradd",
            &["-M", "-s", "/bin/sh", "-d", "/nonexistent", &name],
        );
        // From here on the guard removes the user whatever happens.
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, &name]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let xdg = tempfile::Builder::new()
            .prefix("arca-xdg-")
            .tempdir()
            .unwrap();
        let mut user = TestUser {
            uid: id("-u"),
            gid: id("-g"),
            name,
            sub_start: 0,
            xdg,
        };
        chown(user.xdg.path(), Some(user.uid), Some(user.gid)).unwrap();
        fs::set_permissions(user.xdg.path(), fs::Permissions::from_mode(0o700)).unwrap();
        // useradd allots subordinate ids on Debian (SUB_UID_COUNT); add them where it did not,
        // in a range derived from the uid so parallel tests do not share one.
        let uid_range = sub_range("/etc/subuid", &user.name);
        let gid_range = sub_range("/etc/subgid", &user.name);
        user.sub_start = match (uid_range, gid_range) {
            (Some(u), Some(g)) if u == g => u,
            _ => {
                let start = 1_000_000 + (user.uid % 20_000) * 65_536;
                let range = format!("{start}-{}", start + 65_535);
                admin(
                    "usermod",
                    &["--add-subuids", &range, "--add-subgids", &range, &user.name],
                );
                start
            }
        };
        user
    }

    /// `program` to be run as this user (real and effective ids, its groups), with its
    /// `$XDG_RUNTIME_DIR` and no home; `prefix` (e.g. `nsenter --net=...`) runs first, as root.
    pub fn command(&self, prefix: &[&str], program: &str) -> Command {
        let (first, rest) = prefix
            .split_first()
            .map_or(("setpriv", &[][..]), |(f, r)| (*f, r));
        let mut cmd = Command::new(first);
        cmd.args(rest);
        if !prefix.is_empty() {
            cmd.arg("setpriv");
        }
        cmd.arg("--reuid")
            .arg(self.uid.to_string())
            .arg("--regid")
            .arg(self.gid.to_string())
            .arg("--init-groups")
            .arg("--")
            .arg("env")
            .arg(format!("XDG_RUNTIME_DIR={}", self.xdg.path().display()))
            .arg("HOME=/nonexistent")
            .arg(program);
        cmd
    }

    /// Live processes owned by the user.
    pub fn processes(&self) -> Vec<i32> {
        use std::os::unix::fs::MetadataExt;
        fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
                let meta = fs::metadata(e.path()).ok()?;
                let stat = fs::read_to_string(e.path().join("stat")).ok()?;
                let zombie = stat.rsplit(')').next()?.trim_start().starts_with('Z');
                let status = fs::read_to_string(e.path().join("status")).ok()?;
                let real_uid = status
                    .lines()
                    .find_map(|l| l.strip_prefix("Uid:"))?
                    .split_whitespace()
                    .next()?
                    .parse::<u32>()
                    .ok()?;
                ((meta.uid() == self.uid || real_uid == self.uid) && !zombie).then_some(pid)
            })
            .collect()
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        for pid in self.processes() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !self.processes().is_empty() && std::time::Instant::now() < deadline {
            sleep(Duration::from_millis(20));
        }
        // userdel removes the user's /etc/subuid and /etc/subgid entries too.
        for _ in 0..100 {
            match Command::new("userdel").arg(&self.name).output() {
                Ok(o) if o.status.success() => break,
                _ => sleep(Duration::from_millis(50)),
            }
        }
        // Files the containers made belong to the user's (sub)ids: root removes them (the
        // TempDir's own removal follows).
        let _ = fs::remove_dir_all(self.xdg.path().join("arca"));
    }
}
