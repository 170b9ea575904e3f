#!/usr/bin/env bash
# Build busybox container images from Debian's busybox-static, with no network.
#
# Usage: scripts/busybox-image.sh OUTDIR [NAME]
#
# NAME defaults to docker.io/library/arca-busybox:latest. Writes:
#   OUTDIR/rootfs.tar   the root filesystem as a plain tar (for `podman import`)
#   OUTDIR/image.tar    an OCI image layout archive (oci-layout, index.json,
#                       blobs/sha256/...) that also carries a Docker
#                       manifest.json, so `ctr image import`, `podman load` and
#                       `docker load` all accept it. The image is named NAME
#                       (annotation io.containerd.image.name for containerd,
#                       RepoTags in manifest.json for docker/podman).
#   OUTDIR/oci/         the same OCI layout, unpacked
#
# The rootfs has /bin/busybox plus a symlink for every applet, /etc/passwd and
# /etc/group, and empty /tmp /proc /sys /dev /root. The image runs `sh` by
# default. Needs bash, GNU tar, sha256sum, stat: no jq or python. The output is
# reproducible (fixed mtimes and owners), so the digests only change with
# busybox. Running it again on the same OUTDIR is safe.
set -euo pipefail

die() {
	echo "busybox-image.sh: error: $*" >&2
	exit 1
}

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 OUTDIR [NAME]"
out=$1
name=${2:-docker.io/library/arca-busybox:latest}
[ -n "$out" ] || die "OUTDIR must not be empty"
case "$name" in
*'"'* | *\\*) die "NAME must not contain quotes or backslashes" ;;
esac

busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || die "$busybox not found (apt-get install busybox-static)"
if command -v file >/dev/null 2>&1 && file -L "$busybox" | grep -q 'dynamically linked'; then
	die "$busybox is dynamically linked; install busybox-static"
fi
for tool in tar sha256sum stat; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

case "$(uname -m)" in
x86_64) arch=amd64 ;;
aarch64) arch=arm64 ;;
armv7l | armv6l) arch=arm ;;
ppc64le) arch=ppc64le ;;
s390x) arch=s390x ;;
riscv64) arch=riscv64 ;;
i?86) arch=386 ;;
*) die "unknown machine $(uname -m)" ;;
esac

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- root filesystem ---------------------------------------------------------
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,etc,tmp,proc,sys,dev,root}
chmod 0755 "$rootfs" "$rootfs"/{bin,etc,proc,sys,dev}
chmod 0700 "$rootfs/root"
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
chmod 0755 "$rootfs/bin/busybox"
applets=$("$rootfs/bin/busybox" --list) || die "'busybox --list' failed"
for applet in $applets; do
	[ "$applet" = busybox ] && continue
	ln -sfn busybox "$rootfs/bin/$applet"
done
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
	'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$rootfs/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' 'nobody:x:65534:' >"$rootfs/etc/group"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
	-C "$rootfs" -cf "$work/rootfs.tar" .

# --- OCI layout --------------------------------------------------------------
oci=$work/oci
blobs=$oci/blobs/sha256
mkdir -p "$blobs"

# add_blob FILE: moves FILE into blobs/, sets $digest (hex) and $size.
add_blob() {
	digest=$(sha256sum "$1" | cut -d' ' -f1)
	size=$(stat -c %s "$1")
	mv -f "$1" "$blobs/$digest"
}

# The layer is the rootfs tar, uncompressed: its digest is also its diff_id.
cp "$work/rootfs.tar" "$work/layer"
add_blob "$work/layer"
layer_digest=$digest layer_size=$size

printf '%s' '{"architecture":"'"$arch"'","os":"linux","created":"1970-01-01T00:00:00Z",'\
'"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],'\
'"Cmd":["sh"],"WorkingDir":"/"},'\
'"rootfs":{"type":"layers","diff_ids":["sha256:'"$layer_digest"'"]},'\
'"history":[{"created":"1970-01-01T00:00:00Z","created_by":"scripts/busybox-image.sh"}]}' \
	>"$work/config"
add_blob "$work/config"
config_digest=$digest config_size=$size

printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'\
'"config":{"mediaType":"application/vnd.oci.image.config.v1+json",'\
'"digest":"sha256:'"$config_digest"'","size":'"$config_size"'},'\
'"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar",'\
'"digest":"sha256:'"$layer_digest"'","size":'"$layer_size"'}]}' \
	>"$work/manifest"
add_blob "$work/manifest"
manifest_digest=$digest manifest_size=$size

# The tag part of NAME (after the last ':' that follows the last '/').
tag=latest
last=${name##*/}
case "$last" in
*:*) tag=${last##*:} ;;
esac

printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'\
'"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",'\
'"digest":"sha256:'"$manifest_digest"'","size":'"$manifest_size"','\
'"platform":{"architecture":"'"$arch"'","os":"linux"},'\
'"annotations":{"io.containerd.image.name":"'"$name"'",'\
'"org.opencontainers.image.ref.name":"'"$tag"'"}}]}' >"$oci/index.json"
printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
# Docker's archive manifest, pointing into the same blobs.
printf '%s' '[{"Config":"blobs/sha256/'"$config_digest"'","RepoTags":["'"$name"'"],'\
'"Layers":["blobs/sha256/'"$layer_digest"'"]}]' >"$oci/manifest.json"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
	-C "$oci" -cf "$work/image.tar" oci-layout index.json manifest.json blobs

# --- publish -----------------------------------------------------------------
rm -rf "$out/oci"
mv "$oci" "$out/oci"
mv -f "$work/rootfs.tar" "$out/rootfs.tar"
mv -f "$work/image.tar" "$out/image.tar"
echo "$out"
