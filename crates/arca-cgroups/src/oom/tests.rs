//! The watcher on fake trees: inotify works on ordinary files, so v2 counting is testable;
//! v1's eventfd is only signalled by a real kernel, so only its registration is checked.

use std::fs;
use std::path::Path;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::{Cgroup, Mount};

fn events(oom_kill: u64) -> String {
    format!("low 0\nhigh 0\nmax 5\noom {oom_kill}\noom_kill {oom_kill}\noom_group_kill 0\n")
}

fn readable(w: &super::OomWatcher) -> bool {
    let mut fds = [PollFd::new(w.fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).unwrap() == 1
}

#[test]
fn v2_counts_new_oom_kills() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("arca/c1");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("memory.events"), events(2)).unwrap();
    let cg = Cgroup::open_with_mounts(Path::new("/arca/c1"), vec![Mount::v2(tmp.path())]).unwrap();
    let mut w = cg.oom_watcher().unwrap();

    // Kills before the watcher started do not count, and an idle read does not block.
    assert!(!readable(&w));
    assert_eq!(w.read_events().unwrap(), 0);

    fs::write(dir.join("memory.events"), events(5)).unwrap();
    assert!(readable(&w));
    assert_eq!(w.read_events().unwrap(), 3);
    assert!(!readable(&w));
    assert_eq!(w.read_events().unwrap(), 0);

    // A modification without a new kill (e.g. a "high" event) is a spurious wake-up.
    fs::write(dir.join("memory.events"), events(5)).unwrap();
    assert_eq!(w.read_events().unwrap(), 0);

    // The cgroup going away is not an OOM.
    fs::remove_file(dir.join("memory.events")).unwrap();
    assert_eq!(w.read_events().unwrap(), 0);
}

#[test]
fn v2_without_memory_events_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("arca/c1")).unwrap();
    let cg = Cgroup::open_with_mounts(Path::new("/arca/c1"), vec![Mount::v2(tmp.path())]).unwrap();
    let err = cg.oom_watcher().unwrap_err().to_string();
    assert!(err.contains("memory.events"), "{err}");
}

#[test]
fn v1_registers_eventfd_with_oom_control() {
    let tmp = tempfile::tempdir().unwrap();
    let mem = tmp.path().join("memory");
    let dir = mem.join("arca/c1");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("memory.oom_control"), "oom_kill_disable 0\n").unwrap();
    fs::write(dir.join("cgroup.event_control"), "").unwrap();
    let mounts = vec![
        Mount::v1(&mem, &["memory"]),
        Mount::v2(tmp.path().join("unified")),
    ];
    let cg = Cgroup::open_with_mounts(Path::new("/arca/c1"), mounts).unwrap();
    let mut w = cg.oom_watcher().unwrap();

    let written = fs::read_to_string(dir.join("cgroup.event_control")).unwrap();
    let fds: Vec<i32> = written.split(' ').map(|f| f.parse().unwrap()).collect();
    use std::os::fd::AsRawFd;
    assert_eq!(fds.len(), 2);
    assert_eq!(fds[0], w.fd().as_raw_fd());
    assert_ne!(fds[0], fds[1]);
    assert!(!readable(&w));
    assert_eq!(w.read_events().unwrap(), 0);
}

#[test]
fn v1_without_memory_controller() {
    let tmp = tempfile::tempdir().unwrap();
    let mounts = vec![Mount::v1(tmp.path().join("pids"), &["pids"])];
    let cg = Cgroup::open_with_mounts(Path::new("/arca/c1"), mounts).unwrap();
    assert!(cg.oom_watcher().is_err());
}
