#!/usr/bin/env bash
# Runs arca-runtime's cgroup v2 tests for real, in a qemu guest with a pure cgroup v2 hierarchy.
#
# Usage: scripts/vm/run-v2-tests.sh [ARCA_BINARY]
#
# ARCA_BINARY defaults to target/x86_64-unknown-linux-gnu/debug/arca-runtime. It is copied into an
# initramfs (stripped when `strip` exists) with its shared libraries, if any, together with
# Debian's busybox-static, a busybox OCI bundle (scripts/busybox-bundle.sh), jq, apparmor_parser
# (with scripts/vm/arca-test-deny.profile) and scripts/vm/guest-init.sh + guest-lib.sh +
# v2-tests.sh (lib.sh builds the initramfs, as for run-selinux-tests.sh). Debian's kernel
# (/boot/vmlinuz-*, from linux-image-amd64) boots it under `qemu-system-x86_64 -accel tcg`; the
# guest mounts cgroup2 at /sys/fs/cgroup (nsdelegate, no v1), enables every controller and runs
# the tests, which print
#   ok <name>
#   not ok <name> <reason>
#   N passed, M failed
# on the serial console, then powers off. The guest's output is streamed to stdout.
# The kernel boots with AppArmor enabled (apparmor=1 security=apparmor): the guest loads the test
# profile and checks process.apparmorProfile confines a container's init and exec'd processes.
# Debian's kernel has all the guest needs built in (cgroup2 and every controller, tmpfs,
# devtmpfs, namespaces, the 8250 serial console): no module goes into the initramfs.
#
# Installs nothing: a missing prerequisite is named (with its apt package) and fails the run.
# Exit status: 0 when every test passed; 1 on a failed test, a guest that did not finish or a
# timeout; 2 on a missing prerequisite or a bad argument.
#
# Environment:
#   ARCA_VM_KERNEL   kernel image (default: the newest /boot/vmlinuz-*)
#   ARCA_VM_TIMEOUT  seconds before qemu is killed (default 180)
#   ARCA_VM_KEEP     1: keep the work dir (initramfs, log) and print its path
#   ARCA_VM_ACCEL    qemu accelerator (default tcg; KVM hangs qemu on the CI machines)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

log() { printf 'run-v2-tests: %s\n' "$*" >&2; }
# shellcheck source=scripts/vm/lib.sh
. "$here/lib.sh"
die() { # message [exit status, default 2]
	printf 'run-v2-tests: error: %s\n' "$1" >&2
	exit "${2:-2}"
}

arca=${1:-$repo/target/x86_64-unknown-linux-gnu/debug/arca-runtime}
[ $# -le 1 ] || die "usage: $0 [ARCA_BINARY]"
[ -f "$arca" ] && [ -x "$arca" ] || die "arca-runtime binary not found or not executable: $arca (cargo build first)"

# --- prerequisites -----------------------------------------------------------------------------
missing=()
vm_busybox_prereqs
vm_need_cmd apparmor_parser apparmor
vm_require run-v2-tests

# --- initramfs ---------------------------------------------------------------------------------
vm_workdir
vm_busybox_root "$arca"
vm_copy_with_libs "$(command -v apparmor_parser)" "$root/sbin/apparmor_parser"
cp "$here/v2-tests.sh" "$root/tests/v2-tests.sh"
cp "$here/arca-test-deny.profile" "$root/tests/arca-test-deny.profile"
chmod 0755 "$root/tests/v2-tests.sh"

initrd=$work/initrd.cpio
vm_cpio "$root" "$initrd"
log "initramfs $(du -h "$initrd" | cut -f1), kernel $kernel, $(qemu-system-x86_64 --version | head -n 1)"

# --- boot ------------------------------------------------------------------------------------
out=$work/guest.log
vm_boot "$kernel" "$initrd" 1024 \
	"console=ttyS0 quiet panic=-1 cgroup_no_v1=all apparmor=1 security=apparmor" "$out"
echo "----"
echo "run-v2-tests: guest ran ${VM_ELAPSED}s (qemu exit $VM_QEMU_RC); kernel $kver; $(qemu-system-x86_64 --version | head -n 1)"
vm_verdict "$out" run-v2-tests
