//! cgroup v2 for real: boots Debian's kernel under qemu (TCG) with a pure cgroup v2 hierarchy and
//! runs `scripts/vm/v2-tests.sh` there with the runtime under test (see
//! `scripts/vm/run-v2-tests.sh`): placement, resources written and enforced (OOM kill, pids
//! limit, live update), events and stats, /sys/fs/cgroup inside containers, cleanup by
//! kill --all / delete --force, exec, AppArmor, the eBPF device program.
//!
//! Builds nothing: the script packs the runtime binary into an initramfs. Its prerequisites
//! (qemu-system-x86, linux-image-amd64, busybox-static, cpio, jq, apparmor) are installed by
//! scripts/test.sh; a missing one fails this test with the script's message naming it.
//! `ARCA_TEST_RUNTIME` points it at another runtime, as every runtime test.

mod common;

#[test]
fn cgroup_v2_in_qemu() {
    common::vm::run_test_bed("run-v2-tests.sh", "run-v2-tests", &common::runtime());
}
