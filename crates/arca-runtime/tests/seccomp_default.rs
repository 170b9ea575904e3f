//! The engine's default seccomp profile (`arca-container/profiles/seccomp-default.json`):
//! inside a container with Docker's default capabilities and noNewPrivileges, `unshare`,
//! `mount`, `keyctl`/`add_key`, `ptrace` of a non-child and `kexec_load` fail, ordinary
//! programs work; with CAP_SYS_ADMIN added the profile still refuses what the capability
//! would allow, which a run without the profile shows.
//!
//! The probe is the `syscall-probe` example (cargo builds examples for `cargo test`).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use serde_json::{json, Value};

/// Docker's default capability set (moby `oci/caps/defaults.go`).
const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Probes run without an argument, in this order.
const PROBES: &[&str] = &[
    "getpid",
    "write",
    "unshare",
    "unshare-user",
    "mount",
    "keyctl",
    "add_key",
    "kexec_load",
];

const EPERM: &str = "errno=1 EPERM";

/// The `syscall-probe` example next to the runtime binary. `cargo test` builds examples, but
/// not `cargo test --test seccomp_default`: it is (re)built here, once (a no-op when fresh).
fn probe_binary() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let exe = Path::new(env!("CARGO_BIN_EXE_arca-runtime"));
        let p = exe
            .parent()
            .expect("runtime binary has a directory")
            .join("examples/syscall-probe");
        {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "-p", "arca-runtime", "--example", "syscall-probe"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status();
            eprintln!("building the syscall-probe example: {status:?}");
        }
        assert!(
            p.is_file(),
            "{} missing: build it with `cargo build -p arca-runtime --examples` \
             (crates/arca-runtime/examples/syscall-probe.rs)",
            p.display()
        );
        p
    })
}

fn default_profile() -> Value {
    serde_json::to_value(arca_container::seccomp::default_profile()).expect("profile to JSON")
}

/// Every probe, then ptrace of a process the shell runs as nobody (not the probe's child, not
/// its uid), one `name: result` line each.
const SCRIPT: &str = r#"
for p in getpid write unshare unshare-user mount keyctl add_key kexec_load; do
    echo "$p: $(syscall-probe $p)"
done
syscall-probe sleep-as 65534 &
t=$!
n=0
while ! grep -q '^Uid:.65534' /proc/$t/status 2>/dev/null && [ $n -lt 200 ]; do
    sleep 0.05; n=$((n + 1))
done
echo "ptrace: $(syscall-probe ptrace $t)"
kill $t
"#;

/// A busybox bundle with the probe in /bin, Docker's capabilities (+ `extra_caps`),
/// noNewPrivileges, and `profile` as linux.seccomp (none when `None`).
fn bundle(args: &[&str], extra_caps: &[&str], profile: Option<Value>) -> Bundle {
    let b = Bundle::busybox(args);
    fs::copy(probe_binary(), b.rootfs().join("bin/syscall-probe")).expect("copy syscall-probe");
    let caps: Vec<&str> = DOCKER_CAPS.iter().chain(extra_caps).copied().collect();
    b.edit(|c| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set] = json!(caps);
        }
        c["process"]["capabilities"]["ambient"] = json!([]);
        c["process"]["noNewPrivileges"] = json!(true);
        match &profile {
            Some(p) => c["linux"]["seccomp"] = p.clone(),
            None => {
                c["linux"].as_object_mut().unwrap().remove("seccomp");
            }
        }
    });
    b
}

/// Runs the probes; probe name → result line.
fn probe_all(extra_caps: &[&str], profile: Option<Value>) -> BTreeMap<String, String> {
    let b = bundle(&["sh", "-c", SCRIPT], extra_caps, profile);
    let rt = Runtime::new();
    let out = rt.run_fg(&b, &unique_id("scd"));
    assert!(out.success(), "{out}");
    let results: BTreeMap<String, String> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for p in PROBES.iter().chain(&["ptrace"]) {
        assert!(results.contains_key(*p), "no result for {p}: {out}");
    }
    results
}

#[test]
fn default_profile_blocks_dangerous_syscalls() {
    for extra in [&[][..], &["CAP_SYS_ADMIN"][..]] {
        let r = probe_all(extra, Some(default_profile()));
        assert_eq!(r["getpid"], "ok", "extra caps {extra:?}: {r:?}");
        assert_eq!(r["write"], "ok", "extra caps {extra:?}: {r:?}");
        for p in [
            "unshare",
            "unshare-user",
            "mount",
            "keyctl",
            "add_key",
            "kexec_load",
            "ptrace",
        ] {
            assert_eq!(r[p], EPERM, "{p} with extra caps {extra:?}: {r:?}");
        }
    }
}

#[test]
fn without_the_profile_capabilities_alone_allow_them() {
    // Docker's capabilities alone: mount and unshare(CLONE_NEWNS) need CAP_SYS_ADMIN, ptrace of
    // another uid CAP_SYS_PTRACE, kexec_load CAP_SYS_BOOT; the keyring needs nothing.
    let r = probe_all(&[], None);
    for p in ["unshare", "mount", "ptrace"] {
        assert_eq!(r[p], EPERM, "{p} without the profile: {r:?}");
    }
    // EPERM, or ENOSYS from a kernel built without kexec (the profile answers EPERM either way).
    let kexec_refused = |r: &str| r == EPERM || r == "errno=38 ENOSYS";
    assert!(kexec_refused(&r["kexec_load"]), "{r:?}");
    assert_eq!(r["keyctl"], "ok", "keyctl without the profile: {r:?}");
    assert_eq!(r["add_key"], "ok", "add_key without the profile: {r:?}");
    // With CAP_SYS_ADMIN, mount and unshare succeed: the profile is what refuses them above.
    let r = probe_all(&["CAP_SYS_ADMIN"], None);
    for p in ["unshare", "mount", "keyctl", "add_key"] {
        assert_eq!(
            r[p], "ok",
            "{p} with CAP_SYS_ADMIN, without the profile: {r:?}"
        );
    }
    assert_eq!(
        r["ptrace"], EPERM,
        "with CAP_SYS_ADMIN, without the profile: {r:?}"
    );
    assert!(kexec_refused(&r["kexec_load"]), "{r:?}");
}

#[test]
fn ordinary_programs_work_under_the_default_profile() {
    let b = bundle(
        &[
            "sh",
            "-c",
            "echo ok; ls /; cat /proc/self/status; sleep 0.1; date",
        ],
        &[],
        Some(default_profile()),
    );
    let rt = Runtime::new();
    let out = rt.run_fg(&b, &unique_id("scd-ok"));
    assert!(out.success(), "{out}");
    assert!(out.stdout.starts_with("ok\n"), "{out}");
    assert!(out.stdout.contains("proc\n"), "ls / output: {out}");
    assert!(
        out.stdout.contains("Seccomp:\t2"),
        "filter mode in status: {out}"
    );
    assert!(out.stdout.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.stderr.is_empty(), "{out}");
}
