#!/bin/busybox sh
# /init of the busybox test VMs (run-v2-tests.sh, run-selinux-tests.sh,
# run-engine-v2-tests.sh). Runs as pid 1 in two stages:
#
# 1. On the initramfs (rootfs): copy everything to a tmpfs and switch_root into it. A container's
#    pivot_root needs the runtime's root to be a mount with a parent, which rootfs is not.
# 2. On the tmpfs: mount proc, sys, dev and cgroup2 (pure v2, nsdelegate) at /sys/fs/cgroup,
#    enable every available controller in the root's cgroup.subtree_control, run
#    /tests/<suite>-tests.sh, power off.
# The suite is the kernel parameter arca_tests=<suite> (default v2; engine-v2 for the engine's
# tests, which need nothing more from /init). With arca_tests=selinux, selinuxfs is mounted and
# the policy of /etc/selinux/config loaded first (load_policy): the runtime sees SELinux
# enabled, as on a SELinux host.
export PATH=/usr/local/bin:/usr/bin:/bin:/sbin

if [ "$1" != stage2 ]; then
	/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
	exec </dev/console >/dev/console 2>&1
	mount -t tmpfs -o mode=0755,size=512m tmpfs /newroot
	for e in /*; do
		[ "$e" = /newroot ] || [ "$e" = /dev ] || cp -a "$e" /newroot/
	done
	mkdir -p /newroot/dev
	mount --move /dev /newroot/dev
	exec switch_root /newroot /init stage2
	echo "guest-init: switch_root failed"
	poweroff -f
fi

[ -c /dev/console ] || mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
tests=v2
for arg in $(cat /proc/cmdline); do
	case $arg in arca_tests=*) tests=${arg#arca_tests=} ;; esac
done
if [ "$tests" = selinux ]; then
	mount -t selinuxfs selinuxfs /sys/fs/selinux || echo "guest-init: cannot mount selinuxfs"
	load_policy || echo "guest-init: load_policy failed"
fi
hostname arca-$tests-vm
ip link set lo up 2>/dev/null

for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
	echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || echo "guest-init: cannot enable $c"
done

echo "# kernel $(uname -r), $(nproc) cpus, $(awk '/MemTotal/ { print $2 " kB" }' /proc/meminfo)"
echo "# $(grep ' /sys/fs/cgroup ' /proc/self/mountinfo)"
echo "# controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "# subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
for b in arca-runtime arca; do
	! command -v $b >/dev/null || echo "# $b: $($b --version 2>&1 | head -n 1)"
done
echo "# apparmor enabled: $(cat /sys/module/apparmor/parameters/enabled 2>&1)"
echo "# selinux enforce: $(cat /sys/fs/selinux/enforce 2>&1)"

sh "/tests/$tests-tests.sh"
echo "# tests exited $?"
sync
poweroff -f
sleep 5
reboot -f
