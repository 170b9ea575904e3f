#!/bin/bash
# bench/network.sh — what a container's network costs, side by side in one hyperfine run:
#   arca run --rm --network none arca-busybox true     (a namespace with lo, no CNI)
#   arca run --rm arca-busybox true                    (the default network: CNI bridge +
#     host-local + portmap + firewall, ADD and DEL, from Debian's containernetworking-plugins)
#   arca run --rm -p 8080:80 arca-busybox true         (the same with a published port)
#   podman run --rm --network none / default network   (Podman 4 with netavark), crun
# The setup cost per container is the difference between a network and none, per engine.
#
# Everything runs in a network namespace of its own (unshare --net), so the bridges and
# firewall rules both engines make never touch the host's; and, as bench/engine.sh, with the
# hybrid hierarchy's cgroup2 mount hidden (crun <= 1.8 refuses it otherwise).
#
# Usage: bench/network.sh   (RUNS [50], OUT [/tmp/arca-bench/network-<timestamp>])
# Needs root, hyperfine, podman (with crun), containernetworking-plugins, iptables,
# busybox-static; builds arca (release) first.
set -euo pipefail
unset RUST_BACKTRACE RUST_LIB_BACKTRACE RUST_LOG

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
RUNS=${RUNS:-50}
OUT=${OUT:-/tmp/arca-bench/network-$(date +%Y%m%d-%H%M%S)}

if [ -z "${BENCH_IN_NS:-}" ]; then
	cargo build --release -q -p arca --manifest-path "$repo/Cargo.toml"
	export BENCH_IN_NS=1 OUT
	exec unshare --mount --net --propagation private /bin/bash -c '
		ip link set lo up
		if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] &&
			[ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
			umount /sys/fs/cgroup/unified
		fi
		exec "$0" "$@"' "$0" "$@"
fi
arca=${ARCA:-$repo/target/x86_64-unknown-linux-gnu/release/arca}
mkdir -p "$OUT"
work=$(mktemp -d /tmp/arca-bench-network.XXXXXX)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
cgroup_tmpfs_mark
podman=(podman --root "$work/podman" --runroot "$work/podman-run")
cleanup() {
	"$arca" --root "$work/arca" ps -aq --no-trunc 2>/dev/null | xargs -r -n 20 "$arca" --root "$work/arca" rm -f >/dev/null 2>&1 || true
	"${podman[@]}" rm -af >/dev/null 2>&1 || true
	unmount_under "$work"
	cgroup_tmpfs_clean
	rm -rf "$work"
}
trap cleanup EXIT

bash "$repo/scripts/busybox-image.sh" "$work/image" >/dev/null
"$arca" --root "$work/arca" load -q -i "$work/image/image.tar" >/dev/null
"${podman[@]}" load -q -i "$work/image/image.tar" >/dev/null
# Podman's ulimits: see bench/engine.sh (its defaults need CAP_SYS_RESOURCE).
prun="${podman[*]} run --rm --runtime crun --ulimit nofile=1024:1024 --ulimit nproc=4096:4096"

{
	echo "date: $(date -Is)  kernel: $(uname -r)  cpus: $(nproc)"
	echo "arca: $("$arca" --version)  podman: $(podman --version) ($("${podman[@]}" info --format '{{.Host.NetworkBackend}}'))"
	echo "cni plugins: $(dpkg-query -W -f '${Version}' containernetworking-plugins)  iptables: $(iptables --version)"
	echo "hyperfine: $(hyperfine --version)"
} >"$OUT/env.txt"

hyperfine --warmup 3 --runs "$RUNS" --style basic --export-json "$OUT/network.json" \
	--command-name "arca none" "$arca --root $work/arca run --rm --network none arca-busybox true" \
	--command-name "arca bridge" "$arca --root $work/arca run --rm arca-busybox true" \
	--command-name "arca bridge -p" "$arca --root $work/arca run --rm -p 8080:80 arca-busybox true" \
	--command-name "podman none" "$prun --network none arca-busybox true" \
	--command-name "podman bridge" "$prun arca-busybox true" \
	--command-name "podman bridge -p" "$prun -p 8080:80 arca-busybox true" \
	>"$OUT/network.txt" 2>&1

python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
import json, sys
out = sys.argv[1]
res = {r["command"]: r["median"] * 1000 for r in json.load(open(f"{out}/network.json"))["results"]}
print("# network setup per container: run --rm of /bin/true (medians, ms)\n")
print("| engine | --network none | default network | + -p 8080:80 | network cost | with -p |")
print("|---|---|---|---|---|---|")
for e in ("arca", "podman"):
    n, b, p = res[f"{e} none"], res[f"{e} bridge"], res[f"{e} bridge -p"]
    print(f"| {e} | {n:.1f} | {b:.1f} | {p:.1f} | +{b-n:.1f} | +{p-n:.1f} |")
a = res["arca bridge"] - res["arca none"]
p = res["podman bridge"] - res["podman none"]
print(f"\nnetwork setup, arca vs podman: {a:.1f} vs {p:.1f} ms ({a/p:.2f}×); "
      f"whole run with a network: {res['arca bridge']:.1f} vs {res['podman bridge']:.1f} ms "
      f"(arca {res['podman bridge']/res['arca bridge']:.1f}× faster)")
PY
