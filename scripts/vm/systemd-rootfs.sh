#!/usr/bin/env bash
# Builds (once) the root filesystem of the systemd test VM and prints the path of its cpio
# archive: a minimal Debian bookworm (debootstrap --variant=minbase) with systemd as init,
# dbus and jq, documentation stripped, consoles and timers that only add noise masked.
#
# Usage: scripts/vm/systemd-rootfs.sh
#
# The archive is cached in $ARCA_VM_CACHE (default /var/cache/arca/vm) under a name that
# changes with this script, so an edit rebuilds it. Building needs the Debian mirror
# ($ARCA_DEBIAN_MIRROR, default http://deb.debian.org/debian), debootstrap and cpio, and root.
# A build is made in a temporary directory and renamed into place: an interrupted build leaves
# no half archive behind.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
log() { printf 'systemd-rootfs: %s\n' "$*" >&2; }
die() {
	printf 'systemd-rootfs: error: %s\n' "$1" >&2
	exit "${2:-2}"
}

cache=${ARCA_VM_CACHE:-/var/cache/arca/vm}
mirror=${ARCA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
packages=systemd,systemd-sysv,dbus,jq
key=$(cat "$0" "$here/systemd-init.sh" | sha256sum | cut -c1-12)
archive=$cache/systemd-rootfs-$suite-$key.cpio
if [ -s "$archive" ]; then
	echo "$archive"
	exit 0
fi

command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (apt-get install debootstrap)"
command -v cpio >/dev/null 2>&1 || die "cpio is missing (apt-get install cpio)"
[ "$(id -u)" = 0 ] || die "building the rootfs needs root (debootstrap)"
mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

log "debootstrap $suite ($packages) from $mirror"
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	die "debootstrap failed (see the log below)
$(tail -n 20 "$work/debootstrap.log")" 1

rm -rf "$root"/usr/share/{doc,man,info,locale,i18n} "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/*
# Consoles would take the serial line; timers and one-shot maintenance only slow the boot.
for unit in serial-getty@ttyS0.service getty@tty1.service console-getty.service \
	systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
	e2scrub_all.timer fstrim.timer systemd-tmpfiles-clean.timer man-db.timer \
	systemd-networkd.service systemd-resolved.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
echo arca-systemd-vm >"$root/etc/hostname"
: >"$root/etc/machine-id"

# The kernel runs /init from an initramfs; see systemd-init.sh.
install -m 0755 "$here/systemd-init.sh" "$root/init"

tmp=$work/rootfs.cpio
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 >"$tmp")
mv "$tmp" "$archive"
log "built $archive ($(du -h "$archive" | cut -f1))"
echo "$archive"
