//! CVE-2019-5736: a container overwriting the runtime's binary through
//! `/proc/<pid>/exe`.
//!
//! The classic exploit, adapted: the image's `/bin/target` is the script
//! `#!/proc/self/exe`, so `exec <id> /bin/target` makes the exec'd process
//! run whatever the runtime's `/proc/self/exe` is at its `execve` (without a
//! defence: the runtime's binary on the host). The container's init, an
//! attacker loop, finds that process, holds its `/proc/<pid>/exe` open, and
//! once it has exited (the runtime binary is then no longer busy) keeps
//! trying to reopen it for writing through `/proc/self/fd/3` and to append to
//! it.
//!
//! The runtime under test is a COPY of the binary in a temporary directory:
//! the real build output (or /usr/sbin/runc) is never at risk. The exec'd
//! runtime is held alive deterministically by giving it a full pipe as
//! stdout/stderr: its first message blocks until the test lets go.

use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::support::*;

/// The container's init: find a process whose exe is not busybox (the
/// exec'd runtime), hold its exe on fd 3, try writing to it while it runs and
/// after it exits; log everything under /results.
const ATTACKER: &str = r#"
attack() {
  st=$(stat -L -c '%d %i' /proc/self/fd/3)
  echo "held pid=$1 id=$st exe=$2" >> /results/log
  { echo "writable-while-running id=$st" >> /results/log; } 4>>/proc/$1/exe 2>/dev/null
  touch /results/caught
  n=0; gone=0
  while [ $n -lt 600 ] && [ $gone -lt 30 ]; do
    if { echo "writable id=$st" >> /results/log; printf '\n#CVE-2019-5736\n' >&4 && echo "wrote id=$st" >> /results/log; } 4>>/proc/self/fd/3; then
      break
    fi
    readlink /proc/$1/exe >/dev/null 2>&1 || gone=$((gone+1))
    n=$((n+1))
    usleep 100000
  done
}
exec 2>>/results/err
echo ready > /results/ready
while [ ! -e /results/stop ]; do
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = 1 ] && continue
    t=$(readlink $d/exe 2>/dev/null) || continue
    case "$t" in ""|/bin/busybox) continue;; esac
    if attack "$p" "$t" 3<$d/exe; then
      touch /results/done
      exec sleep 1000
    fi
  done
  usleep 20000
done
touch /results/done
exec sleep 1000
"#;

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Copies the dynamic loader and libraries of `bin` into `rootfs` at their
/// host paths, as an image with a libc would have them: the runtime binary
/// can then really run inside the container.
fn copy_libs(bin: &Path, rootfs: &Path) {
    let Ok(out) = Command::new("ldd").arg(bin).output() else {
        return;
    };
    for tok in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if !tok.starts_with('/') {
            continue;
        }
        let dest = rootfs.join(tok.trim_start_matches('/'));
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        if !dest.exists() {
            fs::copy(tok, &dest).unwrap_or_else(|e| panic!("copy {tok}: {e}"));
        }
    }
}

/// A pipe whose buffer is full: whoever writes to `write` blocks until
/// `read` is dropped (then gets EPIPE).
fn full_pipe() -> (OwnedFd, OwnedFd) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
    fcntl(write.as_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).unwrap();
    let mut f = fs::File::from(write);
    let chunk = [b'.'; 4096];
    loop {
        match f.write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the pipe: {e}"),
        }
    }
    let write = OwnedFd::from(f);
    // The flag belongs to the open file description the child shares: clear
    // it, or the child's write would fail with EAGAIN instead of blocking.
    fcntl(write.as_fd(), FcntlArg::F_SETFL(OFlag::empty())).unwrap();
    (read, write)
}

/// (dev, inode) from a log line's `id=<dev> <ino>`.
fn logged_id(line: &str) -> Option<(u64, u64)> {
    let rest = line.split("id=").nth(1)?;
    let mut it = rest.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

#[test]
fn exec_of_proc_self_exe_cannot_overwrite_the_runtime_binary() {
    // The runtime under test, copied: never the real build output.
    let bin_dir = tempfile::Builder::new()
        .prefix("arca-rtcopy-")
        .tempdir()
        .unwrap();
    let real = runtime();
    let copy = bin_dir.path().join(real.file_name().unwrap());
    fs::copy(&real, &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    let real_sha = sha256(&real);
    let copy_sha = sha256(&copy);
    let meta = fs::metadata(&copy).unwrap();
    let copy_id = (meta.dev(), meta.ino());

    let results = Results::new();
    let bundle = Bundle::busybox(&["sh", "-c", ATTACKER]);
    copy_libs(&copy, &bundle.rootfs());
    let target = bundle.rootfs().join("bin/target");
    fs::write(&target, "#!/proc/self/exe\n").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).unwrap();
    bundle.edit(|c| add_mount(c, results.mount()));

    let rt = Runtime::new();
    let id = unique_id("cve-2019-5736");
    rt.track(&id);
    let log_dir = tempfile::Builder::new()
        .prefix("arca-rtlog-")
        .tempdir()
        .unwrap();
    let with_copy = |args: &[&str]| {
        let mut cmd = Command::new(&copy);
        cmd.arg("--root").arg(rt.root()).args(args);
        cmd
    };
    Proc::spawn(with_copy(&[
        "run",
        "-d",
        "--bundle",
        bundle.path_str(),
        &id,
    ]))
    .wait()
    .assert_success();
    results.wait("ready");

    // exec -d /bin/target with a full pipe as stdout and stderr: the exec'd
    // process (the runtime's binary, if the exploit works) blocks on its first
    // message while the attacker holds its exe.
    let (pipe_read, pipe_write) = full_pipe();
    let log = log_dir.path().join("exec.log");
    let mut exec = with_copy(&[
        "--log",
        log.to_str().unwrap(),
        "exec",
        "-d",
        &id,
        "/bin/target",
    ])
    .stdin(Stdio::null())
    .stdout(fs::File::from(pipe_write.try_clone().unwrap()))
    .stderr(fs::File::from(pipe_write))
    .spawn()
    .expect("spawn exec");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = exec.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = exec.kill();
            let _ = exec.wait();
            panic!(
                "exec -d /bin/target hung (log: {})",
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
        sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "exec -d /bin/target failed ({status}), the exploit set-up does not work (log: {})",
        fs::read_to_string(&log).unwrap_or_default()
    );
    // Give the attacker its chance to find the process (bounded; not finding
    // one is fine: then the runtime's binary never ran in the container).
    let deadline = Instant::now() + Duration::from_secs(15);
    while !results.exists("caught") && Instant::now() < deadline {
        sleep(Duration::from_millis(50));
    }
    // Let the exec'd process go (EPIPE / SIGPIPE), then let the attacker
    // finish its write attempts.
    drop(pipe_read);
    fs::write(results.path().join("stop"), "").unwrap();
    results.wait("done");
    let attack_log = results.read("log");
    eprintln!(
        "copy {copy_id:?}\nattacker log:\n{attack_log}\nerrors:\n{}",
        results.read("err")
    );
    drop(rt);
    bundle.assert_gone();

    assert_eq!(
        sha256(&real),
        real_sha,
        "the real runtime binary {} changed!",
        real.display()
    );
    let writable: Vec<&str> = attack_log
        .lines()
        .filter(|l| l.starts_with("writable") || l.starts_with("wrote"))
        .filter(|l| logged_id(l) == Some(copy_id))
        .collect();
    assert_eq!(
        sha256(&copy),
        copy_sha,
        "CVE-2019-5736: the container overwrote the runtime binary {} through \
         /proc/<pid>/exe of `exec /bin/target` (#!/proc/self/exe)\nattacker log:\n{attack_log}",
        copy.display()
    );
    assert!(
        writable.is_empty(),
        "CVE-2019-5736: the container obtained a writable fd on the runtime binary {} \
         (dev {} ino {}) through /proc/<pid>/exe of `exec /bin/target` (#!/proc/self/exe): \
         {writable:?}\nattacker log:\n{attack_log}",
        copy.display(),
        copy_id.0,
        copy_id.1
    );
}
