# Shared by the qemu test beds (run-v2-tests.sh, run-selinux-tests.sh, run-systemd-tests.sh):
# checking prerequisites, building the busybox initramfs, copying binaries into it, booting it,
# and judging the guest's output. Sourced; expects `log` and `die` from the caller, and `$root`
# (the initramfs tree) for vm_copy_with_libs.

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

# vm_need_cmd COMMAND APT-PACKAGE: records COMMAND in the `missing` array when it is not found.
vm_need_cmd() {
	command -v "$1" >/dev/null 2>&1 || missing+=("$1 (apt package $2)")
}

# vm_busybox_prereqs: records in `missing` what every busybox initramfs bed needs (qemu, cpio,
# jq, timeout, a static busybox, a readable kernel); sets `busybox`, `kernel` and `kver`.
vm_busybox_prereqs() {
	vm_need_cmd qemu-system-x86_64 qemu-system-x86
	vm_need_cmd cpio cpio
	vm_need_cmd jq jq
	vm_need_cmd timeout coreutils
	busybox=${BUSYBOX:-/bin/busybox}
	if [ ! -x "$busybox" ]; then
		missing+=("$busybox (apt package busybox-static)")
	elif ! "$busybox" --list >/dev/null 2>&1 ||
		{ command -v ldd >/dev/null 2>&1 && ldd "$busybox" >/dev/null 2>&1; }; then
		# ldd succeeds only on dynamic executables.
		missing+=("a static $busybox (apt package busybox-static, not busybox)")
	fi
	kernel=$(vm_kernel)
	if [ -z "$kernel" ] || [ ! -f "$kernel" ]; then
		missing+=("a kernel image /boot/vmlinuz-* (apt package linux-image-amd64)")
	elif [ ! -r "$kernel" ]; then
		missing+=("read access to $kernel (run as root)")
	fi
	kver=$(basename "$kernel")
	kver=${kver#vmlinuz-}
}

# vm_require TAG: fails (status 2) naming everything in `missing`, if anything.
vm_require() {
	[ ${#missing[@]} -gt 0 ] || return 0
	local m
	for m in "${missing[@]}"; do
		printf '%s: missing prerequisite: %s\n' "$1" "$m" >&2
	done
	die "install the missing prerequisites (scripts/test.sh installs them)"
}

# vm_workdir: creates `work`, removed on exit unless ARCA_VM_KEEP=1 (then its path is logged).
vm_workdir() {
	work=$(mktemp -d "${TMPDIR:-/tmp}/arca-vm.XXXXXX")
	trap vm_cleanup EXIT
}
vm_cleanup() {
	if [ "${ARCA_VM_KEEP:-0}" = 1 ]; then
		log "kept $work"
	else
		rm -rf "$work"
	fi
}

# vm_busybox_root BINARY [NAME]: fills `root` ($work/root) with what every busybox bed's guest
# uses: busybox and its applets, the binary under test (stripped when `strip` exists) at
# /usr/local/bin/NAME (default arca-runtime; the engine's bed installs `arca`), jq, a busybox OCI
# bundle at /bundle (scripts/busybox-bundle.sh), scripts/vm/guest-init.sh as /init and
# scripts/vm/guest-lib.sh in /tests. The caller adds its test script to /tests.
vm_busybox_root() {
	local vm_dir repo applet name=${2:-arca-runtime}
	vm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	repo=$(cd "$vm_dir/../.." && pwd)
	root=$work/root
	mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,run,tmp,mnt,usr/bin,usr/local/bin,tests,newroot}
	chmod 1777 "$root/tmp"
	cp "$busybox" "$root/bin/busybox"
	chmod 0755 "$root/bin/busybox"
	for applet in $("$busybox" --list); do
		[ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
	done
	vm_copy_with_libs "$1" "$root/usr/local/bin/$name"
	if command -v strip >/dev/null 2>&1; then
		# A debug build is ~100 MB, mostly debug info; stripped it is a few MB.
		strip "$root/usr/local/bin/$name" 2>/dev/null || true
	fi
	vm_copy_with_libs "$(command -v jq)" "$root/usr/bin/jq"
	BUSYBOX=$busybox "$repo/scripts/busybox-bundle.sh" "$root/bundle" sh >/dev/null
	cp "$vm_dir/guest-init.sh" "$root/init"
	cp "$vm_dir/guest-lib.sh" "$root/tests/guest-lib.sh"
	chmod 0755 "$root/init"
}
