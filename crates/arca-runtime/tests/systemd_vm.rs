//! The systemd cgroup driver (`--systemd-cgroup`) with systemd as pid 1: boots Debian's kernel
//! under qemu (TCG) into a minimal Debian with systemd, once with a unified (v2) and once with
//! a legacy (v1) hierarchy, and runs `scripts/vm/systemd-tests.sh` there (see
//! `scripts/vm/run-systemd-tests.sh`): the transient scope, its slice and properties, limits
//! surviving `daemon-reload` (also after `update`), kubepods-style nested slices, cleanup after
//! delete, a foreground run and a SIGKILLed runtime, the v1 controllers systemd leaves alone.
//!
//! The guest's root is built once with debootstrap from the Debian mirror and cached
//! (scripts/vm/systemd-rootfs.sh). Prerequisites are installed by scripts/test.sh.

mod common;

#[test]
fn systemd_driver_in_qemu() {
    common::vm::run_test_bed(
        "run-systemd-tests.sh",
        "run-systemd-tests",
        &common::runtime(),
    );
}
