#!/bin/sh
# cgroup v2 tests of arca-runtime, run by /init in the test VM (see run-v2-tests.sh) on a pure
# cgroup v2 hierarchy mounted at /sys/fs/cgroup. Busybox sh; jq is in the initramfs.
#
# Prints `ok <name>`, `not ok <name> <reason>`, `# ...` diagnostics and a final
# `N passed, M failed` line. Each container gets linux.cgroupsPath /arca-v2/<id>.
#
# Also AppArmor: the kernel boots with apparmor=1; scripts/vm/arca-test-deny.profile is loaded with
# apparmor_parser and process.apparmorProfile must confine the init and exec'd processes.
#
# Also the cgroup v2 device controller: linux.resources.devices compiled to an eBPF program
# attached to the container's cgroup.
#
# Also rootless: an unprivileged user (uid 1000) with a delegated cgroup subtree, as systemd's
# Delegate=yes gives one, runs containers whose limits are enforced there; without delegation
# the container runs without a cgroup and says so.

PARENT=arca-v2
. /tests/guest-lib.sh

CGNS='.linux.namespaces += [{"type": "cgroup"}]'
CGMOUNT_RW='(.mounts[] | select(.destination == "/sys/fs/cgroup") | .options) |= map(select(. != "ro"))'

# --- run: hostname, /proc/self/cgroup ----------------------------------------------------------

run_cgroupns() {
	mkbundle h1 "$CGNS" 'hostname; cat /proc/self/cgroup'
	out=$(rt run --bundle $B/h1 h1 2>&1)
	rc=$?
	say "$out"
	[ $rc = 0 ] || why "run exited $rc: $out" || return
	[ "$out" = "runc
0::/" ] || why "want 'runc|0::/', got: $out" || return
	no_dir h1 || why "$(dir_of h1) left after run"
}
t run_hostname_and_cgroupns_root run_cgroupns
cleanup

run_no_cgroupns() {
	mkbundle h2 . 'hostname; cat /proc/self/cgroup'
	out=$(rt run --bundle $B/h2 h2 2>&1)
	rc=$?
	say "$out"
	[ $rc = 0 ] || why "run exited $rc: $out" || return
	[ "$out" = "runc
0::/$PARENT/h2" ] || why "want 'runc|0::/$PARENT/h2', got: $out" || return
	no_dir h2 || why "$(dir_of h2) left after run"
}
t run_without_cgroupns_shows_container_path run_no_cgroupns
cleanup

# --- placement and resources -------------------------------------------------------------------

RES='.linux.resources.memory = {"limit": 67108864}
	| .linux.resources.pids = {"limit": 20}
	| .linux.resources.cpu = {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "1"}'
mkbundle r1 "$RES" 'exec sleep 1000'
r1_created=0
placement_created() {
	rt create --bundle $B/r1 --pid-file /tmp/r1.pid r1 >/tmp/r1.out 2>&1 ||
		why "create failed: $(cat /tmp/r1.out)" || return
	r1_created=1
	PID=$(cat /tmp/r1.pid)
	[ "$PID" = "$(pid_of r1)" ] || why "pid file $PID, state pid $(pid_of r1)" || return
	is_status r1 created || why "status $(status_of r1)" || return
	say "$(dir_of r1)/cgroup.procs: $(cat "$(dir_of r1)/cgroup.procs" 2>&1)"
	say "/proc/$PID/cgroup: $(cat /proc/$PID/cgroup)"
	in_procs r1 "$PID" || why "init $PID not in $(dir_of r1)/cgroup.procs: $(cat "$(dir_of r1)/cgroup.procs" 2>&1)" || return
	[ "$(cat /proc/$PID/cgroup)" = "0::/$PARENT/r1" ] || why "/proc/$PID/cgroup: $(cat /proc/$PID/cgroup)"
}
t create_places_init_in_its_cgroup placement_created
parent_controllers() {
	sc=$(cat "$CG/$PARENT/cgroup.subtree_control")
	say "$CG/$PARENT/cgroup.subtree_control: $sc"
	for c in memory pids cpu cpuset; do
		echo " $sc " | grep -q " $c " || why "$c not enabled in $CG/$PARENT/cgroup.subtree_control: $sc" || return
	done
}
if [ $r1_created = 1 ]; then
	t parent_enables_controllers parent_controllers
	t memory_max check_file r1 memory.max 67108864
	t pids_max check_file r1 pids.max 20
	t cpu_max check_file r1 cpu.max "50000 100000"
	# runc: 1 + ((1024 - 2) * 9999) / 262142 = 39
	t cpu_weight_from_shares check_file r1 cpu.weight 39
	t cpuset_cpus check_file r1 cpuset.cpus 1
	started_in_cgroup() {
		rt start r1 >>/tmp/r1.out 2>&1 || why "start failed: $(cat /tmp/r1.out)" || return
		is_status r1 running || why "status $(status_of r1)" || return
		in_procs r1 "$PID" || why "init $PID not in cgroup.procs after start"
	}
	t start_runs_in_cgroup started_in_cgroup
	ps_lists() {
		out=$(rt ps --format json r1 2>&1) || why "ps failed: $out" || return
		say "ps: $out"
		echo "$out" | jq -e --argjson p "$PID" 'index($p) != null' >/dev/null || why "ps --format json: $out, want $PID"
	}
	t ps_lists_cgroup_pids ps_lists
	delete_force_running() {
		out=$(rt delete --force r1 2>&1) || why "delete --force failed: $out" || return
		waitfor 5 no_dir r1 || why "$(dir_of r1) still there after delete --force" || return
		! alive "$PID" || why "init $PID still alive after delete --force"
	}
	t delete_force_running_removes_cgroup delete_force_running
fi
cleanup

# --- memory limit enforced ---------------------------------------------------------------------

OOM='.linux.resources.memory = {"limit": 33554432, "swap": 33554432}'
oom_run() {
	mkbundle o1 "$OOM" 'exec tail /dev/zero'
	out=$(rt run --bundle $B/o1 o1 2>&1)
	rc=$?
	say "run exit $rc: $out"
	[ $rc = 137 ] || why "run exited $rc, want 137 (SIGKILL): $out" || return
	no_dir o1 || why "$(dir_of o1) left after run"
}
t oom_killed_run_exits_137 oom_run
cleanup

oom_events() {
	mkbundle o2 "$OOM" 'exec tail /dev/zero'
	create_start o2 || return
	waitfor 60 is_status o2 stopped || why "still $(status_of o2) after 60 s" || return
	ev=$(cat "$(dir_of o2)/memory.events" 2>&1)
	say "memory.events: $ev"
	kills=$(echo "$ev" | awk '$1 == "oom_kill" { print $2 }')
	[ "${kills:-0}" -ge 1 ] || why "memory.events oom_kill=${kills:-none}: $ev" || return
	out=$(rt delete o2 2>&1) || why "delete failed: $out" || return
	waitfor 5 no_dir o2 || why "$(dir_of o2) left after delete"
}
t oom_kill_in_memory_events oom_events
cleanup

# --- pids limit enforced -----------------------------------------------------------------------

pids_limit() {
	mkbundle p1 '.linux.resources.pids = {"limit": 10}' \
		'for i in $(seq 50); do sleep 100 & echo started $i; done; echo loop finished'
	create_start p1 || return
	waitfor 60 is_status p1 stopped || why "still $(status_of p1) after 60 s" || return
	out=$(cat /tmp/p1.out)
	say "$(echo "$out" | grep -v '^started' ; echo "started lines: $(echo "$out" | grep -c '^started')")"
	n=$(echo "$out" | grep -c '^started')
	ev=$(cat "$(dir_of p1)/pids.events" 2>&1)
	say "pids.events: $ev"
	[ "$n" -ge 1 ] && [ "$n" -le 9 ] || why "$n sleeps started under pids.max 10 (sh + 9 at most): $out" || return
	max=$(echo "$ev" | awk '$1 == "max" { print $2 }')
	[ "${max:-0}" -ge 1 ] || why "pids.events max=${max:-none}" || return
	out=$(rt delete p1 2>&1) || why "delete failed: $out" || return
	waitfor 5 no_dir p1 || why "$(dir_of p1) left after delete"
}
t pids_limit_stops_fork_loop pids_limit
cleanup

# --- /sys/fs/cgroup inside the container -------------------------------------------------------

SHOWCG='grep " /sys/fs/cgroup " /proc/self/mountinfo; echo mem=$(cat /sys/fs/cgroup/memory.max); echo procs=$(cat /sys/fs/cgroup/cgroup.procs); echo parent=$(ls /sys/fs/cgroup | grep -c '$PARENT'); mkdir /sys/fs/cgroup/sub 2>&1 && echo MKDIR_OK && rmdir /sys/fs/cgroup/sub; true'
cgroupfs_ns() {
	mkbundle m1 "$CGNS | .linux.resources.memory = {\"limit\": 67108864}" "$SHOWCG"
	out=$(rt run --bundle $B/m1 m1 2>&1)
	rc=$?
	say "$out"
	[ $rc = 0 ] || why "run exited $rc: $out" || return
	line=$(echo "$out" | grep ' /sys/fs/cgroup ')
	[ "$(fstype_of "$line")" = cgroup2 ] || why "not a cgroup2 mount: $line" || return
	[ "$(field "$line" 4)" = / ] || why "mount root $(field "$line" 4), want /: $line" || return
	echo "$out" | grep -qx 'mem=67108864' || why "memory.max inside is not the container's: $out" || return
	echo "$out" | grep -Eq '^procs=1( |$)' || why "cgroup.procs inside does not start with pid 1: $out" || return
	echo "$out" | grep -qx 'parent=0' || why "the host's $PARENT dir is visible inside: $out"
}
t cgroupfs_with_cgroupns_is_containers_own cgroupfs_ns
cleanup

cgroupfs_ns_rw() {
	mkbundle m2 "$CGNS | $CGMOUNT_RW" "$SHOWCG"
	out=$(rt run --bundle $B/m2 m2 2>&1)
	rc=$?
	say "$out"
	[ $rc = 0 ] || why "run exited $rc: $out" || return
	echo "$out" | grep -q MKDIR_OK || why "mkdir in a cgroup mount without 'ro' in a cgroup namespace failed: $out"
}
t cgroupfs_with_cgroupns_rw_without_ro_option cgroupfs_ns_rw
cleanup

cgroupfs_no_ns() {
	mkbundle m3 "$CGMOUNT_RW" "$SHOWCG"
	out=$(rt run --bundle $B/m3 m3 2>&1)
	rc=$?
	say "$out"
	echo "$out" | grep -q MKDIR_OK && rmdir "$CG/sub" "$(dir_of m3)/sub" 2>/dev/null
	line=$(echo "$out" | grep ' /sys/fs/cgroup ')
	[ -n "$line" ] || why "no /sys/fs/cgroup mount (run exit $rc): $out" || return
	[ "$(fstype_of "$line")" = cgroup2 ] || why "not a cgroup2 mount: $line" || return
	case ",$(field "$line" 6)," in
	*,ro,*) ;;
	*) why "mount options $(field "$line" 6), want ro: $line" || return ;;
	esac
	! echo "$out" | grep -q MKDIR_OK || why "mkdir under /sys/fs/cgroup succeeded without a cgroup namespace"
}
# arca's invariant (ARCHITECTURE.md, security): without a cgroup namespace a cgroup mount is
# read-only whatever its options. runc mounts it rw there, so it is skipped for runc.
if arca-runtime --version 2>/dev/null | grep -q '^runc'; then
	echo "ok cgroupfs_without_cgroupns_is_read_only # SKIP arca's invariant, not runc's"
	pass=$((pass + 1))
else
	t cgroupfs_without_cgroupns_is_read_only cgroupfs_no_ns
fi
cleanup

# --- kill --all, delete --force, SIGKILL from the host ------------------------------------------

kill_all() {
	mkbundle k1 . 'sleep 1000 & sleep 1000 & exec sleep 1000'
	create_start k1 || return
	three() { [ "$(nprocs k1)" -eq 3 ]; }
	waitfor 10 three || why "cgroup.procs: $(cat "$(dir_of k1)/cgroup.procs")" || return
	out=$(rt kill --all k1 KILL 2>&1) || why "kill --all failed: $out" || return
	waitfor 10 procs_empty k1 || why "cgroup.procs not empty after kill --all: $(cat "$(dir_of k1)/cgroup.procs")" || return
	waitfor 10 is_status k1 stopped || why "status $(status_of k1) after kill --all" || return
	out=$(rt delete k1 2>&1) || why "delete failed: $out" || return
	waitfor 5 no_dir k1 || why "$(dir_of k1) left after delete"
}
t kill_all_then_delete_removes_cgroup kill_all
cleanup

delete_force_created() {
	mkbundle d1 . 'exec sleep 1000'
	rt create --bundle $B/d1 --pid-file /tmp/d1.pid d1 >/tmp/d1.out 2>&1 ||
		why "create failed: $(cat /tmp/d1.out)" || return
	PID=$(cat /tmp/d1.pid)
	out=$(rt delete --force d1 2>&1) || why "delete --force failed: $out" || return
	waitfor 5 no_dir d1 || why "$(dir_of d1) left after delete --force" || return
	! alive "$PID" || why "init $PID alive after delete --force"
}
t delete_force_created_removes_cgroup delete_force_created
cleanup

host_sigkill() {
	mkbundle s1 . 'exec sleep 1000'
	create_start s1 || return
	kill -9 "$PID"
	waitfor 10 is_status s1 stopped || why "status $(status_of s1) after kill -9 $PID" || return
	out=$(rt delete s1 2>&1) || why "delete failed: $out" || return
	waitfor 5 no_dir s1 || why "$(dir_of s1) left after delete"
}
t host_sigkill_then_delete_removes_cgroup host_sigkill
cleanup

# --- exec ---------------------------------------------------------------------------------------

exec_cgroup() {
	mkbundle e1 . 'exec sleep 1000'
	create_start e1 || return
	out=$(rt exec e1 cat /proc/self/cgroup 2>&1) || why "exec failed: $out" || return
	say "exec: $out"
	[ "$out" = "0::/$PARENT/e1" ] || why "exec'd /proc/self/cgroup: $out, want 0::/$PARENT/e1" || return
	rt exec -d --pid-file /tmp/e1.exec.pid e1 sleep 500 >/tmp/e1.exec.out 2>&1 ||
		why "exec -d failed: $(cat /tmp/e1.exec.out)" || return
	epid=$(cat /tmp/e1.exec.pid)
	say "exec -d pid $epid, cgroup.procs: $(cat "$(dir_of e1)/cgroup.procs" | tr '\n' ' ')"
	in_procs e1 "$epid" || why "exec'd pid $epid not in cgroup.procs: $(cat "$(dir_of e1)/cgroup.procs")" || return
	out=$(rt delete --force e1 2>&1) || why "delete --force failed: $out" || return
	waitfor 5 no_dir e1 || why "$(dir_of e1) left after delete --force" || return
	! alive "$epid" || why "exec'd $epid alive after delete --force"
}
t exec_lands_in_container_cgroup exec_cgroup
cleanup

exec_cgroupns() {
	mkbundle e2 "$CGNS" 'exec sleep 1000'
	create_start e2 || return
	out=$(rt exec e2 cat /proc/self/cgroup 2>&1) || why "exec failed: $out" || return
	say "exec: $out"
	[ "$out" = "0::/" ] || why "exec'd /proc/self/cgroup: $out, want 0::/ (container's cgroup namespace)" || return
	out=$(rt delete --force e2 2>&1) || why "delete --force failed: $out" || return
	waitfor 5 no_dir e2 || why "$(dir_of e2) left after delete --force"
}
t exec_joins_cgroupns exec_cgroupns
cleanup

# --- AppArmor: process.apparmorProfile applied (run-v2-tests.sh boots with apparmor=1) ----------

# A profile that allows everything but writes under /tmp, loaded with apparmor_parser.
AA_PROFILE=arca-test-deny
AA_TMP='.mounts += [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}]'
aa_load() {
	[ "$(cat /sys/module/apparmor/parameters/enabled 2>&1)" = Y ] ||
		why "AppArmor not enabled in the guest: $(cat /sys/module/apparmor/parameters/enabled 2>&1)" || return
	grep -q ' /sys/kernel/security ' /proc/mounts || mount -t securityfs securityfs /sys/kernel/security ||
		why "cannot mount securityfs" || return
	out=$(apparmor_parser -r -K /tests/$AA_PROFILE.profile 2>&1) || why "apparmor_parser: $out" || return
	grep -q "^$AA_PROFILE (enforce)" /sys/kernel/security/apparmor/profiles ||
		why "profile not loaded: $(cat /sys/kernel/security/apparmor/profiles 2>&1)"
}
t apparmor_profile_loaded aa_load

aa_run() {
	mkbundle a1 ".process.apparmorProfile = \"$AA_PROFILE\" | $AA_TMP" \
		'cat /proc/self/attr/current; touch /tmp/x || echo tmp-denied; touch /dev/shm/x && echo shm-ok'
	out=$(rt run --bundle $B/a1 a1 2>&1)
	rc=$?
	say "$out"
	[ $rc = 0 ] || why "run exited $rc: $out" || return
	case $out in
	"$AA_PROFILE (enforce)"*) ;;
	*) why "attr/current is not $AA_PROFILE (enforce): $out" || return ;;
	esac
	case $out in *"/tmp/x"*"Permission denied"*tmp-denied*) ;; *) why "touch /tmp/x not denied: $out" || return ;; esac
	case $out in *shm-ok*) ;; *) why "touch /dev/shm/x failed: $out" || return ;; esac
	# Control: the same container without the profile is unconfined and may write /tmp.
	mkbundle a0 "$AA_TMP" 'cat /proc/self/attr/current; touch /tmp/x && echo tmp-ok'
	out=$(rt run --bundle $B/a0 a0 2>&1)
	say "no profile: $out"
	[ "$out" = "unconfined
tmp-ok" ] || why "without a profile, want 'unconfined|tmp-ok', got: $out"
}
t apparmor_profile_confines_init aa_run
cleanup

aa_exec() {
	mkbundle a2 ".process.apparmorProfile = \"$AA_PROFILE\" | $AA_TMP" 'exec sleep 1000'
	create_start a2 || return
	cur=$(cat /proc/$PID/attr/current 2>&1)
	say "init: $cur"
	[ "$cur" = "$AA_PROFILE (enforce)" ] || why "init's attr/current: $cur" || return
	out=$(rt exec a2 sh -c 'cat /proc/self/attr/current; touch /tmp/y || echo tmp-denied; touch /dev/shm/y && echo shm-ok' 2>&1)
	say "exec: $out"
	case $out in
	"$AA_PROFILE (enforce)"*"Permission denied"*tmp-denied*shm-ok) ;;
	*) why "exec'd process not confined: $out" || return ;;
	esac
	# A process JSON without a profile of its own gets the container's, as in runc.
	jq '.process | .args = ["cat", "/proc/self/attr/current"] | del(.apparmorProfile)' \
		"$B/a2/config.json" >/tmp/a2-process.json
	out=$(rt exec --process /tmp/a2-process.json a2 2>&1)
	say "exec --process: $out"
	[ "$out" = "$AA_PROFILE (enforce)" ] || why "exec --process attr/current: $out" || return
	out=$(rt delete --force a2 2>&1) || why "delete --force failed: $out"
}
t apparmor_profile_confines_exec aa_exec
cleanup

aa_unknown() {
	mkbundle a3 '.process.apparmorProfile = "arca-no-such-profile"' 'true'
	out=$(rt create --bundle "$B/a3" a3 2>&1)
	rc=$?
	say "$out"
	[ $rc != 0 ] || why "create with an unknown profile succeeded" || return
	case $out in *process.apparmorProfile*) ;; *) why "error does not name process.apparmorProfile: $out" || return ;; esac
	left=$(rt list -q 2>&1)
	[ -z "$left" ] || why "containers left: $left" || return
	no_dir a3 || why "$(dir_of a3) left after a failed create"
}
t apparmor_unknown_profile_fails_create aa_unknown
cleanup

# --- device rules: the eBPF device program (cgroup v2 has no devices.allow) --------------------

# CAP_MKNOD so the container can make a node for a device its rules do not allow (/dev/kmsg,
# char 1:11); opening it must then fail with EPERM from the device program. Writing to
# /dev/kmsg needs no privilege beyond the open.
MKNOD_CAP='.process.capabilities |= (.bounding += ["CAP_MKNOD"] | .effective += ["CAP_MKNOD"] | .permitted += ["CAP_MKNOD"])'
DEVCMD='mknod /dev/k1 c 1 11 && echo mknod-ok; echo arca-devices-test >/dev/k1 && echo kmsg-write-ok; cat /dev/null && echo null-ok; echo zero=$(head -c 4 /dev/zero | wc -c); true'
devices_default() {
	mkbundle v1 "$MKNOD_CAP" "$DEVCMD"
	out=$(rt run --bundle $B/v1 v1 2>&1)
	rc=$?
	say "$out"
	[ $rc = 0 ] || why "run exited $rc: $out" || return
	case $out in *mknod-ok*) ;; *) why "mknod c 1 11 failed (the default rules allow mknod): $out" || return ;; esac
	case $out in *null-ok*) ;; *) why "/dev/null not readable: $out" || return ;; esac
	echo "$out" | grep -qx 'zero=4' || why "/dev/zero not readable: $out" || return
	! echo "$out" | grep -q kmsg-write-ok || why "opening c 1:11 succeeded under deny-all + defaults: $out" || return
	case $out in *"Operation not permitted"*) ;; *) why "opening c 1:11 did not fail with EPERM: $out" || return ;; esac
}
t devices_default_rules_deny_other_devices devices_default
cleanup

devices_allowed() {
	mkbundle v2 "$MKNOD_CAP | .linux.resources.devices += [{\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 11, \"access\": \"rw\"}]" "$DEVCMD"
	out=$(rt run --bundle $B/v2 v2 2>&1)
	rc=$?
	say "$out"
	[ $rc = 0 ] || why "run exited $rc: $out" || return
	case $out in *mknod-ok*kmsg-write-ok*null-ok*) ;; *) why "c 1:11 rw allowed but not writable: $out" || return ;; esac
	! echo "$out" | grep -q "Operation not permitted" || why "EPERM with c 1:11 rw allowed: $out"
}
t devices_rule_allows_kmsg devices_allowed
cleanup

# --- pause / resume (cgroup.freeze), update -----------------------------------------------------

frozen_is() { grep -qx "frozen $2" "$(dir_of "$1")/cgroup.events" 2>/dev/null; }
pause_resume() {
	mkbundle z1 . 'exec sleep 1000'
	create_start z1 || return
	out=$(rt pause z1 2>&1) || why "pause failed: $out" || return
	check_file z1 cgroup.freeze 1 || return
	frozen_is z1 1 || why "cgroup.events: $(cat "$(dir_of z1)/cgroup.events")" || return
	is_status z1 paused || why "status $(status_of z1) after pause" || return
	if out=$(rt pause z1 2>&1); then why "pause of a paused container succeeded"; return; fi
	out=$(rt resume z1 2>&1) || why "resume failed: $out" || return
	check_file z1 cgroup.freeze 0 || return
	waitfor 5 frozen_is z1 0 || why "cgroup.events: $(cat "$(dir_of z1)/cgroup.events")" || return
	is_status z1 running || why "status $(status_of z1) after resume" || return
	if out=$(rt resume z1 2>&1); then why "resume of a running container succeeded"; return; fi
	out=$(rt pause z1 2>&1) || why "second pause failed: $out" || return
	out=$(rt delete --force z1 2>&1) || why "delete --force of a paused container failed: $out" || return
	waitfor 5 no_dir z1 || why "$(dir_of z1) left after delete --force" || return
	! alive "$PID" || why "init $PID alive after delete --force"
}
t pause_resume_freezes_cgroup pause_resume
cleanup

update_memory() {
	mkbundle u1 . 'exec sleep 1000'
	create_start u1 || return
	out=$(rt update --memory 64m --pids-limit 50 u1 2>&1) || why "update failed: $out" || return
	check_file u1 memory.max 67108864 || return
	check_file u1 pids.max 50 || return
	if out=$(rt update --memory lots u1 2>&1); then why "update --memory lots succeeded"; return; fi
	case $out in *memory*) ;; *) why "error does not name --memory: $out"; return ;; esac
	check_file u1 memory.max 67108864 || return
	out=$(rt update --memory -1 u1 2>&1) || why "update --memory -1 failed: $out" || return
	check_file u1 memory.max max || return
	out=$(rt delete --force u1 2>&1) || why "delete --force failed: $out" || return
	waitfor 5 no_dir u1 || why "$(dir_of u1) left after delete --force"
}
t update_writes_memory_max update_memory
cleanup

# --- update: live effect, partial updates merged with what is in force ---------------------------

update_live() {
	mkbundle u2 "$OOM" 'exec sleep 1000'
	create_start u2 || return
	rt exec u2 dd if=/dev/zero of=/dev/null bs=48M count=1 >/tmp/u2.dd 2>&1
	rc=$?
	[ $rc = 137 ] || why "48 MiB under a 32 MiB limit: exec exited $rc: $(cat /tmp/u2.dd)" || return
	out=$(rt update --memory 128m --memory-swap 128m u2 2>&1) || why "update failed: $out" || return
	check_file u2 memory.max 134217728 || return
	check_file u2 memory.swap.max 0 || return
	out=$(rt exec u2 dd if=/dev/zero of=/dev/null bs=48M count=1 2>&1) ||
		why "48 MiB after raising the limit to 128 MiB failed: $out" || return
	rt delete --force u2 >/dev/null 2>&1
	waitfor 5 no_dir u2 || why "$(dir_of u2) left after delete --force"
}
t update_raises_memory_limit_live update_live
cleanup

update_partial() {
	mkbundle u3 '.linux.resources.memory = {"limit": 67108864, "swap": 134217728}' 'exec sleep 1000'
	create_start u3 || return
	check_file u3 memory.swap.max 67108864 || return
	# v2 swap = memory+swap - memory: only computable with the limit recorded at create.
	out=$(rt update --memory-swap 256m u3 2>&1) || why "update --memory-swap alone failed: $out" || return
	check_file u3 memory.max 67108864 || return
	check_file u3 memory.swap.max 201326592 || return
	rt delete --force u3 >/dev/null 2>&1
}
t update_swap_alone_uses_recorded_limit update_partial
cleanup

# --- resources beyond memory/pids/cpu quota ------------------------------------------------------

RES2='.linux.resources.cpu = {"quota": 20000, "period": 100000, "burst": 5000, "idle": 1}
	| .linux.resources.hugepageLimits = [{"pageSize": "2MB", "limit": 4194304}]
	| .linux.resources.blockIO = {"weight": 500}
	| .linux.resources.unified = {"memory.high": "50331648"}'
more_resources() {
	mkbundle r3 "$RES2" 'exec sleep 1000'
	create_start r3 || return
	check_file r3 cpu.max "20000 100000" || return
	check_file r3 cpu.max.burst 5000 || return
	check_file r3 cpu.idle 1 || return
	check_file r3 hugetlb.2MB.max 4194304 || return
	check_file r3 memory.high 50331648 || return
	# runc's conversion of blkio weight 500: 1 + (500 - 10) * 9999 / 990 = 4950.
	w=$(cat "$(dir_of r3)/io.weight" 2>&1)
	say "io.weight: $w"
	[ "$w" = "default 4950" ] || why "io.weight = '$w', want 'default 4950'" || return
	rt delete --force r3 >/dev/null 2>&1
}
t cpu_burst_idle_hugetlb_io_unified more_resources
cleanup

rt_refused() {
	mkbundle r4 '.linux.resources.cpu = {"realtimeRuntime": 1000, "realtimePeriod": 100000}' 'exec sleep 1'
	if out=$(rt create --bundle $B/r4 r4 2>&1); then why "realtime cpu accepted on v2: $out"; return; fi
	say "$out"
	case $out in *realtime*) ;; *) why "error does not name realtime: $out"; return ;; esac
	no_dir r4 || why "$(dir_of r4) left after a failed create"
}
t realtime_cpu_refused_on_v2 rt_refused
cleanup

# --- events: runc's stats JSON and OOM notifications ----------------------------------------------

events_stats() {
	mkbundle e1 '.linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 20}' \
		'sleep 1000 & exec sleep 1000'
	create_start e1 || return
	waitfor 5 test "$(nprocs e1)" -ge 2 || why "not 2 processes: $(cat "$(dir_of e1)/cgroup.procs")" || return
	out=$(rt events --stats e1 2>&1) || why "events --stats failed: $out" || return
	say "$(echo "$out" | cut -c1-300)"
	echo "$out" | jq -e '.type == "stats" and .id == "e1"
		and .data.memory.usage.limit == 67108864 and .data.memory.usage.usage > 0
		and .data.pids.current == 2 and .data.pids.limit == 20
		and .data.cpu.usage.total > 0 and (.data.cpu.throttling | type) == "object"' >/dev/null ||
		why "unexpected stats: $(echo "$out" | cut -c1-300)" || return
	rt delete --force e1 >/dev/null 2>&1
}
t events_stats_json events_stats
cleanup

events_oom() {
	mkbundle e2 "$OOM" 'sleep 1; exec tail /dev/zero'
	rt create --bundle $B/e2 e2 >/tmp/e2.out 2>&1 || why "create failed: $(cat /tmp/e2.out)" || return
	rt events --interval 1s e2 >/tmp/e2.ev 2>&1 &
	evpid=$!
	waitfor 10 test -s /tmp/e2.ev || why "no first stats line: $(cat /tmp/e2.ev)" || return
	rt start e2 >>/tmp/e2.out 2>&1 || why "start failed: $(cat /tmp/e2.out)" || return
	waitfor 60 is_status e2 stopped || why "still $(status_of e2) after 60 s" || return
	waitfor 10 eval '! alive $evpid' || why "events still running after the container stopped" || return
	say "$(grep -v '"stats"' /tmp/e2.ev)"
	grep -qx '{"type":"oom","id":"e2"}' /tmp/e2.ev || why "no oom event: $(cut -c1-200 /tmp/e2.ev)" || return
	rt delete e2 >/dev/null 2>&1
	waitfor 5 no_dir e2 || why "$(dir_of e2) left after delete"
}
t events_reports_oom_kill events_oom
cleanup

# --- rootless with a delegated cgroup (what systemd's Delegate=yes gives a user) ---------------

RUSER=rl
RUID=1000
RCG=$CG/rootless-$RUID
RSTATE=/tmp/rl
# rl ARGS...: arca-runtime ARGS as the unprivileged user, from a shell root first moved into the
# user's delegated subtree (a process may only be moved below a cgroup its user may write).
# The arguments must not need quoting.
rl() {
	sh -c "echo \$\$ >$RCG/shell/cgroup.procs && exec su -s /bin/sh $RUSER -c 'XDG_RUNTIME_DIR=$RSTATE timeout 60 arca-runtime --root $RSTATE/arca $*'"
}
rootless_setup() {
	grep -q "^$RUSER:" /etc/passwd || echo "$RUSER:x:$RUID:$RUID::$RSTATE:/bin/sh" >>/etc/passwd
	grep -q "^$RUSER:" /etc/group || echo "$RUSER:x:$RUID:" >>/etc/group
	mkdir -p $RSTATE $RCG/shell || return
	chown $RUID:$RUID $RSTATE
	chmod 0700 $RSTATE
	# Delegation as systemd does it: the directory and the files that create, move and enable.
	for f in "" /cgroup.procs /cgroup.threads /cgroup.subtree_control /shell /shell/cgroup.procs /shell/cgroup.threads; do
		chown $RUID:$RUID "$RCG$f" || return
	done
	mkdir -p /tmp/rlspec && arca-runtime spec --rootless --bundle /tmp/rlspec >/dev/null || return
}
# rlbundle ID JQ-FILTER CMD: a rootless bundle (spec --rootless's namespaces and mounts, the
# user mapped to root) in a directory the user can read.
rlbundle() {
	mkdir -p "$RSTATE/b/$1"
	jq --arg id "$1" --arg cmd "$3" --argjson uid $RUID --slurpfile rl /tmp/rlspec/config.json \
		".root.path = \"/bundle/rootfs\" | .mounts = \$rl[0].mounts
		| .linux.namespaces = \$rl[0].linux.namespaces
		| .linux.uidMappings = [{\"containerID\": 0, \"hostID\": \$uid, \"size\": 1}]
		| .linux.gidMappings = [{\"containerID\": 0, \"hostID\": \$uid, \"size\": 1}]
		| .linux.cgroupsPath = \"/rootless-$RUID/\" + \$id | del(.linux.resources)
		| .process.args = [\"sh\", \"-c\", \$cmd] | $2" <"$TEMPLATE" >"$RSTATE/b/$1/config.json"
	chown -R $RUID:$RUID "$RSTATE/b"
}
rl_status() { rl state "$1" 2>/dev/null | jq -r .status; }
rl_stopped() { [ "$(rl_status "$1")" = stopped ]; }
rootless_delegated() {
	rootless_setup || why "setting up the user and its cgroup failed" || return
	rlbundle q1 '.linux.resources = {"memory": {"limit": 67108864}, "pids": {"limit": 10}}' \
		'id -u; cat /proc/self/cgroup; for i in $(seq 20); do sleep 100 & done; echo forked'
	rl create --bundle $RSTATE/b/q1 q1 >/tmp/q1.out 2>&1 || why "create failed: $(cat /tmp/q1.out)" || return
	say "$(ls -ld $RCG/q1 2>&1)"
	[ "$(cat $RCG/q1/memory.max 2>&1)" = 67108864 ] || why "memory.max $(cat $RCG/q1/memory.max 2>&1)" || return
	[ "$(cat $RCG/q1/pids.max 2>&1)" = 10 ] || why "pids.max $(cat $RCG/q1/pids.max 2>&1)" || return
	rl start q1 >>/tmp/q1.out 2>&1 || why "start failed: $(cat /tmp/q1.out)" || return
	waitfor 30 rl_stopped q1 || why "still $(rl_status q1)" || return
	out=$(cat /tmp/q1.out)
	say "$out"
	echo "$out" | grep -qx 0 || why "not root in the container: $out" || return
	echo "$out" | grep -qx '0::/' || why "not at its own cgroup namespace root: $out" || return
	case $out in *"can't fork"*) ;; *) why "20 sleeps under pids.max 10 all started: $out" || return ;; esac
	out=$(rl delete q1 2>&1) || why "delete failed: $out" || return
	[ ! -e $RCG/q1 ] || why "$RCG/q1 left after delete"
}
t rootless_delegated_cgroup_limits_enforced rootless_delegated
rootless_undelegated() {
	rlbundle q2 '.linux.cgroupsPath = "/arca-v2/q2"' 'cat /proc/self/cgroup'
	out=$(rl run --bundle $RSTATE/b/q2 q2 2>&1)
	rc=$?
	say "$out"
	[ $rc = 0 ] || why "run exited $rc: $out" || return
	case $out in *"not delegated"*) ;; *) why "no warning about the missing delegation: $out" || return ;; esac
	[ ! -e $CG/arca-v2/q2 ] || why "a cgroup was made where the user may not"
}
t rootless_without_delegation_runs_without_cgroup rootless_undelegated
rm -rf $RSTATE/b
rmdir $RCG/shell $RCG 2>/dev/null

finish
