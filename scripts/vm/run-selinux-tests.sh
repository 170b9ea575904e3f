#!/usr/bin/env bash
# Runs arca-runtime's SELinux tests for real, in a qemu guest booted with SELinux and Debian's
# default policy loaded.
#
# Usage: scripts/vm/run-selinux-tests.sh [ARCA_BINARY]
#
# ARCA_BINARY defaults to target/x86_64-unknown-linux-gnu/debug/arca-runtime. The initramfs is the
# one run-v2-tests.sh boots (lib.sh's vm_busybox_root: busybox-static, the runtime, jq, a busybox
# OCI bundle, scripts/vm/guest-init.sh + guest-lib.sh) plus load_policy (policycoreutils) with
# its shared libraries, the host's /etc/selinux/config and /etc/selinux/default/ (the policy and
# contexts of selinux-policy-default) and scripts/vm/selinux-tests.sh. Debian's kernel
# (/boot/vmlinuz-*, SELinux built in) boots it under `qemu-system-x86_64 -accel tcg` with
# `security=selinux enforcing=0 arca_tests=selinux`: the guest's /init mounts cgroup2 as for the
# v2 tests, mounts selinuxfs at /sys/fs/selinux and runs load_policy (the policy is permissive:
# denials are logged, not enforced, so the tests check what the runtime sets, not what the
# policy allows), then runs the tests, which print
#   ok <name>
#   not ok <name> <reason>
#   N passed, M failed
# on the serial console, then powers off. The guest's output is streamed to stdout. The tests
# check process.selinuxLabel on a container's init and exec'd processes (read back from
# /proc/<pid>/attr/current), that an invalid label fails create cleanly, and linux.mountLabel
# as the context= of the container's new filesystems (read back from /proc/self/mountinfo).
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

log() { printf 'run-selinux-tests: %s\n' "$*" >&2; }
# shellcheck source=scripts/vm/lib.sh
. "$here/lib.sh"
die() { # message [exit status, default 2]
	printf 'run-selinux-tests: error: %s\n' "$1" >&2
	exit "${2:-2}"
}

arca=${1:-$repo/target/x86_64-unknown-linux-gnu/debug/arca-runtime}
[ $# -le 1 ] || die "usage: $0 [ARCA_BINARY]"
[ -f "$arca" ] && [ -x "$arca" ] || die "arca-runtime binary not found or not executable: $arca (cargo build first)"

# --- prerequisites -----------------------------------------------------------------------------
missing=()
vm_busybox_prereqs
load_policy=$(command -v load_policy || echo /usr/sbin/load_policy)
[ -x "$load_policy" ] || missing+=("load_policy (apt package policycoreutils)")
selinux_type=$(sed -n 's/^SELINUXTYPE=//p' /etc/selinux/config 2>/dev/null || true)
if [ -z "$selinux_type" ] || ! ls /etc/selinux/"$selinux_type"/policy/policy.* >/dev/null 2>&1; then
	missing+=("a SELinux policy in /etc/selinux (apt package selinux-policy-default)")
fi
vm_require run-selinux-tests

# --- initramfs ---------------------------------------------------------------------------------
vm_workdir
vm_busybox_root "$arca"
vm_copy_with_libs "$load_policy" "$root/sbin/load_policy"
mkdir -p "$root/etc/selinux"
cp /etc/selinux/config "$root/etc/selinux/config"
cp -a "/etc/selinux/$selinux_type" "$root/etc/selinux/"
cp "$here/selinux-tests.sh" "$root/tests/selinux-tests.sh"
chmod 0755 "$root/tests/selinux-tests.sh"

initrd=$work/initrd.cpio
vm_cpio "$root" "$initrd"
log "initramfs $(du -h "$initrd" | cut -f1), kernel $kernel, policy $selinux_type, $(qemu-system-x86_64 --version | head -n 1)"

# --- boot ------------------------------------------------------------------------------------
out=$work/guest.log
vm_boot "$kernel" "$initrd" 1024 \
	"console=ttyS0 quiet panic=-1 cgroup_no_v1=all security=selinux selinux=1 enforcing=0 arca_tests=selinux" "$out"
echo "----"
echo "run-selinux-tests: guest ran ${VM_ELAPSED}s (qemu exit $VM_QEMU_RC); kernel $kver; $(qemu-system-x86_64 --version | head -n 1)"
vm_verdict "$out" run-selinux-tests
