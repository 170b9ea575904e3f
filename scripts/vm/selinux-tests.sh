#!/bin/sh
# SELinux tests of arca-runtime, run by /init in the test VM (see run-selinux-tests.sh) once it
# has mounted selinuxfs and loaded Debian's default policy (permissive). Busybox sh; jq is in the
# initramfs. Same conventions as v2-tests.sh (`ok`/`not ok` lines, `N passed, M failed`).
#
# The labels come from Debian's selinux-policy-default: svirt_t is its domain for confined
# guests (contexts/virtual_domain_context); kernel_t is the domain the guest's own processes run
# in before any transition; tmp_t is a plain file type. The policy has no container_t
# (contexts/lxc_contexts names it, but no module of the default policy defines it).

PARENT=arca-selinux
. /tests/guest-lib.sh

LABEL=system_u:system_r:svirt_t:s0
OTHER=system_u:system_r:kernel_t:s0
BAD=system_u:system_r:arca_no_such_t:s0
MLABEL=system_u:object_r:tmp_t:s0
# attr/current ends with a NUL.
ctx_of() { tr -d '\0' <"/proc/$1/attr/current" 2>&1; }
WITH_LABEL=".process.selinuxLabel = \"$LABEL\""

# --- the guest's SELinux -------------------------------------------------------------------------

se_enabled() {
	[ -e /sys/fs/selinux/enforce ] || why "/sys/fs/selinux/enforce missing: SELinux not enabled" || return
	say "enforce $(cat /sys/fs/selinux/enforce), policyvers $(cat /sys/fs/selinux/policyvers), own context $(ctx_of self)"
	# Straight to the kernel, without arca: the labels are valid in the loaded policy, BAD is not.
	(printf %s "$LABEL" >/proc/self/attr/exec) 2>/dev/null || why "$LABEL refused by the policy" || return
	(printf %s "$OTHER" >/proc/self/attr/exec) 2>/dev/null || why "$OTHER refused by the policy" || return
	! (printf %s "$BAD" >/proc/self/attr/exec) 2>/dev/null || why "$BAD accepted by the policy"
}
t selinux_enabled_and_labels_valid se_enabled

# --- process.selinuxLabel ------------------------------------------------------------------------

label_init() {
	mkbundle s1 "$WITH_LABEL" 'tr -d "\0" </proc/self/attr/current'
	out=$(rt run --bundle $B/s1 s1 2>&1)
	rc=$?
	say "$out"
	[ $rc = 0 ] || why "run exited $rc: $out" || return
	[ "$out" = "$LABEL" ] || why "attr/current is '$out', want '$LABEL'" || return
	# Control: without a label the container keeps the runtime's context.
	mkbundle s0 . 'tr -d "\0" </proc/self/attr/current'
	out=$(rt run --bundle $B/s0 s0 2>&1)
	say "no label: $out"
	[ "$out" = "$(ctx_of self)" ] || why "without a label, attr/current is '$out', want '$(ctx_of self)'"
}
t selinux_label_applied_to_init label_init
cleanup

label_exec() {
	mkbundle s2 "$WITH_LABEL" 'exec sleep 1000'
	create_start s2 || return
	cur=$(ctx_of "$PID")
	say "init: $cur"
	[ "$cur" = "$LABEL" ] || why "init's attr/current: $cur" || return
	out=$(rt exec s2 sh -c 'tr -d "\0" </proc/self/attr/current' 2>&1)
	say "exec: $out"
	[ "$out" = "$LABEL" ] || why "exec'd attr/current: '$out', want '$LABEL'" || return
	# A process JSON without a label of its own gets the container's, as in runc...
	jq '.process | .args = ["cat", "/proc/self/attr/current"] | del(.selinuxLabel)' \
		"$B/s2/config.json" >/tmp/s2-process.json
	out=$(rt exec --process /tmp/s2-process.json s2 2>&1 | tr -d '\0')
	say "exec --process: $out"
	[ "$out" = "$LABEL" ] || why "exec --process without a label: '$out', want '$LABEL'" || return
	# ...and one with its own label gets that one.
	jq --arg l "$OTHER" '.selinuxLabel = $l' /tmp/s2-process.json >/tmp/s2-other.json
	out=$(rt exec --process /tmp/s2-other.json s2 2>&1 | tr -d '\0')
	say "exec --process with $OTHER: $out"
	[ "$out" = "$OTHER" ] || why "exec --process with its own label: '$out', want '$OTHER'" || return
	# runc's --process-label flag does the same for an exec from arguments.
	out=$(rt exec --process-label "$OTHER" s2 cat /proc/self/attr/current 2>&1 | tr -d '\0')
	say "exec --process-label $OTHER: $out"
	[ "$out" = "$OTHER" ] || why "exec --process-label: '$out', want '$OTHER'" || return
	rt delete --force s2 >/dev/null 2>&1
	waitfor 5 no_dir s2 || why "$(dir_of s2) left after delete"
}
t selinux_label_applied_to_exec label_exec
cleanup

label_invalid() {
	mkbundle s3 ".process.selinuxLabel = \"$BAD\"" 'echo should-not-run'
	out=$(rt create --bundle $B/s3 s3 2>&1)
	rc=$?
	say "$out"
	[ $rc != 0 ] || why "create with $BAD succeeded: $out" || return
	case $out in
	*process.selinuxLabel*"$BAD"*) ;;
	*) why "error does not name process.selinuxLabel and $BAD: $out" || return ;;
	esac
	[ -z "$(rt list -q 2>&1)" ] || why "state left: $(rt list -q 2>&1)" || return
	[ ! -e /run/arca/s3 ] || why "/run/arca/s3 left" || return
	no_dir s3 || why "$(dir_of s3) left"
}
t selinux_invalid_label_fails_create label_invalid
cleanup

# --- linux.mountLabel ----------------------------------------------------------------------------

mkdir -p /tmp/bindsrc
MOUNTS='.mounts += [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
	{"destination": "/mnt/b", "type": "bind", "source": "/tmp/bindsrc", "options": ["rbind", "ro"]}]'
# mount_of OUTPUT MOUNTPOINT: the mountinfo line of MOUNTPOINT in the container's output.
mount_of() { printf '%s\n' "$1" | awk -v m="$2" '$5 == m'; }

mount_label() {
	mkbundle s4 ".linux.mountLabel = \"$MLABEL\" | $MOUNTS" 'cat /proc/self/mountinfo'
	out=$(rt run --bundle $B/s4 s4 2>&1)
	rc=$?
	say "$out"
	[ $rc = 0 ] || why "run exited $rc: $out" || return
	# /sys/firmware is a masked path: an empty read-only tmpfs, labelled too (runc does).
	for m in /tmp /dev /dev/pts /dev/shm /sys/firmware; do
		l=$(mount_of "$out" $m)
		[ -n "$l" ] || why "$m not mounted: $out" || return
		case $l in
		*" - "*"context=$MLABEL"*) ;;
		*) why "$m has no context=$MLABEL: $l" || return ;;
		esac
	done
	# The kernel's own labels for proc, sysfs, cgroup and mqueue; never on a bind mount.
	for m in /proc /sys /sys/fs/cgroup /dev/mqueue /mnt/b; do
		l=$(mount_of "$out" $m)
		[ -n "$l" ] || why "$m not mounted: $out" || return
		case $l in
		*context=*) why "$m has a context option: $l" || return ;;
		esac
	done
}
t selinux_mount_label_on_new_filesystems mount_label
cleanup

finish
