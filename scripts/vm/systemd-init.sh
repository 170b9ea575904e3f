#!/bin/sh
# /init of the systemd test VM. The kernel unpacks the initramfs into rootfs, which is not a
# mount with a parent, so a container's pivot_root would fail there. Make / a bind mount of
# itself (what switch_root does with a real root), then hand over to systemd.
mkdir -p /newroot
mount --bind / /newroot
cd /newroot || exit 1
mount --move . /
exec chroot . /lib/systemd/systemd "$@"
