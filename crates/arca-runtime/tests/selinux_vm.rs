//! SELinux for real: boots Debian's kernel under qemu (TCG) with SELinux enabled and Debian's
//! default policy loaded (permissive), and runs `scripts/vm/selinux-tests.sh` there with the
//! runtime under test (see `scripts/vm/run-selinux-tests.sh`): process.selinuxLabel entered by
//! a container's init and exec'd processes, an invalid label failing create without leftovers,
//! linux.mountLabel as the context= of the container's new filesystems (not of bind mounts).
//!
//! Builds nothing: the script packs the runtime binary into an initramfs. Its prerequisites
//! (qemu-system-x86, linux-image-amd64, busybox-static, cpio, jq, policycoreutils,
//! selinux-policy-default) are installed by scripts/test.sh; a missing one fails this test with
//! the script's message naming it. `ARCA_TEST_RUNTIME` points it at another runtime, as every
//! runtime test.
//!
//! Also, on the host: where SELinux is off, the labels are ignored and the container runs.

mod common;

use common::{Bundle, Runtime};
use serde_json::json;

#[test]
fn selinux_in_qemu() {
    common::vm::run_test_bed(
        "run-selinux-tests.sh",
        "run-selinux-tests",
        &common::runtime(),
    );
}

#[test]
fn labels_ignored_where_selinux_is_off() {
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        eprintln!("skipped: SELinux is enabled on this host");
        return;
    }
    let bundle = Bundle::busybox(&["cat", "/proc/self/mountinfo"]);
    bundle.edit(|c| {
        c["process"]["selinuxLabel"] = json!("system_u:system_r:svirt_t:s0");
        c["linux"]["mountLabel"] = json!("system_u:object_r:tmp_t:s0");
    });
    let out = Runtime::new().run_stdout(&bundle);
    assert!(out.contains(" /dev/shm "), "{out}");
    assert!(
        !out.contains("context="),
        "a label reached the kernel:\n{out}"
    );
}
