#!/usr/bin/env bash
# arca's main job on a built-in default: build a busybox image from Debian's busybox-static,
# load it into arca's image store (verified blob by blob, unpacked into a snapshot), list it,
# and run a container from it with `arca run` (no daemon: the OCI runtime runs in-process),
# detached, and serving HTTP on a published port of the default (CNI bridge) network.
# Then the same root filesystem as a plain OCI bundle under `arca-runtime`, runc's command line.
#
#   scripts/demo.sh [COMMAND...]      default: a shell line that shows what the container sees
set -euo pipefail
cd "$(dirname "$0")/.."

installed=/usr/local/bin/arca-runtime
[ -x "$installed" ] || installed=target/x86_64-unknown-linux-gnu/release/arca-runtime
runtime=${ARCA_RUNTIME:-$installed}
[ -x "$runtime" ] || { echo "demo.sh: $runtime not built (cargo build --release)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root" >&2; exit 1; }
arca=$(dirname "$runtime")/arca
[ -x "$arca" ] || arca=target/x86_64-unknown-linux-gnu/release/arca
[ -x "$arca" ] || { echo "demo.sh: $arca not built (cargo build --release)" >&2; exit 1; }

if [ $# -eq 0 ]; then
	set -- sh -c 'echo "hello from $(hostname), pid $$ in its own pid namespace"; id; grep -E "^(NoNewPrivs|CapEff)" /proc/self/status; mount | grep -c . | sed "s/^/mounts: /"'
fi
work=$(mktemp -d /tmp/arca-demo.XXXXXX)
cleanup() {
	"$arca" --root "$work/store" ps -aq --no-trunc 2>/dev/null | xargs -r "$arca" --root "$work/store" rm -f >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

scripts/busybox-image.sh "$work/image" >/dev/null
echo "== arca load -i busybox.tar; arca images"
"$arca" --root "$work/store" load -q -i "$work/image/image.tar" >/dev/null
"$arca" --root "$work/store" images
echo "== arca run --rm --hostname arca-demo arca-busybox ..."
"$arca" --root "$work/store" run --rm --hostname arca-demo arca-busybox "$@"
echo "== arca run -d, ps, logs, stop, rm"
"$arca" --root "$work/store" run -d --name demo arca-busybox sh -c 'echo up; trap "echo stopping; exit 0" TERM; while :; do sleep 0.1; done' >/dev/null
"$arca" --root "$work/store" ps
sleep 0.3
"$arca" --root "$work/store" logs demo
"$arca" --root "$work/store" stop demo >/dev/null
"$arca" --root "$work/store" ps -a
"$arca" --root "$work/store" rm demo >/dev/null

echo "== arca run -d -p 127.0.0.1::80 (the default network: CNI bridge, NAT, a published port)"
"$arca" --root "$work/store" run -d --name web -p 127.0.0.1::80 arca-busybox sh -c 'mkdir -p /www && echo "hello over the network from $(hostname)" > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
hostport=$("$arca" --root "$work/store" port web 80)
echo "arca port web 80: $hostport"
for _ in $(seq 50); do busybox wget -qO- "http://$hostport/" 2>/dev/null && break; sleep 0.1; done
"$arca" --root "$work/store" rm -f web >/dev/null

echo "== arca-runtime run (an OCI bundle, runc's command line)"
scripts/busybox-bundle.sh "$work/bundle" "$@" >/dev/null
# The bundle's config.json sets hostname "runc" (runc spec's default); name ours.
sed -i 's/"hostname": "runc"/"hostname": "arca-demo"/' "$work/bundle/config.json"
"$runtime" --root /run/arca-demo run --bundle "$work/bundle" "demo-$$"
