#!/bin/bash
# bench/unpack.sh — unpacking a real layer: arca_image::unpack (the `unpack` example of
# crates/arca-image) against `tar -xzf` of the same gzip layer, each onto a freshly made ext4 scratch filesystem (a loop-mounted
# image, so ext4's slow re-creation of a just-deleted tree does not skew later runs).
#
# Usage: bench/unpack.sh [LAYER.tar.gz]
#   Without a layer, a Debian bookworm minbase (debootstrap, cached in /var/cache/arca/bench)
#   is tarred and gzipped into one layer, as a debian image's single layer is.
# Knobs: RUNS [5], OUT [/tmp/arca-bench/unpack-<timestamp>].
# Needs root, debootstrap (for the default layer), e2fsprogs and bc. Not hyperfine: the scratch
# filesystem is re-made between runs, so each run is timed on its own (wall clock, with sync).
set -euo pipefail
unset RUST_BACKTRACE RUST_LIB_BACKTRACE RUST_LOG

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
RUNS=${RUNS:-5}
OUT=${OUT:-/tmp/arca-bench/unpack-$(date +%Y%m%d-%H%M%S)}
cache=/var/cache/arca/bench
mkdir -p "$OUT" "$cache"

layer=${1:-}
if [ -z "$layer" ]; then
	layer=$cache/bookworm-minbase-v2.tar.gz
	if [ ! -s "$layer" ]; then
		rm -rf "$cache/minbase.tmp"
		debootstrap --variant=minbase bookworm "$cache/minbase.tmp" http://deb.debian.org/debian >"$OUT/debootstrap.log" 2>&1
		# As Debian's image is built: no package caches.
		rm -rf "$cache"/minbase.tmp/var/cache/apt/archives/*.deb "$cache"/minbase.tmp/var/lib/apt/lists/*
		tar -C "$cache/minbase.tmp" --numeric-owner --xattrs -czf "$layer.tmp" .
		mv "$layer.tmp" "$layer"
		rm -rf "$cache/minbase.tmp"
	fi
fi

cargo build --release -q -p arca-image --example unpack --manifest-path "$repo/Cargo.toml"
arca=$( (ls -t "$repo"/target/*/release/examples/unpack "$repo"/target/release/examples/unpack 2>/dev/null || true) | head -n 1)

work=$(mktemp -d /tmp/arca-bench-unpack.XXXXXX)
img=$work/scratch.img
mnt=$work/mnt
mkdir -p "$mnt"
cleanup() {
	umount "$mnt" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fresh_fs() {
	umount "$mnt" 2>/dev/null || true
	rm -f "$img"
	truncate -s 2G "$img"
	mkfs.ext4 -q -F "$img"
	mount -o loop "$img" "$mnt"
	mkdir "$mnt/dest"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	cat "$layer" >/dev/null # the layer itself stays cached: we time unpacking, not reading it
}
# time_one LABEL CMD...: wall seconds of CMD on a fresh filesystem, appended to OUT/LABEL.
time_one() {
	local label=$1
	shift
	fresh_fs
	local start end
	start=$(date +%s.%N)
	"$@" >/dev/null
	sync -f "$mnt"
	end=$(date +%s.%N)
	echo "$end - $start" | bc >>"$OUT/$label"
}
entries=$(tar -tzf "$layer" | wc -l)
for i in $(seq "$RUNS"); do
	time_one tar tar --numeric-owner --xattrs --xattrs-include='*' -xzf "$layer" -C "$mnt/dest"
	time_one arca "$arca" "$layer" "$mnt/dest"
done
{
	echo "# unpack of one gzip layer ($(du -h "$layer" | cut -f1), $entries entries), $RUNS runs, fresh ext4 each, including sync"
	echo
	echo "| unpacker | median s | min s | vs tar -xzf |"
	echo "|---|---|---|---|"
	tar_med=$(sort -n "$OUT/tar" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	for l in tar arca; do
		med=$(sort -n "$OUT/$l" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
		min=$(sort -n "$OUT/$l" | head -n 1)
		printf '| %s | %.2f | %.2f | %.2f× |\n' "$( [ $l = tar ] && echo 'tar -xzf (GNU tar + gzip)' || echo 'arca_image::unpack (zlib-rs)')" "$med" "$min" "$(echo "$med / $tar_med" | bc -l)"
	done
} | tee "$OUT/summary.md"
