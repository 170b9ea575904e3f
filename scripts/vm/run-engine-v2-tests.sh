#!/usr/bin/env bash
# Runs the engine's (`arca run`, `stop`, `stats`, `pause`, ...) tests on a pure cgroup v2
# hierarchy, in the qemu guest run-v2-tests.sh boots. Most production hosts are pure v2; the
# machines that build arca may be hybrid, so this is where the engine meets v2 for real.
#
# Usage: scripts/vm/run-engine-v2-tests.sh [ARCA_BINARY]
#
# ARCA_BINARY (the engine CLI, `arca`) defaults to target/x86_64-unknown-linux-gnu/debug/arca.
# It is static like arca-runtime (.cargo/config.toml), and runs containers in-process, so no
# runtime binary goes into the guest. The initramfs is the one run-v2-tests.sh boots (lib.sh's
# vm_busybox_root: busybox-static, the binary, jq, scripts/vm/guest-init.sh + guest-lib.sh),
# with `arca` at /usr/local/bin/arca instead of arca-runtime, plus:
#   /images/busybox.tar   the busybox image archive of scripts/busybox-image.sh, for `arca load`
#   /modules/overlay.ko   the kernel's overlayfs module, when it has one (Debian builds overlayfs
#                         as a module): the guest loads it so the engine uses its default
#                         overlay snapshots, as on a production host; without it the store falls
#                         back to copy snapshots and the tests still run
#   /tests/engine-v2-tests.sh
# The guest boots with arca_tests=engine-v2 (guest-init.sh runs the tests, which print `ok`,
# `not ok`, `N passed, M failed`) and powers off. The guest's output is streamed to stdout.
#
# Every container runs with `--network none`: the CNI plugins and iptables that `bridge` needs
# are not in the initramfs (networking is tested on the host, in crates/arca/tests/network.rs).
#
# Installs nothing: a missing prerequisite is named (with its apt package) and fails the run.
# Exit status: 0 when every test passed; 1 on a failed test, a guest that did not finish or a
# timeout; 2 on a missing prerequisite or a bad argument.
#
# Environment: ARCA_VM_KERNEL, ARCA_VM_KEEP, ARCA_VM_ACCEL as for run-v2-tests.sh;
# ARCA_VM_TIMEOUT (default 300: a debug build of the engine under TCG is slower than the
# runtime's tests).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

log() { printf 'run-engine-v2-tests: %s\n' "$*" >&2; }
# shellcheck source=scripts/vm/lib.sh
. "$here/lib.sh"
die() { # message [exit status, default 2]
	printf 'run-engine-v2-tests: error: %s\n' "$1" >&2
	exit "${2:-2}"
}

arca=${1:-$repo/target/x86_64-unknown-linux-gnu/debug/arca}
[ $# -le 1 ] || die "usage: $0 [ARCA_BINARY]"
if ! [ -f "$arca" ] || ! [ -x "$arca" ]; then
	die "arca binary not found or not executable: $arca (cargo build -p arca first)"
fi
ARCA_VM_TIMEOUT=${ARCA_VM_TIMEOUT:-300}

# --- prerequisites -----------------------------------------------------------------------------
missing=()
vm_busybox_prereqs
for c in tar sha256sum; do
	vm_need_cmd "$c" coreutils
done
vm_require run-engine-v2-tests

# --- initramfs ---------------------------------------------------------------------------------
vm_workdir
vm_busybox_root "$arca" arca
mkdir -p "$root/images" "$root/modules"
BUSYBOX=$busybox "$repo/scripts/busybox-image.sh" "$work/image" >/dev/null
cp "$work/image/image.tar" "$root/images/busybox.tar"
overlay_ko=/lib/modules/$kver/kernel/fs/overlayfs/overlay.ko
if [ -f "$overlay_ko" ]; then
	cp "$overlay_ko" "$root/modules/overlay.ko"
else
	log "no $overlay_ko: the guest's store uses copy snapshots"
fi
cp "$here/engine-v2-tests.sh" "$root/tests/engine-v2-tests.sh"
chmod 0755 "$root/tests/engine-v2-tests.sh"

initrd=$work/initrd.cpio
vm_cpio "$root" "$initrd"
log "initramfs $(du -h "$initrd" | cut -f1), kernel $kernel, $(qemu-system-x86_64 --version | head -n 1)"

# --- boot ------------------------------------------------------------------------------------
out=$work/guest.log
vm_boot "$kernel" "$initrd" 1024 \
	"console=ttyS0 quiet panic=-1 cgroup_no_v1=all arca_tests=engine-v2" "$out"
echo "----"
echo "run-engine-v2-tests: guest ran ${VM_ELAPSED}s (qemu exit $VM_QEMU_RC); kernel $kver; $(qemu-system-x86_64 --version | head -n 1)"
vm_verdict "$out" run-engine-v2-tests
