#!/bin/sh
# The engine's tests (`arca run`, `exec`, `stats`, `pause`, `stop`, `rm`, ...) on a pure cgroup v2
# hierarchy, run by /init in the test VM (see run-engine-v2-tests.sh). Busybox sh; jq is in the
# initramfs. Each test asserts on what the container saw and on what the host's cgroup v2 files
# say: arca gives every container the cgroup /arca/<id> (arca-engine's spec.rs).
#
# Every container runs with `--network none`: the CNI plugins and iptables that the default
# bridge network needs are not in the initramfs.
#
# Prints `ok <name>`, `not ok <name> <reason>`, `# ...` diagnostics and a final
# `N passed, M failed` line.

PARENT=arca
# shellcheck source=scripts/vm/guest-lib.sh
. /tests/guest-lib.sh

R=/var/lib/arca
IMG=arca-busybox
# A ARGS...: the engine on the guest's store. The timeout only keeps a hung command from
# hanging the VM until run-engine-v2-tests.sh's own timeout.
A() { timeout 120 arca --root $R "$@"; }

id_of() { A inspect "$1" 2>/dev/null | jq -r '.[0].Id // empty'; }
state_of() { A inspect "$1" 2>/dev/null | jq -r ".[0].State.$2"; }
is_running() { [ "$(state_of "$1" Running)" = true ]; }
# cgdir NAME: the container's cgroup directory on the host.
cgdir() { echo "$CG/$PARENT/$(id_of "$1")"; }
# cg_is NAME FILE EXPECTED: a file of the container's cgroup holds EXPECTED.
cg_is() {
	v=$(cat "$(cgdir "$1")/$2" 2>&1) || why "cannot read $2: $v" || return
	[ "$v" = "$3" ] || why "$2 = '$v', want '$3'"
}
# restarts_done NAME N: exited after N restarts.
restarts_done() { [ "$(A inspect "$1" | jq -r '.[0] | "\(.RestartCount) \(.State.Status)"')" = "$2 exited" ]; }
ps_status() { A ps -a --filter "name=$1" --format '{{.Status}}' 2>&1; }
# Every container's cgroup directory on the host, one per line.
cgroups_left() { [ ! -d "$CG/$PARENT" ] || find "$CG/$PARENT" -mindepth 1 -type d; }

# guest-lib.sh's cleanup and leftover check are arca-runtime's: these are the engine's.
cleanup() {
	ids=$(A ps -aq 2>/dev/null)
	# shellcheck disable=SC2086 # one argument per id
	[ -z "$ids" ] || A rm -f $ids >/dev/null 2>&1 || echo "# cleanup: rm -f $ids failed"
}
no_leftovers() {
	left=$(A ps -aq 2>&1)
	[ -z "$left" ] || why "containers left: $left" || return
	dirs=$(cgroups_left 2>&1)
	[ -z "$dirs" ] || why "cgroup dirs left: $dirs" || return
	mnts=$(grep " $R/" /proc/self/mountinfo)
	[ -z "$mnts" ] || why "mounts left under $R: $mnts"
}

# --- the store: the image loaded, the engine sees v2 ------------------------------------------

setup() {
	if [ -f /modules/overlay.ko ]; then
		# Debian builds overlayfs as a module; without it the store would use copy snapshots.
		insmod /modules/overlay.ko || why "insmod /modules/overlay.ko failed" || return
	fi
	out=$(A load -i /images/busybox.tar 2>&1) || why "load failed: $out" || return
	say "$out"
	out=$(A info 2>&1) || why "info failed: $out" || return
	say "$out"
	case $out in *"Cgroup: "*v2*) ;; *) why "info does not say cgroup v2: $out" || return ;; esac
	if [ -f /modules/overlay.ko ]; then
		case $out in *"Storage Driver: overlay"*) ;; *) why "not on overlay snapshots: $out" || return ;; esac
	fi
	out=$(A images 2>&1)
	echo "$out" | grep -q "$IMG" || why "$IMG not in images: $out"
}
t load_image_on_v2 setup

# --- run --rm: the cgroup /arca/<id> while it runs, gone after ----------------------------------

# The container waits for /sig/go, a file the host creates in the bind-mounted /tmp/sig once it
# has looked at the running container.
run_rm() {
	mkdir -p /tmp/sig && rm -f /tmp/sig/go
	A run --rm --network none --name rm1 -v /tmp/sig:/sig $IMG \
		sh -c 'cat /proc/self/cgroup; while [ ! -e /sig/go ]; do sleep 0.1; done' >/tmp/rm1.out 2>&1 &
	bg=$!
	waitfor 60 is_running rm1 || { touch /tmp/sig/go; why "not running after 60 s: $(cat /tmp/rm1.out)"; return; }
	id=$(id_of rm1)
	pid=$(state_of rm1 Pid)
	dir=$CG/$PARENT/$id
	say "id $id, pid $pid, /proc/$pid/cgroup: $(cat "/proc/$pid/cgroup" 2>&1)"
	[ -d "$dir" ] || { touch /tmp/sig/go; why "no $dir while it runs: $(cgroups_left)"; return; }
	grep -qx "$pid" "$dir/cgroup.procs" ||
		{ touch /tmp/sig/go; why "pid $pid not in $dir/cgroup.procs: $(cat "$dir/cgroup.procs")"; return; }
	[ "$(cat "/proc/$pid/cgroup")" = "0::/$PARENT/$id" ] ||
		{ touch /tmp/sig/go; why "/proc/$pid/cgroup: $(cat "/proc/$pid/cgroup")"; return; }
	touch /tmp/sig/go
	wait $bg
	rc=$?
	out=$(cat /tmp/rm1.out)
	say "exit $rc: $out"
	[ $rc = 0 ] || why "run exited $rc: $out" || return
	# The container's own cgroup namespace: it sees itself at the root of a v2 hierarchy.
	[ "$out" = "0::/" ] || why "/proc/self/cgroup in the container: $out, want 0::/" || return
	[ ! -e "$dir" ] || why "$dir left after the container exited" || return
	[ -z "$(A ps -aq)" ] || why "--rm left a container: $(A ps -a)" || return
	[ ! -e "$R/containers/$id" ] || why "$R/containers/$id left after --rm"
}
t run_rm_in_v2_cgroup_then_gone run_rm
cleanup

# --- resources: the host's files and the container's view -----------------------------------------

lim_started=0
limits() {
	out=$(A run -d --network none --name lim -m 64m --cpus 0.5 --pids-limit 50 $IMG sleep 1000 2>&1) ||
		why "run -d failed: $out" || return
	lim_started=1
	dir=$(cgdir lim)
	sc=$(cat "$CG/$PARENT/cgroup.subtree_control")
	for c in memory pids cpu; do
		echo " $sc " | grep -q " $c " || why "$c not enabled in $CG/$PARENT/cgroup.subtree_control: $sc" || return
	done
	cg_is lim memory.max 67108864 || return
	# Docker's default swap allowance with -m: as much swap as memory (memory+swap = 2 × 64m).
	cg_is lim memory.swap.max 67108864 || return
	cg_is lim cpu.max "50000 100000" || return
	cg_is lim pids.max 50 || return
	out=$(A exec lim sh -c 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max /proc/self/cgroup' 2>&1) ||
		why "exec failed: $out" || return
	say "inside: $out"
	[ "$out" = "67108864
50000 100000
50
0::/" ] || why "inside, want 67108864|50000 100000|50|0::/, got: $out"
}
t run_d_memory_cpus_pids_limits limits

if [ $lim_started = 1 ]; then
	stats_nostream() {
		out=$(A stats --no-stream lim 2>&1) || why "stats failed: $out" || return
		say "$out"
		row=$(echo "$out" | grep ' lim ')
		# MEM USAGE / LIMIT: a non-zero usage read from memory.current, the limit from memory.max
		# (64 MiB = 67.1 MB in Docker's decimal units); PIDS: the one sleep.
		mem=$(echo "$row" | sed -n 's#.* \([0-9.]*[kMG]*B\) / \([0-9.]*[kMG]*B\) .*#\1 \2#p')
		[ -n "$mem" ] || why "no MEM USAGE / LIMIT in: $row" || return
		[ "${mem% *}" != 0B ] || why "memory usage 0: $row" || return
		[ "${mem#* }" = 67.1MB ] || why "memory limit ${mem#* }, want 67.1MB: $row" || return
		[ "$(echo "$row" | awk '{ print $NF }')" = 1 ] || why "PIDS, want 1: $row"
	}
	t stats_no_stream_memory_from_v2 stats_nostream

	top_pids() {
		out=$(A top lim 2>&1) || why "top failed: $out" || return
		say "$out"
		pid=$(state_of lim Pid)
		# top lists the pids of the container's cgroup.procs.
		echo "$out" | grep -Eq "^$pid +0 +sleep 1000\$" || why "no 'PID 0 sleep 1000' row for pid $pid: $out"
	}
	t top_lists_cgroup_pids top_pids

	pause_unpause() {
		dir=$(cgdir lim)
		out=$(A pause lim 2>&1) || why "pause failed: $out" || return
		cg_is lim cgroup.freeze 1 || return
		waitfor 10 grep -qx 'frozen 1' "$dir/cgroup.events" || why "cgroup.events: $(cat "$dir/cgroup.events")" || return
		st=$(ps_status lim)
		say "paused: $st; inspect State: $(A inspect lim | jq -c '.[0].State | {Status, Paused}')"
		case $st in *"(Paused)"*) ;; *) why "ps does not show it paused: $st" || return ;; esac
		[ "$(state_of lim Paused)" = true ] || why "inspect State.Paused: $(state_of lim Paused)" || return
		[ "$(state_of lim Status)" = paused ] || why "inspect State.Status: $(state_of lim Status)" || return
		out=$(A unpause lim 2>&1) || why "unpause failed: $out" || return
		cg_is lim cgroup.freeze 0 || return
		waitfor 10 grep -qx 'frozen 0' "$dir/cgroup.events" || why "cgroup.events after unpause: $(cat "$dir/cgroup.events")" || return
		st=$(ps_status lim)
		case $st in *"(Paused)"*) why "ps still shows it paused: $st" || return ;; esac
		[ "$(state_of lim Status)" = running ] || why "inspect State.Status after unpause: $(state_of lim Status)" || return
		out=$(A exec lim echo thawed 2>&1)
		[ "$out" = thawed ] || why "exec after unpause: $out"
	}
	t pause_freezes_unpause_thaws pause_unpause

	rm_running() {
		dir=$(cgdir lim)
		pid=$(state_of lim Pid)
		out=$(A rm -f lim 2>&1) || why "rm -f failed: $out" || return
		[ ! -e "$dir" ] || why "$dir left after rm -f" || return
		! alive "$pid" || why "init $pid alive after rm -f" || return
		[ -z "$(id_of lim)" ] || why "lim still recorded after rm -f"
	}
	t rm_f_running_removes_cgroup rm_running
fi
cleanup

# --- stop: the TERM trap's exit code, cgroup removed ------------------------------------------------

stop_trap() {
	out=$(A run -d --network none --name trap $IMG \
		sh -c 'trap "exit 42" TERM; while :; do sleep 0.1; done' 2>&1) || why "run -d failed: $out" || return
	waitfor 60 is_running trap || why "not running: $(ps_status trap)" || return
	dir=$(cgdir trap)
	[ -d "$dir" ] || why "no $dir" || return
	start=$(date +%s)
	out=$(A stop -t 60 trap 2>&1) || why "stop failed: $out" || return
	took=$(($(date +%s) - start))
	say "stop took ${took}s; $(ps_status trap)"
	# The trap ends it: no SIGKILL after the timeout.
	[ $took -lt 50 ] || why "stop took ${took}s: TERM not delivered?" || return
	[ "$(state_of trap ExitCode)" = 42 ] || why "ExitCode $(state_of trap ExitCode), want 42" || return
	[ "$(state_of trap Status)" = exited ] || why "Status $(state_of trap Status)" || return
	case $(ps_status trap) in "Exited (42)"*) ;; *) why "ps: $(ps_status trap)" || return ;; esac
	[ ! -e "$dir" ] || why "$dir left after the container stopped" || return
	id=$(id_of trap)
	out=$(A rm trap 2>&1) || why "rm failed: $out" || return
	[ -z "$(id_of trap)" ] || why "still recorded after rm" || return
	[ ! -e "$R/containers/$id" ] || why "$R/containers/$id left after rm"
}
t stop_records_term_trap_exit_code stop_trap
cleanup

# --- restart policy: the cgroup made again for each run, none left -------------------------------

restart() {
	out=$(A run -d --network none --name rs --restart on-failure:2 $IMG sh -c 'cat /proc/self/cgroup; exit 3' 2>&1) ||
		why "run -d failed: $out" || return
	waitfor 60 restarts_done rs 2 || why "RestartCount/Status: $(A inspect rs | jq -c '.[0] | [.RestartCount, .State]')" || return
	[ "$(state_of rs ExitCode)" = 3 ] || why "ExitCode $(state_of rs ExitCode), want 3" || return
	logs=$(A logs rs 2>&1)
	say "logs: $logs"
	[ "$(echo "$logs" | grep -cx '0::/')" = 3 ] || why "want three runs each at its cgroup namespace's root: $logs" || return
	left=$(cgroups_left)
	[ -z "$left" ] || why "cgroups left after the last run: $left"
}
t restart_policy_reruns_in_fresh_cgroup restart
cleanup

# --- --init: arca's reaper at pid 1 forwards the stop signal ------------------------------------

init_pid1() {
	out=$(A run --rm --init --network none $IMG sh -c 'tr "\0" " " </proc/1/cmdline; echo; echo sh=$$' 2>&1) ||
		why "run --init failed: $out" || return
	say "$out"
	case $out in "/run/arca-init "*) ;; *) why "pid 1 is not /run/arca-init: $out" || return ;; esac
	case $out in *"sh=1") why "sh is pid 1 under --init: $out" || return ;; esac
	# sleep as pid 1 would ignore TERM (no handler) until stop's SIGKILL; under the init it dies
	# of the forwarded TERM and the init exits 128 + 15.
	out=$(A run -d --init --network none --name init1 $IMG sleep 1000 2>&1) || why "run -d --init failed: $out" || return
	waitfor 60 is_running init1 || why "not running: $(ps_status init1)" || return
	start=$(date +%s)
	out=$(A stop -t 60 init1 2>&1) || why "stop failed: $out" || return
	took=$(($(date +%s) - start))
	say "stop took ${took}s; $(ps_status init1)"
	[ $took -lt 50 ] || why "stop took ${took}s: TERM not forwarded by the init" || return
	[ "$(state_of init1 ExitCode)" = 143 ] || why "ExitCode $(state_of init1 ExitCode), want 143"
}
t init_is_pid1_and_forwards_term init_pid1
cleanup

# --- the OOM killer ---------------------------------------------------------------------------------

oom() {
	# tail keeps a /dev/zero "line" (no newline ever comes) in memory until the limit stops it.
	A run --network none --name oom -m 16m $IMG sh -c 'exec tail /dev/zero' >/tmp/oom.out 2>&1
	rc=$?
	say "exit $rc: $(cat /tmp/oom.out)"
	[ $rc = 137 ] || why "run exited $rc, want 137 (SIGKILL): $(cat /tmp/oom.out)" || return
	[ "$(state_of oom ExitCode)" = 137 ] || why "ExitCode $(state_of oom ExitCode), want 137" || return
	# arca records no OOM flag; the kernel's log says which memory cgroup's limit killed it.
	id=$(id_of oom)
	line=$(dmesg | grep 'oom-kill:' | grep "oom_memcg=/$PARENT/$id,")
	say "$line"
	[ -n "$line" ] || why "no oom-kill in the kernel log for memcg /$PARENT/$id: $(dmesg | grep -i oom | tail -n 3)" || return
	[ ! -e "$CG/$PARENT/$id" ] || why "$CG/$PARENT/$id left after the OOM kill"
}
t oom_killed_under_memory_limit_exits_137 oom
cleanup

# --- 10 at once ---------------------------------------------------------------------------------

parallel() {
	i=1
	pids=
	while [ $i -le 10 ]; do
		A run -d --network none --name par$i $IMG sleep 1000 >/tmp/par$i.out 2>&1 &
		pids="$pids $!"
		i=$((i + 1))
	done
	i=1
	failed=
	for p in $pids; do
		wait "$p" || failed="$failed par$i: $(cat /tmp/par$i.out);"
		i=$((i + 1))
	done
	[ -z "$failed" ] || why "run -d failed:$failed" || return
	n=$(A ps -q | wc -l)
	[ "$n" = 10 ] || why "$n running, want 10: $(A ps -a)" || return
	n=$(cgroups_left | wc -l)
	[ "$n" = 10 ] || why "$n cgroups under $CG/$PARENT, want 10: $(cgroups_left)" || return
	for d in $(cgroups_left); do
		[ -n "$(cat "$d/cgroup.procs")" ] || why "$d has no process" || return
	done
	out=$(A rm -f par1 par2 par3 par4 par5 par6 par7 par8 par9 par10 2>&1) || why "rm -f failed: $out" || return
	[ -z "$(A ps -aq)" ] || why "left after rm -f: $(A ps -a)" || return
	left=$(cgroups_left)
	[ -z "$left" ] || why "cgroups left after rm -f: $left"
}
t ten_parallel_runs_then_rm_f parallel
cleanup

finish
