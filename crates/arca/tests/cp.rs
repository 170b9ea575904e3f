//! `arca cp` with real containers from the busybox image: files and trees in and out,
//! modes, owners and times kept, tar streams, Docker's path rules, and CVE-2018-15664 (a
//! container swapping a path component for a symlink to `/` while copies run).

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::engine::{code, Engine, IMAGE};

/// A unique name for host files that exist only on the host.
fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("arca-cp-{what}-{}-{nanos}", std::process::id())
}

/// Removes a host path on drop.
struct HostFile(PathBuf);

impl Drop for HostFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

fn set_mtime(p: &Path, secs: i64) {
    let t = rustix::fs::Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        p,
        &rustix::fs::Timestamps {
            last_access: t,
            last_modification: t,
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// A small tree: `dir/a` (0640, 1234:5678), `dir/sub/b` (0755), `dir/ln -> sub/b`.
fn make_tree(at: &Path) {
    let dir = at.join("dir");
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(dir.join("a"), "alpha\n").unwrap();
    fs::set_permissions(dir.join("a"), fs::Permissions::from_mode(0o640)).unwrap();
    chown(&dir.join("a"), 1234, 5678);
    fs::write(dir.join("sub/b"), "beta\n").unwrap();
    fs::set_permissions(dir.join("sub/b"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("sub/b", dir.join("ln")).unwrap();
    set_mtime(&dir.join("a"), 1_000_000_000);
    set_mtime(&dir.join("sub/b"), 1_100_000_000);
    set_mtime(&dir.join("ln"), 1_200_000_000);
    set_mtime(&dir.join("sub"), 1_300_000_000);
    set_mtime(&dir, 1_400_000_000);
}

/// Checks `dir` is [`make_tree`]'s tree, metadata included.
fn check_tree(dir: &Path) {
    let a = fs::symlink_metadata(dir.join("a")).unwrap();
    assert_eq!(fs::read_to_string(dir.join("a")).unwrap(), "alpha\n");
    assert_eq!(a.mode() & 0o7777, 0o640);
    assert_eq!((a.uid(), a.gid()), (1234, 5678));
    assert_eq!(a.mtime(), 1_000_000_000);
    let b = fs::symlink_metadata(dir.join("sub/b")).unwrap();
    assert_eq!(fs::read_to_string(dir.join("sub/b")).unwrap(), "beta\n");
    assert_eq!(b.mode() & 0o7777, 0o755);
    assert_eq!(b.mtime(), 1_100_000_000);
    assert_eq!(fs::read_link(dir.join("ln")).unwrap(), Path::new("sub/b"));
    assert_eq!(
        fs::symlink_metadata(dir.join("ln")).unwrap().mtime(),
        1_200_000_000
    );
    assert_eq!(
        fs::metadata(dir.join("sub")).unwrap().mtime(),
        1_300_000_000
    );
    assert_eq!(fs::metadata(dir).unwrap().mtime(), 1_400_000_000);
}

#[test]
fn a_file_and_a_tree_into_a_running_container_and_back_out_once_stopped() {
    let e = Engine::new();
    let host = e.env.path();
    make_tree(host);
    fs::write(host.join("file"), "hello\n").unwrap();
    fs::write(host.join("done"), "").unwrap();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "box",
        IMAGE,
        "sh",
        "-c",
        "mkdir -p /in; echo ready; while [ ! -f /in/done ]; do sleep 0.1; done; \
         cat /in/file; ls -ln /in/dir | grep -v total; stat -c '%a %u %g %Y' /in/dir/a",
    ]);
    e.eventually("ready", || e.ok(&["logs", "box"]).contains("ready"));
    e.ok(&["cp", "file", "box:/in/file"]);
    // DEST exists as a directory: the tree lands as /in/dir.
    e.ok(&["cp", "-a", "dir", "box:/in"]);
    e.ok(&["cp", "done", "box:/in/"]);
    assert_eq!(e.ok(&["wait", "box"]).trim(), "0");
    let logs = e.ok(&["logs", "box"]);
    assert!(logs.contains("ready\nhello\n"), "{logs}");
    assert!(logs.contains("1234"), "{logs}");
    assert!(logs.contains("ln -> sub/b"), "{logs}");
    assert!(logs.contains("640 1234 5678 1000000000"), "{logs}");
    // Out of the stopped container (its rootfs is mounted for the copy, then not).
    assert!(e.mounts().is_empty(), "{:?}", e.mounts());
    e.ok(&["cp", "box:/in/dir", "out"]);
    check_tree(&host.join("out"));
    assert!(e.mounts().is_empty(), "{:?}", e.mounts());
    // A file into an existing directory, and onto a new name.
    fs::create_dir(host.join("into")).unwrap();
    e.ok(&["cp", "box:/in/file", "into"]);
    assert_eq!(
        fs::read_to_string(host.join("into/file")).unwrap(),
        "hello\n"
    );
    e.ok(&["cp", "box:/in/file", "renamed"]);
    assert_eq!(fs::read_to_string(host.join("renamed")).unwrap(), "hello\n");
    // Without -a, what goes in is root's.
    e.ok(&["cp", "dir", "box:/plain"]);
    e.ok(&["cp", "box:/plain/a", "plain-a"]);
    let m = fs::metadata(host.join("plain-a")).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (0, 0, 0o640));
}

#[test]
fn dockers_path_rules() {
    let e = Engine::new();
    let host = e.env.path();
    make_tree(host);
    // A created container: never started, mounted only for each copy.
    e.ok(&["create", "--name", "c", IMAGE, "true"]);
    // SRC/. into an existing directory: the contents.
    e.ok(&["cp", "-a", "dir/.", "c:/tmp"]);
    e.ok(&["cp", "c:/tmp/a", "a-from-contents"]);
    assert_eq!(
        fs::read_to_string(host.join("a-from-contents")).unwrap(),
        "alpha\n"
    );
    // A directory to a new name: made, with the contents.
    e.ok(&["cp", "-a", "dir", "c:/newdir"]);
    e.ok(&["cp", "c:/newdir", "back"]);
    check_tree(&host.join("back"));
    // A file to a missing directory (trailing /): refused.
    assert!(!e.arca(&["cp", "dir/a", "c:/missing/"]).status.success());
    // A file with a trailing / : not a directory.
    assert!(!e.arca(&["cp", "c:/etc/passwd/", "x"]).status.success());
    // A directory onto a file: refused.
    assert!(!e.arca(&["cp", "dir", "c:/etc/passwd"]).status.success());
    // A missing source.
    assert!(!e.arca(&["cp", "c:/no/such", "x"]).status.success());
    // -L follows the source symlink itself.
    e.ok(&["cp", "-L", "dir/ln", "c:/followed"]);
    e.ok(&["cp", "c:/followed", "followed"]);
    assert!(fs::symlink_metadata(host.join("followed"))
        .unwrap()
        .is_file());
    e.ok(&["cp", "dir/ln", "c:/kept"]);
    e.ok(&["cp", "c:/kept", "kept"]);
    assert!(fs::symlink_metadata(host.join("kept"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(e.mounts().is_empty(), "{:?}", e.mounts());
}

#[test]
fn tar_streams_on_stdin_and_stdout() {
    let e = Engine::new();
    let host = e.env.path();
    make_tree(host);
    e.ok(&["create", "--name", "t", IMAGE, "true"]);
    let tar = Command::new("tar")
        .args(["-C", host.to_str().unwrap(), "-cf", "-", "dir"])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let mut child = e
        .env
        .arca_cmd()
        .args(["cp", "-a", "-", "t:/tmp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    e.ok(&["cp", "t:/tmp/dir", "back"]);
    check_tree(&host.join("back"));
    // Out as a tar stream, named from the source's last component.
    let o = e.arca(&["cp", "t:/tmp/dir", "-"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    fs::create_dir(host.join("untar")).unwrap();
    fs::write(host.join("out.tar"), &o.stdout).unwrap();
    let x = Command::new("tar")
        .args(["-C", "untar", "-xpf", "out.tar"])
        .current_dir(host)
        .output()
        .unwrap();
    assert!(x.status.success(), "{}", String::from_utf8_lossy(&x.stderr));
    check_tree(&host.join("untar/dir"));
}

#[test]
fn a_path_swapped_for_a_symlink_to_root_never_reaches_the_host() {
    let e = Engine::new();
    let host = e.env.path();
    let marker = unique("marker");
    let _marker = HostFile(Path::new("/").join(&marker));
    let secret = unique("secret");
    let secret_path = Path::new("/").join(&secret);
    let _secret = HostFile(secret_path.clone());
    fs::write(&secret_path, "HOST-SECRET\n").unwrap();
    fs::write(host.join("payload"), "payload\n").unwrap();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "swapper",
        "-e",
        &format!("SECRET={secret}"),
        IMAGE,
        "sh",
        "-c",
        "echo inside > /$SECRET; mkdir -p /swap/link; echo ready; \
         while true; do rm -rf /swap/link; ln -s / /swap/link; \
         rm -f /swap/link; mkdir /swap/link; done",
    ]);
    e.eventually("ready", || e.ok(&["logs", "swapper"]).contains("ready"));
    let marker_path = Path::new("/").join(&marker);
    let mut copied_out = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for i in 0..150 {
        if std::time::Instant::now() > deadline {
            break;
        }
        let _ = e.arca(&["cp", "payload", &format!("swapper:/swap/link/{marker}")]);
        assert!(
            !marker_path.exists(),
            "copy {i} into the container wrote the host's /"
        );
        let out = host.join(format!("out{i}"));
        let o = e.arca(&[
            "cp",
            &format!("swapper:/swap/link/{secret}"),
            out.to_str().unwrap(),
        ]);
        if o.status.success() {
            copied_out += 1;
            let got = fs::read_to_string(&out).unwrap();
            assert!(
                !got.contains("HOST-SECRET"),
                "copy {i} read the host's file"
            );
            assert_eq!(got, "inside\n");
        }
        let o = e.arca(&["cp", &format!("swapper:/swap/link/{secret}"), "-"]);
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains("HOST-SECRET"),
            "copy {i} streamed the host's file"
        );
    }
    assert!(!marker_path.exists());
    eprintln!("{copied_out} copies out went through the symlink (inside the container)");
}
