//! CVE-2022-0811 ("cr8escape"): CRI-O's pinns joined the spec's sysctls as
//! `key=value+key=value` and split them again, so a value of
//! `1+kernel.core_pattern=|/evil` set the host's (not namespaced)
//! kernel.core_pattern. A runtime takes the sysctl map as is, but a value
//! carrying a separator is never legitimate: it must be refused before
//! anything is created, and the host's core_pattern must stay as it was.

use std::fs;

use serde_json::json;

use crate::common::*;
use crate::support::*;

const CORE_PATTERN: &str = "/proc/sys/kernel/core_pattern";

/// Creates a container whose spec sets `key` to `value`; asserts the host's
/// kernel.core_pattern is unchanged and nothing is left behind, and (arca)
/// that create was refused naming the sysctl.
fn injected_value_is_refused(key: &str, value: &str) {
    let before = fs::read_to_string(CORE_PATTERN).unwrap();
    let bundle = Bundle::busybox(&["true"]);
    bundle.edit(|c| c["linux"]["sysctl"] = json!({ key: value }));
    let rt = Runtime::new();
    let id = unique_id("sysctl");
    rt.track(&id);
    let out = rt.output(&["create", "--bundle", bundle.path_str(), &id]);
    let after = fs::read_to_string(CORE_PATTERN).unwrap();
    if after != before {
        // Put the host back before failing.
        let _ = fs::write(CORE_PATTERN, before.trim_end());
    }
    assert_eq!(
        after, before,
        "sysctl {key}={value:?} changed the host's kernel.core_pattern: {out}"
    );
    // runc 1.1.5 writes the value as is to /proc/sys/<key>: the kernel then
    // refuses it or reads the leading number, but it never splits on `+`, so
    // the host is safe; only arca promises to refuse the value up front.
    if !is_runc() {
        let err = out.assert_failure();
        assert!(
            err.contains(&format!("linux.sysctl \"{key}\"")),
            "the error does not name linux.sysctl \"{key}\": {out}"
        );
        rt.assert_no_state(&id);
    }
    drop(rt);
    bundle.assert_gone();
}

#[test]
fn sysctl_value_with_plus_joined_setting_is_refused() {
    injected_value_is_refused("kernel.shm_rmid_forced", "1+kernel.core_pattern=|/evil");
}

#[test]
fn sysctl_value_with_plus_joined_key_is_refused() {
    injected_value_is_refused("kernel.shm_rmid_forced", "1+kernel.core_pattern");
}

#[test]
fn sysctl_value_with_equals_is_refused() {
    injected_value_is_refused("net.ipv4.ping_group_range", "0 0=kernel.core_pattern");
}

#[test]
fn sysctl_value_with_newline_is_refused() {
    injected_value_is_refused(
        "kernel.shm_rmid_forced",
        "1\nkernel.core_pattern=|/tmp/evil",
    );
}

#[test]
fn sysctl_value_with_nul_is_refused() {
    injected_value_is_refused("kernel.shm_rmid_forced", "1\u{0}|/tmp/evil");
}

#[test]
fn sysctl_value_with_spaces_still_works() {
    let bundle = Bundle::busybox(&["cat", "/proc/sys/net/ipv4/ping_group_range"]);
    bundle.edit(|c| {
        c["linux"]["sysctl"] = json!({ "net.ipv4.ping_group_range": "0 2147483647" });
    });
    let out = run_once(&bundle);
    out.assert_success();
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["0", "2147483647"],
        "net.ipv4.ping_group_range was not set in the container: {out}"
    );
}
