#!/bin/bash
# bench/cgroups.sh — the cgroup verbs of a running container, side by side: `events --stats`
# (what containerd's metrics poll calls), `update` (memory and pids), and `pause` + `resume`,
# for arca, crun, runc and youki in one hyperfine invocation per verb; ratios against crun
# (against runc where crun lacks the verb: it has no `events`).
#
# Usage: bench/cgroups.sh [RUNTIME...]   (LABEL=/path or a name on PATH; default arca=$ARCA
#        crun runc youki=$YOUKI).  ARCA defaults to the release build
#        (target/x86_64-unknown-linux-gnu/release/arca-runtime; `cargo build --release` first).
# Knobs: RUNS [100], WARMUP [5], OUT [/tmp/arca-bench/cgroups-<timestamp>], REF [crun].
#
# crun 1.8 refuses a hybrid host whose cgroup2 mount has controllers, so on such a host the
# script re-runs itself in a private mount namespace with /sys/fs/cgroup/unified unmounted:
# every runtime then sees the same plain cgroup v1, and the host is untouched.
# Each runtime gets its own --root and one detached busybox `sleep` container with memory and
# pids limits; a runtime whose verb fails once is left out of that table with a note.
set -euo pipefail
unset RUST_BACKTRACE RUST_LIB_BACKTRACE RUST_LOG

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
RUNS=${RUNS:-100}
WARMUP=${WARMUP:-5}
REF=${REF:-crun}
OUT=${OUT:-/tmp/arca-bench/cgroups-$(date +%Y%m%d-%H%M%S)}
ARCA=${ARCA:-$repo/target/x86_64-unknown-linux-gnu/release/arca-runtime}
YOUKI=${YOUKI:-$(command -v youki || echo /opt/youki/bin/youki)}

if [ "${ARCA_BENCH_INNER:-0}" != 1 ] && [ "$(stat -fc %T /sys/fs/cgroup)" = tmpfs ] &&
	[ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
	export ARCA_BENCH_INNER=1
	exec unshare --mount --propagation private /bin/bash -c \
		'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi

[ $# -gt 0 ] || set -- "arca=$ARCA" crun runc "youki=$YOUKI"
mkdir -p "$OUT"
work=$(mktemp -d /tmp/arca-bench-cgroups.XXXXXX)
labels=()
declare -A bin root id
cleanup() {
	for l in "${labels[@]}"; do
		"${bin[$l]}" --root "${root[$l]}" delete --force "${id[$l]}" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

"$repo/scripts/busybox-bundle.sh" "$work/bundle" sleep 1000 >/dev/null
for spec in "$@"; do
	label=${spec%%=*}
	path=${spec#*=}
	[ "$label" != "$spec" ] || path=$(command -v "$spec" || true)
	if [ -z "$path" ] || [ ! -x "$path" ]; then
		echo "note: $label not installed, skipped" | tee -a "$OUT/summary.md"
		continue
	fi
	b=$work/bundle-$label
	mkdir -p "$b"
	jq --arg rootfs "$work/bundle/rootfs" --arg cg "/arca-bench/$label-$$" \
		'.root.path = $rootfs | .linux.cgroupsPath = $cg
		| .linux.resources.memory = {"limit": 134217728} | .linux.resources.pids = {"limit": 100}' \
		"$work/bundle/config.json" >"$b/config.json"
	root[$label]=$work/root-$label
	id[$label]=bench-$label
	bin[$label]=$path
	env --block-signal=CHLD "$path" --root "${root[$label]}" run -d --bundle "$b" "${id[$label]}" \
		>"$work/$label.out" 2>&1 </dev/null ||
		{ echo "note: $label could not start a container: $(head -c 300 "$work/$label.out")" | tee -a "$OUT/summary.md"; continue; }
	labels+=("$label")
done

# bench VERB COMMAND-TEMPLATE: {rt}, {root}, {id} are filled in per runtime.
bench() {
	local verb=$1 template=$2 cmds=() names=() l cmd
	for l in "${labels[@]}"; do
		cmd=${template//\{rt\}/${bin[$l]}}
		cmd=${cmd//\{root\}/${root[$l]}}
		cmd=${cmd//\{id\}/${id[$l]}}
		if ! bash -c "$cmd" >/dev/null 2>"$work/err"; then
			echo "note: $l $verb failed, left out: $(head -c 300 "$work/err")" | tee -a "$OUT/summary.md"
			continue
		fi
		cmds+=("$cmd")
		names+=(-n "$l")
	done
	[ ${#cmds[@]} -gt 0 ] || return 0
	hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --export-json "$OUT/$verb.json" \
		"${names[@]}" "${cmds[@]}" >"$OUT/$verb.log" 2>&1 ||
		hyperfine --runs "$RUNS" --warmup "$WARMUP" --export-json "$OUT/$verb.json" \
			"${names[@]}" "${cmds[@]}" >"$OUT/$verb.log" 2>&1
	python3 - "$OUT/$verb.json" "$verb" "$REF" >>"$OUT/summary.md" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
verb, ref = sys.argv[2], sys.argv[3]
# crun has no `events`: that table is against runc.
if not any(r["command"] == ref for r in res):
    ref = "runc"
base = next((r["median"] for r in res if r["command"] == ref), None)
print(f"\n### {verb}\n\n| runtime | median ms | mean ± sd ms | vs {ref} |\n|---|---|---|---|")
for r in res:
    ratio = f"{r['median'] / base:.2f}×" if base else "n/a"
    print(f"| {r['command']} | {r['median']*1e3:.2f} | {r['mean']*1e3:.2f} ± {r['stddev']*1e3:.2f} | {ratio} |")
PY
}

{
	echo "# cgroup verbs on a running container ($(date -u +%Y-%m-%dT%H:%MZ), $RUNS runs, kernel $(uname -r))"
	echo
	echo "cgroups as the runtimes saw them: $(stat -fc %T /sys/fs/cgroup) at /sys/fs/cgroup; unified hidden: ${ARCA_BENCH_INNER:-0}"
} >>"$OUT/summary.md"
bench events-stats "{rt} --root {root} events --stats {id}"
bench update "{rt} --root {root} update --memory 134217728 --pids-limit 100 {id}"
bench pause-resume "{rt} --root {root} pause {id} && {rt} --root {root} resume {id}"
cat "$OUT/summary.md"
echo
echo "results in $OUT"
