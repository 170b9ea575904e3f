//! Runs one of the qemu test beds in scripts/vm/ with the binary under test and fails with the
//! guest's failed lines (the full output is printed, which the harness shows on failure).
//!
//! Also compiled into crates/arca/tests/engine_v2_vm.rs (by `#[path]`), whose bed takes the
//! engine's binary: so nothing here may use the rest of this `common` module.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Runs `scripts/vm/<script> BINARY` and asserts every guest test passed. `tag` is the prefix
/// of the script's own lines (`run-v2-tests`), kept in the failure summary.
pub fn run_test_bed(script: &str, tag: &str, binary: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts/vm")
        .join(script);
    assert!(script.is_file(), "{} not found", script.display());
    let started = Instant::now();
    // Guest output on stdout and the script's own lines on stderr, merged in order.
    let output = Command::new("bash")
        .arg("-c")
        .arg("exec \"$0\" \"$1\" 2>&1")
        .arg(&script)
        .arg(binary)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let text = String::from_utf8_lossy(&output.stdout);
    println!("{text}");
    // The scripts repeat the failed tests after the guest's output: keep each line once.
    let mut failures: Vec<&str> = Vec::new();
    for l in text.lines() {
        if (l.starts_with("not ok ") || l.starts_with(tag)) && !failures.contains(&l) {
            failures.push(l);
        }
    }
    assert!(
        output.status.success(),
        "{} failed ({}, after {:.0?}):\n{}\n\n--- full output ---\n{text}",
        script.display(),
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
