#!/bin/bash
# bench/engine.sh — the engine's everyday cost, side by side in one hyperfine run:
#   arca run --rm --network none arca-busybox true   (image → snapshot → spec → runtime
#     in-process; networks are bench/network.sh's)
#   podman run --rm --runtime crun --network none arca-busybox true   (same image; with
#     --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 because podman's defaults, 2^20 and
#     2^22, need CAP_SYS_RESOURCE, which a sandboxed root may lack: crun then fails with
#     EPERM; arca caps its default at the caller's hard limit instead)
#   crun run of a prepared busybox bundle     (the bare runtime: the floor the engine adds to)
# then 100 `arca run -d … sleep` one after the other against `crun create` + `crun start` of
# 100 bundles (the issue's density measure). Ratios against bare crun.
#
# Usage: bench/engine.sh   (RUNS [100], OUT [/tmp/arca-bench/engine-<timestamp>], N [100])
# Needs root, hyperfine, crun, podman, busybox-static; builds arca (release) first.
# crun <= 1.8 refuses hybrid cgroups with controllers on cgroup2: as bench/runtime.sh, the
# script re-runs itself in a private mount namespace with /sys/fs/cgroup/unified unmounted.
set -euo pipefail
unset RUST_BACKTRACE RUST_LIB_BACKTRACE RUST_LOG

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
RUNS=${RUNS:-100}
N=${N:-100}
OUT=${OUT:-/tmp/arca-bench/engine-$(date +%Y%m%d-%H%M%S)}

if [ -z "${BENCH_IN_NS:-}" ]; then
	cargo build --release -q -p arca --manifest-path "$repo/Cargo.toml"
	if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] &&
		[ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
		export BENCH_IN_NS=1 OUT
		exec unshare --mount --propagation private /bin/bash -c \
			'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
	fi
fi
arca=${ARCA:-$repo/target/x86_64-unknown-linux-gnu/release/arca}
mkdir -p "$OUT"
work=$(mktemp -d /tmp/arca-bench-engine.XXXXXX)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
cgroup_tmpfs_mark
cleanup() {
	"$arca" --root "$work/arca" ps -aq --no-trunc 2>/dev/null | xargs -r -n 20 "$arca" --root "$work/arca" rm -f >/dev/null 2>&1 || true
	for i in $(seq "$N"); do crun delete -f "arca-bench-$$-$i" >/dev/null 2>&1 || true; done
	podman --root "$work/podman" --runroot "$work/podman-run" rm -af >/dev/null 2>&1 || true
	unmount_under "$work"
	cgroup_tmpfs_clean
	rm -rf "$work"
}
trap cleanup EXIT

bash "$repo/scripts/busybox-image.sh" "$work/image" >/dev/null
bash "$repo/scripts/busybox-bundle.sh" "$work/bundle" true >/dev/null
bash "$repo/scripts/busybox-bundle.sh" "$work/sleep-bundle" sleep 60 >/dev/null
"$arca" --root "$work/arca" load -q -i "$work/image/image.tar" >/dev/null
podman --root "$work/podman" --runroot "$work/podman-run" load -q -i "$work/image/image.tar" >/dev/null

{
	echo "date: $(date -Is)  kernel: $(uname -r)  cpus: $(nproc)"
	echo "arca: $("$arca" --version)  crun: $(crun --version | head -n 1)  podman: $(podman --version)"
	echo "hyperfine: $(hyperfine --version)"
} >"$OUT/env.txt"

hyperfine --warmup 5 --runs "$RUNS" --style basic --export-json "$OUT/run.json" \
	--command-name "arca run --rm" "$arca --root $work/arca run --rm --network none arca-busybox true" \
	--command-name "crun run (bare bundle)" "crun run --bundle $work/bundle arca-bench-run-\$\$" \
	--command-name "podman run --rm (crun)" \
	"podman --root $work/podman --runroot $work/podman-run run --rm --runtime crun --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 arca-busybox true" \
	>"$OUT/run.txt" 2>&1

# Density: N detached sleepers one after another, the wall time of the whole loop.
start=$(date +%s.%N)
for i in $(seq "$N"); do "$arca" --root "$work/arca" run -d --network none arca-busybox sleep 60 >/dev/null; done
arca_n=$(echo "$(date +%s.%N) - $start" | bc)
start=$(date +%s.%N)
for i in $(seq "$N"); do
	crun create --bundle "$work/sleep-bundle" "arca-bench-$$-$i" && crun start "arca-bench-$$-$i"
done
crun_n=$(echo "$(date +%s.%N) - $start" | bc)

python3 - "$OUT" "$N" "$arca_n" "$crun_n" <<'PY' | tee "$OUT/summary.md"
import json, sys
out, n, arca_n, crun_n = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
res = {r["command"]: r for r in json.load(open(f"{out}/run.json"))["results"]}
ref = res["crun run (bare bundle)"]["median"]
print(f"# engine: run --rm of /bin/true ({len(next(iter(res.values()))['times'])} runs, medians), and {n} detached sleepers\n")
print("| command | median | vs bare crun |")
print("|---|---|---|")
for name, r in res.items():
    print(f"| {name} | {r['median']*1000:.1f} ms | {r['median']/ref:.2f}× |")
print(f"\n| {n} containers started detached, one after another | wall time | vs crun |")
print("|---|---|---|")
print(f"| arca run -d … sleep 60 | {arca_n:.2f} s | {arca_n/crun_n:.2f}× |")
print(f"| crun create + start of {n} bundles | {crun_n:.2f} s | 1.00× |")
PY
