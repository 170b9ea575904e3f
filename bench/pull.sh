#!/bin/bash
# bench/pull.sh — pull and unpack one image from a loopback registry, side by side:
# `arca pull` (download, verify, decompress and unpack overlapped, into the blob store and the
# overlay snapshots with file-level dedup, each layer synced before its commit; also the
# library's pull_unpack example into one plain directory, no dedup), `podman pull` (pull +
# unpack into its overlay storage), containerd's `ctr images pull` (fetch + unpack into the
# overlayfs snapshotter, by a private containerd started before each timed pull and stopped
# after it), `skopeo copy` + `umoci unpack`, and `tar -xzf` of the layer file (no registry) as
# the floor. The image is Debian bookworm minbase as one gzip layer (the
# layer bench/unpack.sh makes), pushed by skopeo into Debian's docker-registry on 127.0.0.1.
# Every run starts from empty stores on a freshly made ext4 scratch filesystem.
#
# Usage: bench/pull.sh   (RUNS [5], OUT [/tmp/arca-bench/pull-<timestamp>])
# Needs root, docker-registry, skopeo, umoci, podman, containerd, e2fsprogs, bc, and the layer
# from bench/unpack.sh (made on first use). A missing podman or containerd skips its row.
set -euo pipefail
unset RUST_BACKTRACE RUST_LIB_BACKTRACE RUST_LOG

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
RUNS=${RUNS:-5}
OUT=${OUT:-/tmp/arca-bench/pull-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
layer=/var/cache/arca/bench/bookworm-minbase-v2.tar.gz
[ -s "$layer" ] || RUNS=1 OUT="$OUT/unpack" "$here/unpack.sh" >/dev/null

cargo build --release -q -p arca -p arca-image --example pull_unpack --manifest-path "$repo/Cargo.toml"
pull_unpack=$( (ls -t "$repo"/target/*/release/examples/pull_unpack "$repo"/target/release/examples/pull_unpack 2>/dev/null || true) | head -n 1)
arca=${ARCA:-$repo/target/x86_64-unknown-linux-gnu/release/arca}

work=$(mktemp -d /tmp/arca-bench-pull.XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt"
reg_pid=
ctd_pid=
# Unmounts everything mounted under the scratch mount (containerd's snapshot mounts), deepest
# first, then the scratch filesystem itself.
umount_all() {
	{ findmnt -rn -o TARGET | grep -F "$mnt/" || true; } | sort -r | while read -r m; do umount "$m" || umount -l "$m"; done
	umount "$mnt" 2>/dev/null || true
}
cleanup() {
	[ -z "$reg_pid" ] || kill "$reg_pid" 2>/dev/null || true
	containerd_stop
	umount_all
	rm -rf "$work"
}
# A private containerd: root (content store, overlayfs snapshots) on the scratch filesystem,
# state and socket under $work, no CRI, nothing of the host's containerd shared.
containerd_start() {
	mkdir -p "$work/containerd"
	cat >"$work/containerd/config.toml" <<TOML
version = 2
root = "$mnt/containerd"
state = "$work/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$work/containerd.sock"
[ttrpc]
  address = "$work/containerd.sock.ttrpc"
[debug]
  address = "$work/containerd/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$work/containerd/opt"
TOML
	containerd --config "$work/containerd/config.toml" >>"$OUT/containerd.log" 2>&1 &
	ctd_pid=$!
	for _ in $(seq 100); do ctr --address "$work/containerd.sock" version >/dev/null 2>&1 && return; sleep 0.1; done
	echo "containerd did not start; see $OUT/containerd.log" >&2
	return 1
}
containerd_stop() {
	[ -n "$ctd_pid" ] || return 0
	kill "$ctd_pid" 2>/dev/null || true
	wait "$ctd_pid" 2>/dev/null || true
	ctd_pid=
	rm -rf "$work/containerd"
}
ctr_pull() {
	ctr --address "$work/containerd.sock" -n bench images pull --plain-http "$ref"
}

trap cleanup EXIT

# An OCI layout holding the layer as a one-layer image, then into a loopback registry.
python3 - "$layer" "$work/layout" <<'PY'
import gzip, hashlib, json, os, sys
layer, out = sys.argv[1], sys.argv[2]
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return "sha256:" + d, len(data)
gz = open(layer, "rb").read()
diff = hashlib.sha256(gzip.decompress(gz)).hexdigest()
ld, ls = put(gz)
cd, cs = put(json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["bash"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff]}}).encode())
md, ms = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}]}).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "bookworm"}}]},
    open(os.path.join(out, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/registry"
cat >"$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/registry.yml" >"$OUT/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
ref=127.0.0.1:$port/bench/debian:bookworm
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$work/layout:bookworm" "docker://$ref"

fresh_fs() {
	umount_all
	rm -f "$work/scratch.img"
	truncate -s 3G "$work/scratch.img"
	mkfs.ext4 -q -F "$work/scratch.img"
	mount -o loop "$work/scratch.img" "$mnt"
	sync
	echo 3 >/proc/sys/vm/drop_caches
}
time_one() { # LABEL CMD...   ($before / $after: commands run around the timed part)
	local label=$1
	shift
	fresh_fs
	${before:-true}
	local start end
	start=$(date +%s.%N)
	"$@" >>"$OUT/$label.log" 2>&1
	sync -f "$mnt"
	end=$(date +%s.%N)
	${after:-true}
	echo "$end - $start" | bc >>"$OUT/$label"
}
podman_pull() {
	podman --root "$mnt/podman" --runroot "$mnt/podman-run" --storage-driver overlay \
		pull -q --tls-verify=false "$ref"
}
skopeo_umoci() {
	skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$ref" "oci:$mnt/oci:b" &&
		umoci unpack --image "$mnt/oci:b" "$mnt/bundle"
}
tar_xzf() { mkdir "$mnt/rootfs" && tar -xzf "$layer" -C "$mnt/rootfs"; }
labels=(arca)
for i in $(seq "$RUNS"); do
	# `arca pull`: into the store and the overlay snapshots, every file a deduplicated object,
	# each layer synced before it is committed.
	time_one arca "$arca" --root "$mnt/arca" pull -q "$ref"
	# The library's flat variant: one plain rootfs directory, no snapshots, no objects.
	time_one arca-flat-rootfs "$pull_unpack" "$ref" "$mnt/store" "$mnt/rootfs"
	# The floor the issue sets: the local layer file alone, no registry.
	time_one tar-xzf tar_xzf
	if command -v podman >/dev/null; then time_one podman podman_pull; fi
	if command -v containerd >/dev/null && command -v ctr >/dev/null; then
		before=containerd_start after=containerd_stop time_one ctr ctr_pull
	fi
	time_one skopeo+umoci skopeo_umoci
done
command -v podman >/dev/null && labels+=(podman)
command -v containerd >/dev/null && command -v ctr >/dev/null && labels+=(ctr)
labels+=(skopeo+umoci arca-flat-rootfs tar-xzf)
{
	echo "# pull + unpack of Debian bookworm minbase ($(du -h "$layer" | cut -f1) gzip layer) from a loopback registry, $RUNS runs, fresh ext4 each, including sync"
	echo
	echo "| puller | median s | min s | vs arca |"
	echo "|---|---|---|---|"
	arca_med=$(sort -n "$OUT/arca" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	for l in "${labels[@]}"; do
		med=$(sort -n "$OUT/$l" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
		min=$(sort -n "$OUT/$l" | head -n 1)
		printf '| %s | %.2f | %.2f | %.2f× |\n' "$l" "$med" "$min" "$(echo "$med / $arca_med" | bc -l)"
	done
} | tee "$OUT/summary.md"
