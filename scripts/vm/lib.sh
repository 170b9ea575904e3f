# Shared by the qemu test beds (run-v2-tests.sh, run-systemd-tests.sh): copying binaries into an
# initramfs, booting it, and judging the guest's output. Sourced; expects `log` and `die` from
# the caller, and `$root` (the initramfs tree) for vm_copy_with_libs.

# vm_copy_with_libs SRC DEST: copies a binary and, when it is dynamically linked, every library
# ldd names (and the loader) to the same paths under $root.
vm_copy_with_libs() {
	cp -L "$1" "$2"
	chmod 0755 "$2"
	command -v ldd >/dev/null 2>&1 || return 0
	local libs lib
	libs=$(ldd "$1" 2>/dev/null | awk '/=> \// { print $3 } /^[ \t]*\// { print $1 }') || return 0
	for lib in $libs; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

# vm_cpio DIR OUT: packs DIR as a newc cpio archive owned by root, in a stable order.
vm_cpio() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 >"$2")
}

# vm_boot KERNEL INITRD MEM_MB APPEND LOG: boots under qemu (TCG unless ARCA_VM_ACCEL says
# otherwise), streams the serial console to stdout and LOG, kills it after ARCA_VM_TIMEOUT
# seconds (default 180). Sets VM_QEMU_RC and VM_ELAPSED.
vm_boot() {
	local timeout_s=${ARCA_VM_TIMEOUT:-180} start rcs
	start=$(date +%s)
	set +e
	timeout --foreground -k 5 "$timeout_s" \
		qemu-system-x86_64 -accel "${ARCA_VM_ACCEL:-tcg}" -m "$3" -smp 2 \
		-nographic -no-reboot -monitor none -serial stdio -nodefaults -vga none \
		-kernel "$1" -initrd "$2" -append "$4" \
		</dev/null 2>&1 | tr -d '\r' | tee "$5"
	rcs=("${PIPESTATUS[@]}")
	set -e
	VM_ELAPSED=$(($(date +%s) - start))
	VM_QEMU_RC=${rcs[0]}
	if [ "$VM_QEMU_RC" = 124 ] || [ "$VM_QEMU_RC" = 137 ]; then
		die "timed out after ${timeout_s}s (guest output above)" 1
	fi
}

# vm_verdict LOG NAME: the guest prints `ok NAME`, `not ok NAME REASON` and a final
# `N passed, M failed`. Returns 0 when that line exists, nothing failed and every test said ok.
vm_verdict() {
	local out=$1 name=$2 ok failed summary passed nfailed
	ok=$(grep -c '^ok ' "$out" || true)
	failed=$(grep '^not ok ' "$out" || true)
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1 || true)
	if [ -z "$summary" ]; then
		echo "$name: the guest did not finish its tests (no 'N passed, M failed' line; qemu exit $VM_QEMU_RC)" >&2
		return 1
	fi
	passed=${summary%% passed*}
	nfailed=${summary#*passed, }
	nfailed=${nfailed%% failed}
	if [ -n "$failed" ]; then
		echo "$name: failed tests:"
		printf '%s\n' "$failed"
	fi
	echo "$name: $summary"
	[ "$nfailed" = 0 ] && [ -z "$failed" ] && [ "$passed" != 0 ] && [ "$passed" = "$ok" ]
}

# vm_kernel: the kernel image to boot (ARCA_VM_KERNEL, else the newest /boot/vmlinuz-*), or
# nothing.
vm_kernel() {
	if [ -n "${ARCA_VM_KERNEL:-}" ]; then
		echo "$ARCA_VM_KERNEL"
	else
		ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true
	fi
}
