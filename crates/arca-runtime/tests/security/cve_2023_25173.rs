//! CVE-2023-25173: supplementary groups. The spec's `additionalGids` are
//! applied exactly, for the init and for exec, and the supplementary groups
//! of the runtime's own process never reach the container.

use std::collections::BTreeSet;

use serde_json::json;

use crate::common::*;
use crate::support::*;

fn groups(status: &str) -> BTreeSet<u32> {
    status_field(status, "Groups")
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect()
}

fn set(gids: &[u32]) -> BTreeSet<u32> {
    gids.iter().copied().collect()
}

/// The runtime itself runs with these supplementary groups.
const GROUPS_WRAPPER: [&str; 4] = ["setpriv", "--groups", "1234,5678", "--"];

#[test]
fn additional_gids_are_applied_exactly() {
    for (uid, gid, extra) in [
        (0, 0, vec![]),
        (1000, 1000, vec![2000, 3000]),
        (0, 0, vec![10]),
    ] {
        let bundle = Bundle::busybox(&["sh", "-c", "cat /proc/self/status; echo; id -G"]);
        bundle.edit(|c| {
            c["process"]["user"] = json!({"uid": uid, "gid": gid, "additionalGids": extra});
        });
        let out = run_once(&bundle);
        out.assert_success();
        assert_eq!(
            groups(&out.stdout),
            set(&extra),
            "uid {uid} gid {gid}: Groups: is not the spec's additionalGids {extra:?}:\n{}",
            out.stdout
        );
        let id_g: BTreeSet<u32> = out
            .stdout
            .lines()
            .last()
            .unwrap()
            .split_whitespace()
            .map(|g| g.parse().unwrap())
            .collect();
        let mut expected = set(&extra);
        expected.insert(gid);
        assert_eq!(id_g, expected, "id -G:\n{}", out.stdout);

        // The runtime's own supplementary groups do not leak.
        let rt = Runtime::new();
        let id = unique_id("groups");
        rt.track(&id);
        let out = run_wrapped(
            &rt,
            &GROUPS_WRAPPER,
            &["run", "--bundle", bundle.path_str(), &id],
        );
        out.assert_success();
        assert_eq!(
            groups(&out.stdout),
            set(&extra),
            "CVE-2023-25173: the runtime's supplementary groups (1234, 5678) leaked into \
             the container (spec: {extra:?}):\n{}",
            out.stdout
        );
    }
}

#[test]
fn exec_gets_the_specs_additional_gids_and_no_others() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    bundle.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [2000, 3000]});
    });
    let rt = Runtime::new();
    let id = unique_id("groups-exec");
    rt.run_detached(&bundle, &id);
    let args = ["exec", &id, "cat", "/proc/self/status"];
    let out = rt.run_ok(&args);
    assert_eq!(groups(&out.stdout), set(&[2000, 3000]), "{}", out.stdout);
    let out = run_wrapped(&rt, &GROUPS_WRAPPER, &args);
    out.assert_success();
    assert_eq!(
        groups(&out.stdout),
        set(&[2000, 3000]),
        "CVE-2023-25173: the runtime's supplementary groups leaked into exec:\n{}",
        out.stdout
    );
    // exec -g: the given group is applied, nothing from the host.
    let out = run_wrapped(
        &rt,
        &GROUPS_WRAPPER,
        &["exec", "-g", "4000", &id, "cat", "/proc/self/status"],
    );
    out.assert_success();
    let g = groups(&out.stdout);
    assert!(g.contains(&4000), "exec -g 4000: {}", out.stdout);
    assert!(
        g.is_subset(&set(&[2000, 3000, 4000])),
        "CVE-2023-25173: exec -g 4000: unexpected groups {g:?}:\n{}",
        out.stdout
    );
    // exec as another user: still exactly the container's groups.
    let out = rt.run_ok(&["exec", "-u", "1001:1001", &id, "cat", "/proc/self/status"]);
    let g = groups(&out.stdout);
    assert!(
        g.is_subset(&set(&[2000, 3000])),
        "exec -u 1001:1001: unexpected groups {g:?}:\n{}",
        out.stdout
    );
}
