//! CVE-2021-30465 as it was exploited: a mount destination that flips between
//! a directory and a symlink to a host directory while the runtime mounts.
//!
//! The test plays the attacker who shares a directory with the rootfs: a
//! thread swaps `rootfs/mnt/target` (a real directory) and `rootfs/mnt/link`
//! (a symlink to a host directory) with `renameat2(RENAME_EXCHANGE)` in a
//! tight loop, while the main thread creates and deletes containers whose
//! spec bind-mounts a host directory at `/mnt/target`. A runtime that checks
//! the path and then mounts by path string (runc before 1.0.0-rc95) sooner or
//! later mounts onto the host directory. Each create must either put the
//! mount inside the rootfs or fail, and leave nothing behind.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{renameat2, RenameFlags};
use serde_json::json;

use crate::common::*;
use crate::support::*;

/// At most this many create/delete cycles...
const MAX_CYCLES: usize = 100;
/// ...and no more cycles started after this long.
const TIME_BUDGET: Duration = Duration::from_secs(10);

/// Detaches whatever got mounted on the host under `dir` (so a failing run
/// does not leave mounts behind) and returns the mount points.
fn detach_host_mounts_under(dir: &Path) -> Vec<String> {
    let mps = host_mounts_under(dir);
    for mp in mps.iter().rev() {
        let _ = nix::mount::umount2(mp.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
    mps
}

/// Mount points in the container's mount namespace (relative to its root).
fn container_mount_points(pid: i32) -> Vec<String> {
    let info = fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    mount_points(&info)
}

/// What `rootfs/mnt/link` points at.
#[derive(Clone, Copy)]
enum Victim {
    /// A host directory outside the bundle. A runtime that follows the
    /// symlink on the host mounts on it in the container's mount namespace
    /// (invisible once the old root is gone) or, with shared propagation, in
    /// the host's: the host's mountinfo and the directory are checked.
    HostDir,
    /// `rootfs/victim`, named by its host path. A runtime that follows the
    /// symlink on the host mounts on it, which the container then sees at
    /// `/victim`; resolved inside the root, the host path lands at
    /// `rootfs/<host path of rootfs>/victim` instead. This catches a
    /// path-string mount even when nothing shows on the host.
    InRootfs,
}

/// `rootfs/mnt/link` points at the victim by its absolute host path, or with
/// `relative` by enough `..` to climb out of the rootfs on the host.
fn racing_bind_destination(victim_kind: Victim, relative: bool) {
    let bundle = Bundle::busybox(&["true"]);
    let host_victim = HostDir::new();
    let in_rootfs = bundle.rootfs().join("victim");
    fs::create_dir_all(&in_rootfs).unwrap();
    fs::write(in_rootfs.join(&host_victim.marker), HOST_SECRET).unwrap();
    let victim = match victim_kind {
        Victim::HostDir => host_victim.path().to_path_buf(),
        Victim::InRootfs => in_rootfs.clone(),
    };
    let victim_str = victim.to_str().unwrap().to_string();
    let link_target = if relative {
        format!("../../../../../../../../../..{victim_str}")
    } else {
        victim_str.clone()
    };
    let link_target = link_target.as_str();
    // The victim as it must stay: its marker file only, nothing mounted.
    let assert_victim_untouched = |what: &str| {
        host_victim.assert_untouched(what);
        let entries: Vec<_> = fs::read_dir(&in_rootfs)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            entries,
            std::slice::from_ref(&host_victim.marker),
            "{what}: {} was written to",
            in_rootfs.display()
        );
        assert_eq!(
            fs::read_to_string(in_rootfs.join(&host_victim.marker)).unwrap(),
            HOST_SECRET,
            "{what}: the marker in {} was modified",
            in_rootfs.display()
        );
    };
    let src = HostDir::new();
    let mnt = bundle.rootfs().join("mnt");
    fs::create_dir_all(mnt.join("target")).unwrap();
    symlink(link_target, mnt.join("link")).unwrap();
    bundle.edit(|c| {
        add_mount(
            c,
            json!({"destination": "/mnt/target", "type": "bind", "source": src.path(),
                   "options": ["rbind", "rw"]}),
        );
    });

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let racer = {
        let stop = Arc::clone(&stop);
        let swaps = Arc::clone(&swaps);
        let dir = fs::File::open(&mnt).unwrap();
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                renameat2(&dir, "target", &dir, "link", RenameFlags::RENAME_EXCHANGE)
                    .expect("renameat2(RENAME_EXCHANGE)");
                swaps.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    // Where the bind may legitimately be in the container: on either name
    // (the runtime mounted the directory, which the racer then moved), or on
    // the symlink's target resolved inside the root.
    let allowed = [
        "/mnt/target".to_string(),
        "/mnt/link".to_string(),
        victim_str,
    ];
    // Where the container sees the victim when the symlink was followed on
    // the host.
    let forbidden = match victim_kind {
        Victim::HostDir => None,
        Victim::InRootfs => Some("/victim"),
    };

    let started = Instant::now();
    let mut created = 0;
    let mut failed = 0;
    let mut failure = None;
    for i in 0..MAX_CYCLES {
        if started.elapsed() > TIME_BUDGET {
            break;
        }
        let rt = Runtime::new();
        let id = unique_id("race");
        rt.track(&id);
        let out = rt.output(&["create", "--bundle", bundle.path_str(), &id]);
        let escaped = detach_host_mounts_under(&victim);
        if !escaped.is_empty() {
            failure = Some(format!(
                "cycle {i}: the bind mount landed on the host at {escaped:?}: {out}"
            ));
            break;
        }
        if out.success() {
            created += 1;
            let pid = rt.pid(&id);
            let mps = container_mount_points(pid);
            if let Some(f) = forbidden.filter(|f| mps.iter().any(|mp| mp == f)) {
                failure = Some(format!(
                    "cycle {i}: the bind mount followed the symlink on the host: the container \
                     has a mount at {f}: {mps:?}"
                ));
                break;
            }
            if !mps.iter().any(|mp| allowed.contains(mp)) {
                failure = Some(format!(
                    "cycle {i}: created, but no mount at any of {allowed:?} in the container: \
                     {mps:?}"
                ));
                break;
            }
            rt.run_ok(&["delete", "--force", &id]);
        } else {
            failed += 1;
        }
        rt.assert_no_state(&id);
        drop(rt);
        bundle.assert_gone();
        assert_victim_untouched(&format!("cycle {i}: racing /mnt/target -> {link_target}"));
    }
    stop.store(true, Ordering::Relaxed);
    racer.join().unwrap();
    eprintln!(
        "racing /mnt/target -> {link_target}: {created} created, {failed} refused, {} swaps",
        swaps.load(Ordering::Relaxed)
    );
    if let Some(f) = failure {
        panic!("{f}");
    }
    assert_victim_untouched(&format!("racing /mnt/target -> {link_target}"));
    src.assert_untouched("bind source");
    assert!(
        swaps.load(Ordering::Relaxed) > 0,
        "the racer never swapped the names"
    );
    // Containment by refusing everything would pass the checks above: make
    // sure the mount path was actually exercised.
    assert!(
        created > 0,
        "no create succeeded in {} cycles ({failed} failed): the race was never run",
        created + failed
    );
}

#[test]
fn racing_symlink_to_host_dir_absolute_stays_in_the_rootfs() {
    racing_bind_destination(Victim::HostDir, false);
}

#[test]
fn racing_symlink_to_host_dir_relative_stays_in_the_rootfs() {
    racing_bind_destination(Victim::HostDir, true);
}

#[test]
fn racing_symlink_to_rootfs_dir_by_host_path_absolute_stays_in_the_rootfs() {
    racing_bind_destination(Victim::InRootfs, false);
}

#[test]
fn racing_symlink_to_rootfs_dir_by_host_path_relative_stays_in_the_rootfs() {
    racing_bind_destination(Victim::InRootfs, true);
}
