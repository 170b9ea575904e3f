//! The engine on pure cgroup v2 for real: boots Debian's kernel under qemu (TCG) with only the
//! cgroup2 hierarchy and runs `scripts/vm/engine-v2-tests.sh` there with this `arca` binary and
//! the busybox image (see `scripts/vm/run-engine-v2-tests.sh`): `run --rm` in `/arca/<id>` and
//! gone after, `-m`/`--cpus`/`--pids-limit` in the v2 files and seen inside, `stats` from v2,
//! `pause`/`unpause` through `cgroup.freeze`, `stop`'s recorded exit code, `rm -f`, `--init`, an
//! OOM kill by the container's memory cgroup, ten parallel runs removed without leftovers. The
//! host the tests usually run on is hybrid (v1 controllers), where none of this touches v2.
//!
//! Builds nothing: the script packs the binary into an initramfs. Its prerequisites
//! (qemu-system-x86, linux-image-amd64, busybox-static, cpio, jq) are installed by
//! scripts/test.sh; a missing one fails this test with the script's message naming it.

#[path = "../../arca-runtime/tests/common/vm.rs"]
mod vm;

#[test]
fn engine_on_cgroup_v2_in_qemu() {
    vm::run_test_bed(
        "run-engine-v2-tests.sh",
        "run-engine-v2-tests",
        std::path::Path::new(env!("CARGO_BIN_EXE_arca")),
    );
}
