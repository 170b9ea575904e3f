#!/bin/sh
# Helpers of the guest test scripts (v2-tests.sh, selinux-tests.sh), sourced from /tests with
# PARENT set (containers get linux.cgroupsPath /$PARENT/<id>): running the runtime, making
# bundles from /bundle/config.json, the `ok`/`not ok` reporting and, at the end, the check that
# nothing was left behind with the final `N passed, M failed` line (`finish`).

CG=/sys/fs/cgroup
B=/tmp/bundles
TEMPLATE=/bundle/config.json
mkdir -p $B

pass=0
failn=0
REASON=

rt() { timeout 60 arca-runtime --root /run/arca "$@"; }
say() { printf '%s\n' "$*" | sed 's/^/#   /'; }
oneline() { printf '%s' "$*" | tr '\n' '|' | cut -c1-400; }
why() {
	REASON=$(oneline "$*")
	return 1
}
# t NAME CMD...: runs CMD (a function that sets REASON through `why` on failure), reports it.
t() {
	name=$1
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

# mkbundle ID JQ-FILTER SHELL-COMMAND: bundle $B/ID sharing /bundle/rootfs, process `sh -c CMD`.
mkbundle() {
	mkdir -p "$B/$1"
	jq --arg id "$1" --arg cmd "$3" --arg parent "$PARENT" \
		".root.path = \"/bundle/rootfs\"
		| .linux.cgroupsPath = \"/\" + \$parent + \"/\" + \$id
		| .process.args = [\"sh\", \"-c\", \$cmd]
		| $2" <"$TEMPLATE" >"$B/$1/config.json"
}

dir_of() { echo "$CG/$PARENT/$1"; }
status_of() { rt state "$1" 2>/dev/null | jq -r .status; }
pid_of() { rt state "$1" 2>/dev/null | jq -r .pid; }
is_status() { [ "$(status_of "$1")" = "$2" ]; }
no_dir() { [ ! -e "$(dir_of "$1")" ]; }
procs_empty() { [ -z "$(cat "$(dir_of "$1")/cgroup.procs" 2>/dev/null)" ]; }
nprocs() { wc -l <"$(dir_of "$1")/cgroup.procs" 2>/dev/null || echo 0; }
in_procs() { grep -qx "$2" "$(dir_of "$1")/cgroup.procs" 2>/dev/null; }
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# waitfor SECONDS CMD...: polls CMD every 0.1 s.
waitfor() {
	n=$(($1 * 10))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}
# create_start ID: create (output to /tmp/ID.out) and start; sets PID.
create_start() {
	rt create --bundle "$B/$1" --pid-file "/tmp/$1.pid" "$1" >"/tmp/$1.out" 2>&1 ||
		why "create $1 failed: $(cat "/tmp/$1.out")" || return
	rt start "$1" >>"/tmp/$1.out" 2>&1 || why "start $1 failed: $(cat "/tmp/$1.out")" || return
	PID=$(cat "/tmp/$1.pid")
}
# Deletes every container left by a failed test, so the next one starts clean.
cleanup() {
	for id in $(rt list -q 2>/dev/null); do
		rt delete --force "$id" >/dev/null 2>&1 || echo "# cleanup: delete --force $id failed"
	done
}
# check_file ID FILE EXPECTED
check_file() {
	v=$(cat "$(dir_of "$1")/$2" 2>&1) || why "cannot read $2: $v" || return
	[ "$v" = "$3" ] || why "$2 = '$v', want '$3'"
}
# mountinfo_field LINE N: field N of a mountinfo line; fstype is the one after " - ".
fstype_of() { printf '%s\n' "$1" | sed -n 's/.* - \([^ ]*\) .*/\1/p'; }
field() { printf '%s\n' "$1" | awk -v n="$2" '{ print $n }'; }

# --- nothing left -------------------------------------------------------------------------------

no_leftovers() {
	left=$(rt list -q 2>&1)
	[ -z "$left" ] || why "containers left: $left" || return
	dirs=$([ ! -d "$CG/$PARENT" ] || find "$CG/$PARENT" -mindepth 1 -type d 2>&1)
	[ -z "$dirs" ] || why "cgroup dirs left: $dirs"
}
# finish: the last test (nothing left behind) and the summary line; returns nonzero on a failure.
finish() {
	t no_container_cgroups_left no_leftovers
	echo "$pass passed, $failn failed"
	[ $failn = 0 ]
}
