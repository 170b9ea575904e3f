//! CVE-2022-29162: the inheritable capability set must be empty unless the
//! spec asks for inheritable capabilities (runc before 1.1.2 put
//! `exec --cap` capabilities there, and a non-empty inheritable set grants
//! them to any program with matching file capabilities, even for non-root).
//! Inheritable capabilities of the runtime's own process must not leak in
//! either.

use serde_json::json;

use crate::common::*;
use crate::support::*;

fn cap_inh(status: &str) -> u64 {
    u64::from_str_radix(status_field(status, "CapInh"), 16).unwrap()
}

/// The runtime itself runs with these inheritable capabilities.
const INH_WRAPPER: [&str; 3] = ["setpriv", "--inh-caps", "+sys_admin,+net_raw,+kill"];

#[test]
fn init_has_no_inheritable_capabilities() {
    // The default spec (no inheritable set; ambient ones that cannot be raised
    // without it), and a spec without ambient capabilities.
    for drop_ambient in [false, true] {
        let bundle = Bundle::busybox(&["cat", "/proc/self/status"]);
        if drop_ambient {
            bundle.edit(|c| {
                c["process"]["capabilities"]
                    .as_object_mut()
                    .unwrap()
                    .remove("ambient");
            });
        }
        let out = run_once(&bundle);
        out.assert_success();
        assert_eq!(
            cap_inh(&out.stdout),
            0,
            "CVE-2022-29162: CapInh is not empty (ambient dropped: {drop_ambient}):\n{}",
            out.stdout
        );
        // And with the runtime itself holding inheritable capabilities.
        let rt = Runtime::new();
        let id = unique_id("capinh");
        rt.track(&id);
        let out = run_wrapped(
            &rt,
            &INH_WRAPPER,
            &["run", "--bundle", bundle.path_str(), &id],
        );
        out.assert_success();
        assert_eq!(
            cap_inh(&out.stdout),
            0,
            "CVE-2022-29162: the runtime's inheritable capabilities leaked into the \
             container:\n{}",
            out.stdout
        );
    }
}

#[test]
fn inheritable_capabilities_from_the_spec_are_applied() {
    let bundle = Bundle::busybox(&["cat", "/proc/self/status"]);
    bundle.edit(|c| c["process"]["capabilities"]["inheritable"] = json!(["CAP_KILL"]));
    let out = run_once(&bundle);
    out.assert_success();
    assert_eq!(cap_inh(&out.stdout), 1 << 5, "{}", out.stdout);
}

#[test]
fn exec_has_no_inheritable_capabilities() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("capinh-exec");
    rt.run_detached(&bundle, &id);
    let cases: [&[&str]; 3] = [
        &["exec", &id, "cat", "/proc/self/status"],
        &[
            "exec",
            "--cap",
            "CAP_SYS_ADMIN",
            &id,
            "cat",
            "/proc/self/status",
        ],
        &[
            "exec",
            "--cap",
            "CAP_NET_RAW",
            "--cap",
            "CAP_SYS_PTRACE",
            &id,
            "cat",
            "/proc/self/status",
        ],
    ];
    for args in cases {
        let out = rt.run_ok(args);
        assert_eq!(
            cap_inh(&out.stdout),
            0,
            "CVE-2022-29162: `{}`: CapInh is not empty:\n{}",
            args.join(" "),
            out.stdout
        );
        let out = run_wrapped(&rt, &INH_WRAPPER, args);
        out.assert_success();
        assert_eq!(
            cap_inh(&out.stdout),
            0,
            "CVE-2022-29162: `{}` under setpriv --inh-caps: the runtime's inheritable \
             capabilities leaked:\n{}",
            args.join(" "),
            out.stdout
        );
    }
    // --cap does give the capability (so the check above means something).
    let out = rt.run_ok(&[
        "exec",
        "--cap",
        "CAP_SYS_ADMIN",
        &id,
        "cat",
        "/proc/self/status",
    ]);
    let eff = u64::from_str_radix(status_field(&out.stdout, "CapEff"), 16).unwrap();
    assert_ne!(
        eff & (1 << 21),
        0,
        "exec --cap CAP_SYS_ADMIN: {}",
        out.stdout
    );
}
