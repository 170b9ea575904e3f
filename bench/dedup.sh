#!/bin/bash
# bench/dedup.sh — storage used by four Debian-based images that share no layer, only identical
# files (each image is its own `debootstrap --variant=minbase` of bookworm, plus different
# packages, as one gzip layer): Podman's overlay store, containerd's content store + overlayfs
# snapshotter, the file-level dedup ideal (the four trees unpacked side by side, then every set
# of files equal in content, owner, mode, mtime and xattrs hardlinked by util-linux `hardlink`),
# and arca's store (`images/blobs/` compressed, `images/objects/` + `images/snapshots/` the
# unpacked file-level store). Each store is filled on a freshly made loop-mounted ext4 and
# measured with `du --block-size=1 -s` (allocated bytes; one du invocation per figure, so a
# hardlinked inode is counted once).
#
# Usage: bench/dedup.sh
# Knobs: OUT [/tmp/arca-bench/dedup-<timestamp>], ARCA [target/x86_64-unknown-linux-gnu/release/arca,
#   built first with `cargo build --release -p arca` unless ARCA is set or BUILD=0],
#   MIRROR [the bookworm URI in /etc/apt/sources.list{,.d/*}, else http://deb.debian.org/debian].
# Fixtures, built once and cached in /var/cache/arca/bench/dedup (the recipe version is in the
# file names; change VERSION when the recipe changes): <name>-<VERSION>.oci.tar, oci-archives
# of one gzip layer each; the .debs are kept in debs/ for rebuilds.
# Needs root, debootstrap, podman, containerd + ctr, util-linux (hardlink), e2fsprogs, python3.
# An arca without a file-level store (no images/objects/ after the pulls) gets a note, not a failure.
set -euo pipefail
unset RUST_BACKTRACE RUST_LIB_BACKTRACE RUST_LOG

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
OUT=${OUT:-/tmp/arca-bench/dedup-$(date +%Y%m%d-%H%M%S)}
cache=/var/cache/arca/bench/dedup
VERSION=v1
mkdir -p "$OUT" "$cache/debs"

# name → debootstrap --include (empty: minbase alone).
names=(minbase curl python3 perl)
declare -A include=([minbase]="" [curl]="curl,ca-certificates" [python3]="python3" [perl]="perl")

if [ -z "${MIRROR:-}" ]; then
	MIRROR=$( {
		grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
			sed 's/\[[^]]*\]//' | awk '$3 == "bookworm" {print $2}'
		# deb822 stanzas: the first URI of a "deb" stanza whose Suites include bookworm.
		cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk 'BEGIN {RS = ""}
			{ t = u = s = ""; n = split($0, l, "\n")
			  for (i = 1; i <= n; i++) {
				if (l[i] ~ /^Types:/) t = l[i]; if (l[i] ~ /^URIs:/) u = l[i]; if (l[i] ~ /^Suites:/) s = l[i] " " }
			  if (t ~ / deb( |$)/ && s ~ / bookworm /) { split(u, f, " "); print f[2] } }'
	} | head -n 1)
	MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi

# build_fixture NAME: debootstrap, strip the package caches (as Debian's images do), one layer tar
# (owners, modes, mtimes, xattrs kept), gzip, and an oci-archive around it.
build_fixture() {
	local name=$1 inc=${include[$1]} tmp=$cache/$1.tmp
	# A debootstrap killed midway may leave its /proc and /sys mounted in the tree.
	findmnt -rn -o TARGET | { grep "^$tmp/" || true; } | sort -r | xargs -r umount -l
	rm -rf "$tmp"
	mkdir -p "$tmp"
	echo "fixture $name: debootstrap --variant=minbase${inc:+ --include=$inc} bookworm $MIRROR" >&2
	debootstrap --variant=minbase ${inc:+--include="$inc"} --cache-dir="$cache/debs" \
		bookworm "$tmp/rootfs" "$MIRROR" >"$OUT/debootstrap-$name.log" 2>&1
	rm -rf "$tmp"/rootfs/var/cache/apt/archives/*.deb "$tmp"/rootfs/var/cache/apt/*.bin \
		"$tmp"/rootfs/var/lib/apt/lists/*
	tar -C "$tmp/rootfs" --numeric-owner --xattrs --xattrs-include='*' --sort=name --format=posix \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "$tmp/layer.tar" .
	rm -rf "$tmp/rootfs"
	local diff
	diff=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
	gzip -n <"$tmp/layer.tar" >"$tmp/layer.tar.gz"
	rm "$tmp/layer.tar"
	python3 - "$tmp/layer.tar.gz" "$diff" "localhost/arca-bench/dedup-$name:$VERSION" \
		"debootstrap --variant=minbase${inc:+ --include=$inc} bookworm" "$tmp/layout" <<'PY'
import hashlib, json, os, sys
gz, diff, ref, created_by, out = sys.argv[1:6]
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return "sha256:" + d, len(data)
h = hashlib.sha256()
with open(gz, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
ls = os.path.getsize(gz)
os.rename(gz, os.path.join(blobs, h.hexdigest()))
ld = "sha256:" + h.hexdigest()
created = "2026-01-01T00:00:00Z"
cd, cs = put(json.dumps({"created": created, "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["bash"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff]},
    "history": [{"created": created, "created_by": created_by}]}).encode())
md, ms = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}]}).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": md, "size": ms, "platform": {"architecture": "amd64", "os": "linux"},
    "annotations": {"org.opencontainers.image.ref.name": ref, "io.containerd.image.name": ref}}]},
    open(os.path.join(out, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))
PY
	tar -C "$tmp/layout" -cf "$tmp/image.tar" oci-layout index.json blobs
	mv "$tmp/image.tar" "$cache/$name-$VERSION.oci.tar"
	rm -rf "$tmp"
}
archives=()
start=$(date +%s)
for n in "${names[@]}"; do
	[ -s "$cache/$n-$VERSION.oci.tar" ] || build_fixture "$n"
	archives+=("$cache/$n-$VERSION.oci.tar")
done
echo "fixtures ready in $(($(date +%s) - start)) s" >&2

arca=${ARCA:-}
if [ -z "$arca" ]; then
	[ "${BUILD:-1}" = 0 ] || cargo build --release -q -p arca --manifest-path "$repo/Cargo.toml"
	arca=$repo/target/x86_64-unknown-linux-gnu/release/arca
fi

work=$(mktemp -d /tmp/arca-bench-dedup.XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt" "$work/tmp"
ctd_pid=
stop_containerd() {
	if [ -n "$ctd_pid" ]; then
		kill "$ctd_pid" 2>/dev/null || true
		wait "$ctd_pid" 2>/dev/null || true
		ctd_pid=
	fi
}
cleanup() {
	stop_containerd
	umount -R "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fresh_fs() {
	umount -R "$mnt" 2>/dev/null || true
	rm -f "$work/scratch.img"
	truncate -s 6G "$work/scratch.img"
	mkfs.ext4 -q -F "$work/scratch.img"
	mount -o loop "$work/scratch.img" "$mnt"
}
# bytes PATH...: allocated bytes of all PATHs together, one du invocation (hardlinks counted once).
bytes() { du --block-size=1 -s -c "$@" | tail -n 1 | cut -f1; }
inodes() { du --inodes -s -c "$@" | tail -n 1 | cut -f1; }
# layer_of ARCHIVE: the path of the (single) layer blob inside an oci-archive.
layer_of() {
	python3 - "$1" <<'PY'
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
blob = lambda d: json.load(t.extractfile("blobs/sha256/" + d.split(":")[1]))
m = blob(json.load(t.extractfile("index.json"))["manifests"][0]["digest"])
print("blobs/sha256/" + m["layers"][0]["digest"].split(":")[1])
PY
}
# Each row (tab-separated): label unpacked compressed total inodes (bytes; "-": not applicable,
# "none": no result; never empty, as read would merge empty fields).
rows=$OUT/rows.tsv
: >"$rows"
export TMPDIR=$work/tmp

# Without any dedup and the ideal: the four trees side by side, then hardlinked.
fresh_fs
t0=$(date +%s)
for i in "${!names[@]}"; do
	n=${names[$i]}
	mkdir -p "$mnt/ideal/$n"
	tar -xOf "${archives[$i]}" "$(layer_of "${archives[$i]}")" |
		tar -xz --numeric-owner --xattrs --xattrs-include='*' -C "$mnt/ideal/$n"
	echo "image $n: $(bytes "$mnt/ideal/$n") bytes, $(inodes "$mnt/ideal/$n") inodes unpacked;" \
		"layer $(tar -tvf "${archives[$i]}" "$(layer_of "${archives[$i]}")" | awk '{print $3}') bytes gzip" >>"$OUT/images.txt"
done
printf 'no dedup (4 trees)\t%s\t-\t%s\t%s\n' "$(bytes "$mnt/ideal")" "$(bytes "$mnt/ideal")" "$(inodes "$mnt/ideal")" >>"$rows"
# hardlink's defaults already require equal mode, owner and mtime (whole seconds); -X adds xattrs.
hardlink -X "$mnt/ideal" >"$OUT/hardlink.log" 2>&1
printf 'ideal (file-level dedup)\t%s\t-\t%s\t%s\n' "$(bytes "$mnt/ideal")" "$(bytes "$mnt/ideal")" "$(inodes "$mnt/ideal")" >>"$rows"
echo "ideal: $(($(date +%s) - t0)) s" >>"$OUT/times.txt"

# Podman: `podman load` unpacks every layer into its overlay storage (no compressed blobs kept).
if command -v podman >/dev/null; then
	fresh_fs
	t0=$(date +%s)
	pm() { podman --root "$mnt/podman" --runroot "$mnt/podman-run" --storage-driver overlay --events-backend none "$@"; }
	for a in "${archives[@]}"; do pm load -q -i "$a" >>"$OUT/podman.log" 2>&1; done
	pm images >>"$OUT/podman.log"
	(cd "$mnt/podman" && du --block-size=1 -s -- *) >"$OUT/podman-du.txt"
	printf 'podman\t%s\t-\t%s\t%s\n' "$(bytes "$mnt/podman")" "$(bytes "$mnt/podman")" "$(inodes "$mnt/podman")" >>"$rows"
	echo "podman: $(($(date +%s) - t0)) s" >>"$OUT/times.txt"
else
	printf 'podman\tnone\tnone\tnone\tnone\n' >>"$rows"
fi

# containerd: a private daemon; `ctr images import` stores the blobs in its content store and
# unpacks them into the overlayfs snapshotter.
if command -v containerd >/dev/null && command -v ctr >/dev/null; then
	fresh_fs
	t0=$(date +%s)
	croot=$mnt/containerd
	sock=$work/containerd.sock
	cat >"$work/containerd.toml" <<TOML
version = 2
root = "$croot"
state = "$work/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$work/containerd-opt"
TOML
	containerd --config "$work/containerd.toml" >"$OUT/containerd.log" 2>&1 &
	ctd_pid=$!
	for _ in $(seq 100); do ctr -a "$sock" version >/dev/null 2>&1 && break; sleep 0.1; done
	for a in "${archives[@]}"; do
		ctr -a "$sock" images import --all-platforms "$a" >>"$OUT/ctr.log" 2>&1
	done
	ctr -a "$sock" images ls >>"$OUT/ctr.log"
	if [ "$(ctr -a "$sock" snapshots ls | tail -n +2 | wc -l)" -lt "${#names[@]}" ]; then
		echo "import did not unpack; ctr images unpack" >>"$OUT/ctr.log"
		for n in "${names[@]}"; do
			ctr -a "$sock" images unpack "localhost/arca-bench/dedup-$n:$VERSION" >>"$OUT/ctr.log" 2>&1
		done
	fi
	ctr -a "$sock" snapshots ls >>"$OUT/ctr.log"
	stop_containerd
	(cd "$croot" && du --block-size=1 -s -- *) >"$OUT/containerd-du.txt"
	snaps=$croot/io.containerd.snapshotter.v1.overlayfs
	content=$croot/io.containerd.content.v1.content
	printf 'containerd\t%s\t%s\t%s\t%s\n' "$(bytes "$snaps")" "$(bytes "$content")" "$(bytes "$croot")" "$(inodes "$croot")" >>"$rows"
	echo "containerd: $(($(date +%s) - t0)) s" >>"$OUT/times.txt"
else
	printf 'containerd\tnone\tnone\tnone\tnone\n' >>"$rows"
fi

# arca: `arca pull oci-archive:` into a private --root.
notes=()
fresh_fs
t0=$(date +%s)
if [ ! -x "$arca" ]; then
	notes+=("arca: no binary at $arca")
	printf 'arca\tnone\tnone\tnone\tnone\n' >>"$rows"
elif ! (for a in "${archives[@]}"; do "$arca" --root "$mnt/arca" pull "oci-archive:$a" || exit 1; done) >>"$OUT/arca.log" 2>&1; then
	notes+=("arca: pull failed (see arca.log)")
	printf 'arca\tnone\tnone\tnone\tnone\n' >>"$rows"
else
	store=$mnt/arca/images
	( cd "$mnt/arca" && du --block-size=1 -d 2 . ) >"$OUT/arca-du.txt"
	if [ -d "$store/objects" ]; then
		unpacked=$(bytes "$store/objects" "$store/snapshots")
		ino=$(inodes "$store/objects" "$store/snapshots")
	else
		notes+=("arca: no file-level store yet")
		unpacked=none ino=none
	fi
	printf 'arca\t%s\t%s\t%s\t%s\n' "$unpacked" "$(bytes "$store/blobs")" "$(bytes "$mnt/arca")" "$ino" >>"$rows"
fi
echo "arca: $(($(date +%s) - t0)) s" >>"$OUT/times.txt"

{
	echo "# storage of four Debian bookworm images that share no layer (one debootstrap each), fresh ext4 each"
	echo
	for n in "${names[@]}"; do
		echo "* $n: minbase${include[$n]:+ + ${include[$n]//,/ }}"
	done
	echo
	sed 's/^/    /' "$OUT/images.txt"
	echo
	echo "MB = 10^6 bytes allocated (du --block-size=1 -s); unpacked = the unpacked trees (podman: its whole --root;"
	echo "containerd: the overlayfs snapshotter; arca: images/objects + images/snapshots), compressed = gzip blobs"
	echo "kept (containerd's content store, arca's images/blobs), total = the whole root."
	echo
	echo "| store | unpacked MB | compressed MB | total MB | unpacked / ideal | inodes |"
	echo "|---|---|---|---|---|---|"
	ideal=$(awk -F'\t' '$1 ~ /^ideal/ {print $2}' "$rows")
	mb() { case $1 in -) echo "—" ;; none) echo "n/a" ;; *) awk -v b="$1" 'BEGIN {printf "%.1f", b / 1e6}' ;; esac; }
	while IFS=$'\t' read -r label u c t i; do
		ratio=n/a
		[ "$u" = none ] || ratio=$(awk -v a="$u" -v b="$ideal" 'BEGIN {printf "%.2f×", a / b}')
		echo "| $label | $(mb "$u") | $(mb "$c") | $(mb "$t") | $ratio | ${i/none/n/a} |"
	done <"$rows"
	if [ ${#notes[@]} -gt 0 ]; then
		echo
		printf '%s\n' "${notes[@]}"
	fi
} | tee "$OUT/summary.md"
