#!/usr/bin/env bash
# Runs the systemd cgroup driver's tests (`--systemd-cgroup`) with systemd as pid 1, in a qemu
# guest, once on a unified (cgroup v2) and once on a legacy (v1) hierarchy.
#
# Usage: scripts/vm/run-systemd-tests.sh [ARCA_BINARY]
#
# ARCA_BINARY defaults to target/x86_64-unknown-linux-gnu/debug/arca-runtime. The guest's root
# is a minimal Debian with systemd (scripts/vm/systemd-rootfs.sh, built once and cached),
# extended by a second initramfs archive holding the runtime, a busybox bundle and the tests
# (scripts/vm/systemd-tests.sh, started by arca-tests.service). Debian's kernel boots it under
# `qemu-system-x86_64 -accel tcg`; the guest prints `ok`/`not ok` lines and `N passed, M
# failed` on the serial console and powers off.
#
# Exit status: 0 when every test passed on both layouts; 1 on a failure or timeout; 2 on a
# missing prerequisite. Environment: ARCA_VM_KERNEL, ARCA_VM_TIMEOUT (per boot, default 240),
# ARCA_VM_KEEP, ARCA_VM_ACCEL as for run-v2-tests.sh; ARCA_VM_LAYOUTS (default
# "unified legacy").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
log() { printf 'run-systemd-tests: %s\n' "$*" >&2; }
die() {
	printf 'run-systemd-tests: error: %s\n' "$1" >&2
	exit "${2:-2}"
}
# shellcheck source=scripts/vm/lib.sh
. "$here/lib.sh"

arca=${1:-$repo/target/x86_64-unknown-linux-gnu/debug/arca-runtime}
[ -x "$arca" ] || die "arca-runtime binary not found or not executable: $arca (cargo build first)"
for c in qemu-system-x86_64 cpio debootstrap timeout; do
	command -v $c >/dev/null 2>&1 || die "$c is missing (scripts/test.sh installs it)"
done
kernel=$(vm_kernel)
[ -n "$kernel" ] && [ -r "$kernel" ] || die "no readable kernel image /boot/vmlinuz-* (apt package linux-image-amd64)"

base=$("$here/systemd-rootfs.sh")

work=$(mktemp -d "${TMPDIR:-/tmp}/arca-systemd-vm.XXXXXX")
cleanup() {
	if [ "${ARCA_VM_KEEP:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
root=$work/overlay
mkdir -p "$root"/{usr/local/bin,arca,etc/systemd/system/multi-user.target.wants}
vm_copy_with_libs "$arca" "$root/usr/local/bin/arca-runtime"
strip "$root/usr/local/bin/arca-runtime" 2>/dev/null || true
"$repo/scripts/busybox-bundle.sh" "$root/bundle" sh >/dev/null
install -m 0755 "$here/systemd-tests.sh" "$root/arca/systemd-tests.sh"
cat >"$root/etc/systemd/system/arca-tests.service" <<'UNIT'
[Unit]
Description=arca systemd cgroup driver tests
After=basic.target

[Service]
Type=oneshot
ExecStart=/arca/systemd-tests.sh
UNIT
ln -s ../arca-tests.service "$root/etc/systemd/system/multi-user.target.wants/arca-tests.service"
# The kernel unpacks concatenated archives in order: the overlay's files land on the base.
vm_cpio "$root" "$work/overlay.cpio"
cat "$base" "$work/overlay.cpio" >"$work/initrd.cpio"

export ARCA_VM_TIMEOUT=${ARCA_VM_TIMEOUT:-240}
status=0
for layout in ${ARCA_VM_LAYOUTS:-unified legacy}; do
	case $layout in
	unified) hierarchy=1 ;;
	legacy) hierarchy=0 ;;
	*) die "unknown layout $layout (unified or legacy)" ;;
	esac
	log "booting with systemd, cgroups $layout"
	out=$work/guest-$layout.log
	vm_boot "$kernel" "$work/initrd.cpio" 2048 \
		"console=ttyS0 quiet panic=-1 systemd.unified_cgroup_hierarchy=$hierarchy systemd.show_status=0 systemd.log_level=warning" \
		"$out"
	echo "----"
	echo "run-systemd-tests ($layout): guest ran ${VM_ELAPSED}s (qemu exit $VM_QEMU_RC)"
	vm_verdict "$out" "run-systemd-tests ($layout)" || status=1
done
exit $status
