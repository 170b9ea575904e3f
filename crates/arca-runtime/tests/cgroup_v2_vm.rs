//! cgroup v2 for real: boots Debian's kernel under qemu (TCG) with a pure cgroup v2 hierarchy and
//! runs `scripts/vm/v2-tests.sh` there with the runtime under test (see
//! `scripts/vm/run-v2-tests.sh`): placement, resources written and enforced (OOM kill, pids
//! limit), /sys/fs/cgroup inside containers, cleanup by kill --all / delete --force, exec.
//!
//! Builds nothing: the script packs the runtime binary into an initramfs. Its prerequisites
//! (qemu-system-x86, linux-image-amd64, busybox-static, cpio, jq, apparmor) are installed by
//! scripts/test.sh; a missing one fails this test with the script's message naming it.
//! `ARCA_TEST_RUNTIME` points it at another runtime, as every runtime test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn runtime() -> PathBuf {
    match std::env::var_os("ARCA_TEST_RUNTIME") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_arca-runtime")),
    }
}

#[test]
fn cgroup_v2_in_qemu() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/vm/run-v2-tests.sh");
    assert!(script.is_file(), "{} not found", script.display());
    let started = Instant::now();
    // Guest output on stdout and the script's own lines on stderr, merged in order.
    let output = Command::new("bash")
        .arg("-c")
        .arg("exec \"$0\" \"$1\" 2>&1")
        .arg(&script)
        .arg(runtime())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let text = String::from_utf8_lossy(&output.stdout);
    // Shown by the test harness on failure (and with --nocapture).
    println!("{text}");
    // The script repeats the failed tests after the guest's output: keep each line once.
    let mut failures: Vec<&str> = Vec::new();
    for l in text.lines() {
        if (l.starts_with("not ok ") || l.starts_with("run-v2-tests: ")) && !failures.contains(&l) {
            failures.push(l);
        }
    }
    assert!(
        output.status.success(),
        "scripts/vm/run-v2-tests.sh failed ({}, after {:.0?}):\n{}\n\n--- full output ---\n{text}",
        output.status,
        started.elapsed(),
        failures.join("\n"),
    );
    assert!(
        text.lines()
            .any(|l| l.ends_with(" passed, 0 failed") && !l.starts_with("0 ")),
        "no passing summary line in the output:\n{text}"
    );
}
