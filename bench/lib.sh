# bench/lib.sh — what the engine benches share (sourced).
#
# crun <= 1.8 refuses a hybrid hierarchy with controllers on cgroup2, so the benches that run
# it hide /sys/fs/cgroup/unified in a private mount namespace; what crun then leaves there (a
# directory per container on the tmpfs underneath) is removed by cgroup_tmpfs_clean.

# Remembers what the hidden cgroup2 mount point holds before the bench.
cgroup_tmpfs_mark() {
	unified_before=$(mktemp)
	ls -A /sys/fs/cgroup/unified >"$unified_before" 2>/dev/null || true
}

# Removes what appeared there since cgroup_tmpfs_mark.
cgroup_tmpfs_clean() {
	if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = tmpfs ]; then
		ls -A /sys/fs/cgroup/unified | grep -vxFf "$unified_before" | while IFS= read -r e; do
			[ -n "$e" ] && rm -rf --one-file-system "/sys/fs/cgroup/unified/$e"
		done || true
	fi
	rm -f "$unified_before"
}

# Unmounts every mount under $1 (a bench's scratch directory), deepest first.
unmount_under() {
	grep " $1" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n 1 umount -l 2>/dev/null || true
}
