//! CVE-2025-31133, CVE-2025-52565, CVE-2025-52881 (runc, November 2025):
//! - a /dev/null that is not the null device (a symlink, a regular file,
//!   another device, or missing) must not become what "masks" maskedPaths;
//! - with `terminal: true`, a /dev/console symlink must not redirect the
//!   console's bind mount;
//! - sysctls must only be written to a real procfs, never through a /proc
//!   the container (or its config) made up.
//!
//! runc 1.1.5 predates the fixes: the assertions it fails are guarded with
//! `is_runc()`.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use serde_json::json;

use crate::common::*;
use crate::support::*;

/// Masked files of the default spec that exist on this kernel.
fn masked_files() -> Vec<&'static str> {
    [
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
    ]
    .into_iter()
    .filter(|p| Path::new(p).is_file())
    .collect()
}

/// How /dev/null is crafted in the bundle's /dev directory.
#[derive(Debug, Clone, Copy)]
enum Null {
    SymlinkToProcfs,
    SymlinkToHostFile,
    RegularFile,
    OtherDevice,
    Missing,
}

/// A /dev directory in the bundle, bind-mounted as the container's /dev (so
/// the runtime creates no nodes), with a real /dev/zero and a crafted null.
fn masked_paths_with_crafted_dev_null(null: Null) {
    let victim = HostDir::new();
    let files = masked_files();
    assert!(!files.is_empty(), "no masked /proc file on this kernel");
    let mut script = String::new();
    for f in &files {
        script.push_str(&format!("stat -c '%n|%F|%t|%T' {f}; "));
    }
    script.push_str("echo ---; cat /proc/self/mountinfo");
    let bundle = Bundle::busybox(&["sh", "-c", &script]);
    let devdir = bundle.path().join("devdir");
    fs::create_dir(&devdir).unwrap();
    mknod_char(&devdir.join("zero"), 1, 5);
    let null_path = devdir.join("null");
    match null {
        Null::SymlinkToProcfs => symlink("/proc/sys/kernel/hostname", &null_path).unwrap(),
        Null::SymlinkToHostFile => symlink(victim.marker_path(), &null_path).unwrap(),
        Null::RegularFile => fs::write(&null_path, "not the null device\n").unwrap(),
        Null::OtherDevice => mknod_char(&null_path, 1, 5),
        Null::Missing => {}
    }
    bundle.edit(|c| {
        replace_mount(
            c,
            "/dev",
            json!({"destination": "/dev", "type": "bind", "source": devdir,
                   "options": ["rbind", "rw"]}),
        );
    });
    let out = run_once(&bundle);
    victim.assert_untouched(&format!("/dev/null {null:?}"));
    if !out.success() {
        return; // refused: fine
    }
    // runc 1.1.5 is vulnerable (CVE-2025-31133): it masks with whatever
    // /dev/null is, or leaves the paths unmasked when it is missing.
    if is_runc() {
        return;
    }
    for f in &files {
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{f}|")))
            .unwrap_or_else(|| panic!("no stat of {f}: {out}"));
        assert_eq!(
            line,
            format!("{f}|character special file|1|3"),
            "CVE-2025-31133: /dev/null {null:?}: {f} is not masked by the real null \
             device: {out}"
        );
    }
}

#[test]
fn dev_null_symlink_to_procfs_does_not_unmask() {
    masked_paths_with_crafted_dev_null(Null::SymlinkToProcfs);
}

#[test]
fn dev_null_symlink_to_host_file_does_not_unmask() {
    masked_paths_with_crafted_dev_null(Null::SymlinkToHostFile);
}

#[test]
fn dev_null_regular_file_does_not_unmask() {
    masked_paths_with_crafted_dev_null(Null::RegularFile);
}

#[test]
fn dev_null_other_device_does_not_unmask() {
    masked_paths_with_crafted_dev_null(Null::OtherDevice);
}

#[test]
fn dev_null_missing_does_not_unmask() {
    masked_paths_with_crafted_dev_null(Null::Missing);
}

// ---------------------------------------------------------------------------
// CVE-2025-52565: /dev/console.
// ---------------------------------------------------------------------------

/// Accepts the console socket connection of `create` and receives the pty
/// master; `None` if create ended without connecting.
fn receive_console(listener: &std::os::unix::net::UnixListener, create: &Proc) -> Option<Master> {
    use std::io::{ErrorKind, IoSliceMut};
    use std::os::fd::{AsRawFd, RawFd};

    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};

    let mut stream = None;
    wait_for("create to connect to the console socket", || {
        match listener.accept() {
            Ok((s, _)) => stream = Some(s),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("accept on the console socket: {e}"),
        }
        stream.is_some() || !process_alive(create.pid())
    });
    let stream = stream?;
    stream.set_nonblocking(false).unwrap();
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<UnixAddr>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    let mut fds = Vec::new();
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(received) = c {
            fds.extend(received);
        }
    }
    let last = fds.pop();
    for fd in fds {
        let _ = nix::unistd::close(fd);
    }
    last.map(Master)
}

/// A received pty master, closed on drop.
struct Master(std::os::fd::RawFd);

impl Drop for Master {
    fn drop(&mut self) {
        let _ = nix::unistd::close(self.0);
    }
}

/// `terminal: true` with the rootfs's /dev/console a symlink to `target`
/// (and /dev the rootfs's own directory, so the symlink is really there).
fn console_symlink(target: &str, victim: &HostDir) {
    use std::os::unix::net::UnixListener;

    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let dev = bundle.rootfs().join("dev");
    mknod_char(&dev.join("null"), 1, 3);
    symlink(target, dev.join("console")).unwrap();
    // The symlink's target inside the rootfs, if it is a plain path there.
    let inside = bundle.rootfs().join(target.trim_start_matches('/'));
    if !target.starts_with("/proc") {
        fs::create_dir_all(inside.parent().unwrap()).unwrap();
        fs::write(&inside, "rootfs file\n").unwrap();
    }
    bundle.edit(|c| {
        remove_mount(c, "/dev");
        c["process"]["terminal"] = json!(true);
    });
    let sock_dir = tempfile::Builder::new()
        .prefix("arca-console-")
        .tempdir()
        .unwrap();
    let sock = sock_dir.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    let rt = Runtime::new();
    let id = unique_id("console");
    rt.track(&id);
    let create = rt.spawn(&[
        "create",
        "--console-socket",
        sock.to_str().unwrap(),
        "--bundle",
        bundle.path_str(),
        &id,
    ]);
    let master = receive_console(&listener, &create);
    let out = create.wait();
    victim.assert_untouched(&format!("/dev/console -> {target}"));
    if !out.success() {
        return; // refused: fine
    }
    assert!(master.is_some(), "create succeeded without sending a pty");
    let view = rt.run_ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /proc/self/mountinfo; echo ---; stat -c '%F|%t' /dev/console",
    ]);
    drop(master);
    drop(rt);
    bundle.assert_gone();
    victim.assert_untouched(&format!("/dev/console -> {target}"));
    // runc 1.1.5 is vulnerable (CVE-2025-52565): it mounts the pty over the
    // symlink's target.
    if is_runc() {
        return;
    }
    let mps = mount_points(&view.stdout);
    assert!(
        !mps.iter().any(|mp| mp == target),
        "CVE-2025-52565: the console was mounted over the /dev/console symlink's target \
         {target}: {view}"
    );
    // Unix98 pty slaves have major 136 (0x88, as stat's %t prints it).
    assert!(
        view.stdout
            .lines()
            .any(|l| l == "character special file|88"),
        "/dev/console is not the pty: {view}"
    );
}

#[test]
fn dev_console_symlink_to_procfs_is_not_followed() {
    let victim = HostDir::new();
    console_symlink("/proc/sys/kernel/domainname", &victim);
}

#[test]
fn dev_console_symlink_to_host_path_is_not_followed() {
    let victim = HostDir::new();
    console_symlink(victim.marker_path().to_str().unwrap(), &victim);
}

// ---------------------------------------------------------------------------
// CVE-2025-52881: sysctls through a /proc that is not procfs.
// ---------------------------------------------------------------------------

/// /proc is a bind of a host tmpfs directory holding `sys/kernel/domainname`
/// (a regular file, or with `via_symlink` a symlink to a host file); the
/// spec sets `kernel.domainname`. Create is refused or writes nothing.
fn sysctl_through_fake_proc(via_symlink: bool) {
    let victim = HostDir::new();
    let mnt = tempfile::Builder::new()
        .prefix("arca-fakeproc-")
        .tempdir()
        .unwrap();
    let _tmpfs = HostMount::tmpfs(mnt.path());
    let kernel = mnt.path().join("sys/kernel");
    fs::create_dir_all(&kernel).unwrap();
    let file = kernel.join("domainname");
    if via_symlink {
        symlink(victim.marker_path(), &file).unwrap();
    } else {
        fs::write(&file, "host value\n").unwrap();
    }
    let bundle = Bundle::busybox(&["true"]);
    let value = unique_id("pwned");
    bundle.edit(|c| {
        replace_mount(
            c,
            "/proc",
            json!({"destination": "/proc", "type": "bind", "source": mnt.path(),
                   "options": ["rbind", "rw"]}),
        );
        c["linux"]["sysctl"] = json!({ "kernel.domainname": value });
    });
    let out = run_once(&bundle);
    // runc 1.1.5 is vulnerable (CVE-2025-52881): it writes the sysctl through
    // whatever /proc/sys/... is.
    if is_runc() {
        return;
    }
    victim.assert_untouched("sysctl through a fake /proc");
    if !via_symlink {
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            "host value\n",
            "CVE-2025-52881: a sysctl was written to a host file through a /proc that is \
             not procfs: {out}"
        );
    }
    let mut names: Vec<String> = fs::read_dir(&kernel)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["domainname"], "files appeared in the fake /proc");
}

#[test]
fn sysctl_is_not_written_through_a_fake_proc() {
    sysctl_through_fake_proc(false);
}

#[test]
fn sysctl_is_not_written_through_a_symlink_in_a_fake_proc() {
    sysctl_through_fake_proc(true);
}
