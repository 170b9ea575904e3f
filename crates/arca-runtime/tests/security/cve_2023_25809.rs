//! CVE-2023-25809: without a cgroup namespace, /sys/fs/cgroup shows host
//! cgroup directories: every cgroup mount there (and the v1 tmpfs holding
//! them) must be read-only, whatever the mount's options say.

use crate::common::*;
use crate::support::*;

/// Mountinfo, then one line per write attempt that succeeded.
const PROBE: &str = "cat /proc/self/mountinfo; echo ---; \
    touch /sys/fs/cgroup/evil 2>/dev/null && echo WRITABLE-tmpfs; \
    for d in /sys/fs/cgroup/*/; do touch $d/evil 2>/dev/null && echo WRITABLE-$d; done; \
    echo -1 > /sys/fs/cgroup/memory/memory.soft_limit_in_bytes 2>/dev/null && echo WRITABLE-memory; \
    echo max > /sys/fs/cgroup/pids/pids.max 2>/dev/null && echo WRITABLE-pids; \
    echo max > /sys/fs/cgroup/pids.max 2>/dev/null && echo WRITABLE-pids; \
    true";

fn cgroup_mounts_are_read_only(spec_ro: bool) {
    let bundle = Bundle::busybox(&["sh", "-c", PROBE]);
    if !spec_ro {
        bundle.edit(|c| {
            for m in c["mounts"].as_array_mut().unwrap() {
                if m["destination"] == "/sys/fs/cgroup" {
                    m["options"] = serde_json::json!(["nosuid", "noexec", "nodev", "relatime"]);
                }
            }
        });
    }
    let out = run_once(&bundle);
    out.assert_success();
    let (info, writes) = out.stdout.split_once("---").unwrap();
    let cg: Vec<_> = mounts(info)
        .into_iter()
        .filter(|(mp, _, _)| mp.starts_with("/sys/fs/cgroup"))
        .collect();
    assert!(!cg.is_empty(), "no /sys/fs/cgroup mount: {out}");
    // runc 1.1.5 mounts cgroups read-write when the spec does not say `ro`
    // (its CVE-2023-25809 fix only covers rootless containers).
    if is_runc() && !spec_ro {
        return;
    }
    for (mp, opts, fstype) in &cg {
        // runc 1.1.5 leaves the v1 tmpfs at /sys/fs/cgroup read-write (only
        // the cgroup binds in it are read-only).
        if is_runc() && fstype == "tmpfs" {
            continue;
        }
        assert!(
            opts.iter().any(|o| o == "ro"),
            "CVE-2023-25809 (spec ro: {spec_ro}): {fstype} mount {mp} is not read-only \
             ({opts:?}): {out}"
        );
    }
    let writes: Vec<&str> = writes
        .lines()
        .filter(|l| l.starts_with("WRITABLE") && !(is_runc() && *l == "WRITABLE-tmpfs"))
        .collect();
    assert!(
        writes.is_empty(),
        "CVE-2023-25809 (spec ro: {spec_ro}): the container could write to /sys/fs/cgroup: \
         {writes:?}"
    );
}

#[test]
fn cgroup_mounts_without_cgroupns_are_read_only() {
    cgroup_mounts_are_read_only(true);
}

#[test]
fn cgroup_mounts_without_cgroupns_are_read_only_even_without_ro_option() {
    cgroup_mounts_are_read_only(false);
}
