#!/usr/bin/env bash
# arca's main job on a built-in default: build a busybox bundle from Debian's busybox-static
# and run a container from it with arca-runtime (as root).
#
#   scripts/demo.sh [COMMAND...]      default: a shell line that shows what the container sees
set -euo pipefail
cd "$(dirname "$0")/.."

installed=/usr/local/bin/arca-runtime
[ -x "$installed" ] || installed=target/x86_64-unknown-linux-gnu/release/arca-runtime
runtime=${ARCA_RUNTIME:-$installed}
[ -x "$runtime" ] || { echo "demo.sh: $runtime not built (cargo build --release)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root" >&2; exit 1; }

if [ $# -eq 0 ]; then
	set -- sh -c 'echo "hello from $(hostname), pid $$ in its own pid namespace"; id; grep -E "^(NoNewPrivs|CapEff)" /proc/self/status; mount | grep -c . | sed "s/^/mounts: /"'
fi
bundle=$(mktemp -d /tmp/arca-demo.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
scripts/busybox-bundle.sh "$bundle" "$@" >/dev/null
# The bundle's config.json sets hostname "runc" (runc spec's default); name ours.
sed -i 's/"hostname": "runc"/"hostname": "arca-demo"/' "$bundle/config.json"
"$runtime" --root /run/arca-demo run --bundle "$bundle" "demo-$$"
