#!/bin/bash
# bench/engine.sh — the engine's everyday cost, side by side with crun and Podman:
#   1. `run --rm … true`, back to back (one hyperfine run, 100 each):
#        arca run --rm --network none arca-busybox true   (image → snapshot → spec → runtime
#          in-process; networks are bench/network.sh's)
#        crun run of a prepared minimal busybox bundle     (the bare runtime: the floor)
#        crun run of the bundle arca made for the same container (its seccomp profile, caps,
#          masks and /etc files: what crun alone does for the same container)
#        podman run --rm --runtime crun --network none arca-busybox true (same image; with
#          --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 because podman's defaults, 2^20
#          and 2^22, need CAP_SYS_RESOURCE, which a sandboxed root may lack)
#   2. the same starts from idle (`--prepare 'sleep 0.2'`, IDLE_RUNS each): one `run` typed at
#      a prompt. A cgroup v1 join through cgroup.procs then waits an RCU grace period; arca's
#      init joins by itself (arca-cgroups/src/join.rs).
#   3. density: N `arca run -d … sleep` one after the other against `crun create` + `crun start`
#      of N bundles, ROUNDS rounds alternating (the issue's measure; medians).
# arca runs as installed (scripts/install.sh: an immutable binary, so no CVE-2019-5736 re-exec;
# bench/security.sh measures that re-exec).
#
# Usage: bench/engine.sh   (RUNS [100], IDLE_RUNS [30], N [100], ROUNDS [3],
#                           OUT [/tmp/arca-bench/engine-<timestamp>])
# Needs root, hyperfine, crun, podman, busybox-static; builds arca (release) first.
# crun <= 1.8 refuses hybrid cgroups with controllers on cgroup2: as bench/runtime.sh, the
# script re-runs itself in a private mount namespace with /sys/fs/cgroup/unified unmounted.
set -euo pipefail
unset RUST_BACKTRACE RUST_LIB_BACKTRACE RUST_LOG

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
RUNS=${RUNS:-100}
IDLE_RUNS=${IDLE_RUNS:-30}
N=${N:-100}
ROUNDS=${ROUNDS:-3}
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
built=${ARCA:-$repo/target/x86_64-unknown-linux-gnu/release/arca}
mkdir -p "$OUT"
work=$(mktemp -d /tmp/arca-bench-engine.XXXXXX)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
cgroup_tmpfs_mark
arca=$work/bin/arca
cleanup() {
	"$arca" --root "$work/arca" ps -aq --no-trunc 2>/dev/null | xargs -r -n 20 "$arca" --root "$work/arca" rm -f >/dev/null 2>&1 || true
	for i in $(seq "$N"); do crun delete -f "arca-bench-$$-$i" >/dev/null 2>&1 || true; done
	podman --root "$work/podman" --runroot "$work/podman-run" rm -af >/dev/null 2>&1 || true
	unmount_under "$work"
	cgroup_tmpfs_clean
	chattr -i "$arca" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/bin"
install -m 0755 "$built" "$arca"
chattr +i "$arca" 2>/dev/null || echo "note: no immutable flag on $work: arca re-execs itself (CVE-2019-5736)" | tee "$OUT/note.txt"

bash "$repo/scripts/busybox-image.sh" "$work/image" >/dev/null
bash "$repo/scripts/busybox-bundle.sh" "$work/bundle" true >/dev/null
bash "$repo/scripts/busybox-bundle.sh" "$work/sleep-bundle" sleep 60 >/dev/null
"$arca" --root "$work/arca" load -q -i "$work/image/image.tar" >/dev/null
podman --root "$work/podman" --runroot "$work/podman-run" load -q -i "$work/image/image.tar" >/dev/null

# arca's own bundle for `true`, for crun: its config.json on the prepared rootfs. crun 1.8 knows
# spec versions up to 1.0.x; the cgroup is crun's per-name default.
id=$("$arca" --root "$work/arca" create --network none arca-busybox true)
mkdir -p "$work/arca-bundle"
python3 - "$work/arca/containers/$id/config.json" "$work/arca-bundle/config.json" "$work/bundle/rootfs" <<'PY'
import json, sys
src, dst, rootfs = sys.argv[1:4]
c = json.load(open(src))
c["ociVersion"] = "1.0.2-dev"
c["root"]["path"] = rootfs
c["linux"].pop("cgroupsPath", None)
json.dump(c, open(dst, "w"), indent=1)
PY

{
	echo "date: $(date -Is)  kernel: $(uname -r)  cpus: $(nproc)"
	echo "arca: $("$arca" --version)  crun: $(crun --version | head -n 1)  podman: $(podman --version)"
	echo "hyperfine: $(hyperfine --version)"
} >"$OUT/env.txt"

arca_run="$arca --root $work/arca run --rm --network none arca-busybox true"
crun_run="crun run --bundle $work/bundle arca-bench-run-$$"
hyperfine -N --warmup 5 --runs "$RUNS" --style basic --export-json "$OUT/run.json" \
	--command-name "arca run --rm" "$arca_run" \
	--command-name "crun run (bare bundle)" "$crun_run" \
	--command-name "crun run (arca's bundle)" "crun run --bundle $work/arca-bundle arca-bench-same-$$" \
	--command-name "podman run --rm (crun)" \
	"podman --root $work/podman --runroot $work/podman-run run --rm --runtime crun --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 arca-busybox true" \
	>"$OUT/run.txt" 2>&1
hyperfine -N --prepare "sleep 0.2" --warmup 2 --runs "$IDLE_RUNS" --style basic --export-json "$OUT/idle.json" \
	--command-name "arca run --rm" "$arca_run" \
	--command-name "crun run (bare bundle)" "$crun_run" \
	>"$OUT/idle.txt" 2>&1

# Density: N detached sleepers one after another, the wall time of each loop; the two
# alternate so that drift (e.g. dying memory cgroups) falls on both alike.
density_arca() {
	local start
	start=$(date +%s.%N)
	for i in $(seq "$N"); do "$arca" --root "$work/arca" run -d --network none arca-busybox sleep 60 >/dev/null; done
	echo "$(date +%s.%N) - $start" | bc >>"$OUT/density-arca.txt"
	"$arca" --root "$work/arca" ps -q --no-trunc | xargs -r -n 20 "$arca" --root "$work/arca" rm -f >/dev/null
}
density_crun() {
	local start
	start=$(date +%s.%N)
	for i in $(seq "$N"); do
		crun create --bundle "$work/sleep-bundle" "arca-bench-$$-$i" && crun start "arca-bench-$$-$i"
	done
	echo "$(date +%s.%N) - $start" | bc >>"$OUT/density-crun.txt"
	for i in $(seq "$N"); do crun delete -f "arca-bench-$$-$i" >/dev/null; done
}
for _ in $(seq "$ROUNDS"); do density_crun; density_arca; done

python3 - "$OUT" "$N" <<'PY' | tee "$OUT/summary.md"
import json, statistics, sys
out, n = sys.argv[1], int(sys.argv[2])
def results(name):
    return {r["command"]: r for r in json.load(open(f"{out}/{name}.json"))["results"]}
def table(res, title):
    ref = res["crun run (bare bundle)"]["median"]
    runs = len(next(iter(res.values()))["times"])
    print(f"## {title} ({runs} runs each, medians)\n")
    print("| command | median | vs bare crun |")
    print("|---|---|---|")
    for name, r in res.items():
        print(f"| {name} | {r['median']*1000:.1f} ms | {r['median']/ref:.2f}× |")
    print()
print("# engine: run --rm of /bin/true, and detached sleepers\n")
table(results("run"), "back to back")
table(results("idle"), "each from idle (0.2 s apart)")
arca = [float(x) for x in open(f"{out}/density-arca.txt")]
crun = [float(x) for x in open(f"{out}/density-crun.txt")]
a, c = statistics.median(arca), statistics.median(crun)
print(f"## {n} containers started detached, one after another ({len(arca)} rounds, medians)\n")
print("| command | wall time | vs crun |")
print("|---|---|---|")
print(f"| arca run -d … sleep 60 | {a:.2f} s | {a/c:.2f}× |")
print(f"| crun create + start of {n} bundles | {c:.2f} s | 1.00× |")
PY
