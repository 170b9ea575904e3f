#!/bin/bash
# The systemd cgroup driver's tests, run by arca-tests.service in the systemd test VM (see
# run-systemd-tests.sh), with systemd as pid 1 on either cgroup layout. Prints `ok NAME`,
# `not ok NAME REASON`, `# ...` diagnostics and `N passed, M failed`, then powers off.
exec >/dev/ttyS0 2>&1
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

B=/tmp/bundles
TEMPLATE=/bundle/config.json
mkdir -p $B
pass=0
failn=0
REASON=

rt() { timeout 60 arca-runtime --root /run/arca --systemd-cgroup "$@"; }
# A stuck call shows as a failed step, not as a silent guest until the harness's timeout.
systemctl() { timeout 30 /usr/bin/systemctl "$@"; }
say() { printf '%s\n' "$*" | sed 's/^/#   /'; }
why() {
	REASON=$(printf '%s' "$*" | tr '\n' '|' | cut -c1-400)
	return 1
}
t() {
	local name=$1
	shift
	REASON=
	if "$@"; then
		echo "ok $name"
		pass=$((pass + 1))
	else
		echo "not ok $name ${REASON:-failed}"
		failn=$((failn + 1))
	fi
}
# A detached container keeps the stdout it was given: `run -d` output goes to files, never to a
# $(...) pipe, which would wait for the container.
# mkbundle ID CGROUPS-PATH JQ-FILTER SHELL-COMMAND
mkbundle() {
	mkdir -p "$B/$1"
	jq --arg cp "$2" --arg cmd "$4" \
		".root.path = \"/bundle/rootfs\" | .linux.cgroupsPath = \$cp
		| .process.args = [\"sh\", \"-c\", \$cmd] | $3" <"$TEMPLATE" >"$B/$1/config.json"
}
cleanup() {
	for id in $(rt list -q 2>/dev/null); do rt delete --force "$id" >/dev/null 2>&1; done
}
unit_prop() { systemctl show -p "$2" --value "$1" 2>&1; }
is_active() { [ "$(systemctl is-active "$1" 2>/dev/null)" = active ]; }
gone() { ! is_active "$1" && [ ! -e "$CG$2" ]; }
waitfor() {
	local n=$(($1 * 10))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}

if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	LAYOUT=unified
	CG=/sys/fs/cgroup
	MEMFILE=memory.max
	PIDSFILE=pids.max
	MEMCG=$CG
	PIDSCG=$CG
else
	LAYOUT=legacy
	CG=/sys/fs/cgroup/systemd
	MEMFILE=memory.limit_in_bytes
	PIDSFILE=pids.max
	MEMCG=/sys/fs/cgroup/memory
	PIDSCG=/sys/fs/cgroup/pids
fi
echo "# kernel $(uname -r), $(systemctl --version | head -n 1), cgroups $LAYOUT"
echo "# $(grep cgroup /proc/self/mountinfo | awk '{ print $5, $9, $10 }' | tr '\n' ';')"
echo "# runtime: $(arca-runtime --version 2>&1 | head -n 1)"

# --- a scope in a named slice, with limits ------------------------------------------------------

RES='.linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 20}
	| .linux.resources.cpu = {"shares": 1024, "quota": 50000, "period": 100000}'
scope_with_limits() {
	mkbundle s1 "machine.slice:arca:s1" "$RES" 'exec sleep 1000'
	rt run -d --bundle $B/s1 s1 >/tmp/s1.out 2>&1 || why "run -d failed: $(cat /tmp/s1.out)" || return
	local pid path=/machine.slice/arca-s1.scope
	pid=$(rt state s1 | jq -r .pid)
	is_active arca-s1.scope || why "arca-s1.scope is $(systemctl is-active arca-s1.scope)" || return
	[ "$(unit_prop arca-s1.scope Slice)" = machine.slice ] || why "Slice=$(unit_prop arca-s1.scope Slice)" || return
	[ "$(unit_prop arca-s1.scope Delegate)" = yes ] || why "Delegate=$(unit_prop arca-s1.scope Delegate)" || return
	grep -q ":$path\$" /proc/$pid/cgroup || why "init not in $path: $(cat /proc/$pid/cgroup)" || return
	[ "$(cat $MEMCG$path/$MEMFILE)" = 67108864 ] || why "$MEMFILE $(cat $MEMCG$path/$MEMFILE)" || return
	[ "$(cat $PIDSCG$path/$PIDSFILE)" = 20 ] || why "$PIDSFILE $(cat $PIDSCG$path/$PIDSFILE)" || return
	local mem
	if [ $LAYOUT = unified ]; then mem=$(unit_prop arca-s1.scope MemoryMax); else mem=$(unit_prop arca-s1.scope MemoryLimit); fi
	[ "$mem" = 67108864 ] || why "unit memory limit $mem" || return
	[ "$(unit_prop arca-s1.scope TasksMax)" = 20 ] || why "TasksMax=$(unit_prop arca-s1.scope TasksMax)" || return
	# systemd re-applies unit properties on daemon-reload: the limits must survive it.
	systemctl daemon-reload
	[ "$(cat $MEMCG$path/$MEMFILE)" = 67108864 ] || why "$MEMFILE after daemon-reload: $(cat $MEMCG$path/$MEMFILE)" || return
	out=$(rt update --memory 128m --pids-limit 30 s1 2>&1) || why "update failed: $out" || return
	systemctl daemon-reload
	[ "$(cat $MEMCG$path/$MEMFILE)" = 134217728 ] || why "$MEMFILE after update + daemon-reload: $(cat $MEMCG$path/$MEMFILE)" || return
	[ "$(cat $PIDSCG$path/$PIDSFILE)" = 30 ] || why "$PIDSFILE after update + daemon-reload: $(cat $PIDSCG$path/$PIDSFILE)" || return
	out=$(rt delete --force s1 2>&1) || why "delete --force failed: $out" || return
	waitfor 5 gone arca-s1.scope $path || why "scope or $CG$path left after delete" || return
	! kill -0 "$pid" 2>/dev/null || why "init $pid alive after delete --force"
}
t scope_in_slice_with_limits scope_with_limits
cleanup

default_path() {
	mkbundle s2 "" . 'exec sleep 1000'
	rt run -d --bundle $B/s2 s2 >/tmp/s2.out 2>&1 || why "run -d failed: $(cat /tmp/s2.out)" || return
	is_active arca-s2.scope || why "arca-s2.scope is $(systemctl is-active arca-s2.scope)" || return
	[ "$(unit_prop arca-s2.scope Slice)" = system.slice ] || why "Slice=$(unit_prop arca-s2.scope Slice)" || return
	[ -d $CG/system.slice/arca-s2.scope ] || why "no $CG/system.slice/arca-s2.scope" || return
	rt delete --force s2 >/dev/null 2>&1
	waitfor 5 gone arca-s2.scope /system.slice/arca-s2.scope || why "scope left after delete"
}
t empty_cgroups_path_is_system_slice_arca_id default_path
cleanup

nested_slice() {
	mkbundle s3 "kubepods-besteffort.slice:cri:s3" . 'exec sleep 1000'
	rt run -d --bundle $B/s3 s3 >/tmp/s3.out 2>&1 || why "run -d failed: $(cat /tmp/s3.out)" || return
	local path=/kubepods.slice/kubepods-besteffort.slice/cri-s3.scope
	[ -d $CG$path ] || why "no $CG$path" || return
	out=$(rt exec s3 cat /proc/self/cgroup 2>&1) || why "exec failed: $out" || return
	echo "$out" | grep -q "$path" || why "exec'd process not in $path: $out" || return
	rt delete --force s3 >/dev/null 2>&1
	waitfor 5 gone cri-s3.scope $path || why "scope left after delete"
}
t nested_slice_like_kubepods nested_slice
cleanup

exits_by_itself() {
	mkbundle s4 "machine.slice:arca:s4" . 'echo hello'
	out=$(rt run --bundle $B/s4 s4 2>&1)
	rc=$?
	[ $rc = 0 ] && [ "$out" = hello ] || why "run exited $rc: $out" || return
	waitfor 5 gone arca-s4.scope /machine.slice/arca-s4.scope || why "scope left after run"
}
t foreground_run_leaves_no_scope exits_by_itself
cleanup

bad_path() {
	mkbundle s5 "/not/a/slice" . 'true'
	if out=$(rt run --bundle $B/s5 s5 2>&1); then why "an absolute path was accepted: $out"; return; fi
	say "$out"
	case $out in *slice:prefix:name*) ;; *) why "error does not explain the form: $out"; return ;; esac
	[ -z "$(rt list -q)" ] || why "state left: $(rt list -q)"
}
t cgroupfs_path_refused_with_a_clear_error bad_path
cleanup

kill_runtime_mid_run() {
	mkbundle s6 "machine.slice:arca:s6" . 'exec sleep 1000'
	rt run --bundle $B/s6 s6 >/dev/null 2>&1 &
	local rpid=$!
	waitfor 10 is_active arca-s6.scope || why "scope never active" || return
	kill -9 $rpid
	out=$(rt delete --force s6 2>&1) || why "delete --force failed: $out" || return
	waitfor 5 gone arca-s6.scope /machine.slice/arca-s6.scope || why "scope left after delete"
}
t sigkill_of_runtime_then_delete_stops_scope kill_runtime_mid_run
cleanup

# --- v1 controllers systemd does not manage, joined through cgroupfs -------------------------------

v1_extra() {
	mkbundle s7 "machine.slice:arca:s7" '.linux.resources.network = {"classID": 1048577, "priorities": [{"name": "lo", "priority": 5}]}
		| .linux.resources.hugepageLimits = [{"pageSize": "2MB", "limit": 4194304}]' 'exec sleep 1000'
	rt run -d --bundle $B/s7 s7 >/tmp/s7.out 2>&1 || why "run -d failed: $(cat /tmp/s7.out)" || return
	local path=/machine.slice/arca-s7.scope pid
	pid=$(rt state s7 | jq -r .pid)
	[ "$(cat /sys/fs/cgroup/net_cls,net_prio$path/net_cls.classid)" = 1048577 ] ||
		why "net_cls.classid $(cat /sys/fs/cgroup/net_cls,net_prio$path/net_cls.classid 2>&1)" || return
	grep -qx 'lo 5' /sys/fs/cgroup/net_cls,net_prio$path/net_prio.ifpriomap ||
		why "net_prio.ifpriomap: $(cat /sys/fs/cgroup/net_cls,net_prio$path/net_prio.ifpriomap 2>&1)" || return
	[ "$(cat /sys/fs/cgroup/hugetlb$path/hugetlb.2MB.limit_in_bytes)" = 4194304 ] ||
		why "hugetlb.2MB.limit_in_bytes $(cat /sys/fs/cgroup/hugetlb$path/hugetlb.2MB.limit_in_bytes 2>&1)" || return
	grep -q "net_cls,net_prio:$path\$" /proc/$pid/cgroup || why "init not in net_cls $path: $(cat /proc/$pid/cgroup)" || return
	rt delete --force s7 >/dev/null 2>&1
	waitfor 5 gone arca-s7.scope $path || why "scope left after delete" || return
	[ ! -e /sys/fs/cgroup/net_cls,net_prio$path ] || why "net_cls dir left after delete"
}
if [ $LAYOUT = legacy ]; then
	t v1_net_cls_net_prio_hugetlb_joined v1_extra
	cleanup
fi

echo "$pass passed, $failn failed"
systemctl --force --force poweroff
