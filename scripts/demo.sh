#!/usr/bin/env bash
# arca's main job on a built-in default: build a busybox image from Debian's busybox-static,
# pull it into arca's image store (verified blob by blob) and list it, then run a container
# from the same busybox root filesystem with arca-runtime (as root). `arca run` from the store
# comes with the engine.
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
arca=$(dirname "$runtime")/arca
[ -x "$arca" ] || arca=target/x86_64-unknown-linux-gnu/release/arca
if [ -x "$arca" ]; then
	scripts/busybox-image.sh "$bundle/image" >/dev/null
	echo "== arca pull oci-archive:busybox.tar, then arca images"
	"$arca" --root "$bundle/store" pull -q "oci-archive:$bundle/image/image.tar" >/dev/null
	"$arca" --root "$bundle/store" images
	echo "== arca-runtime run"
fi
scripts/busybox-bundle.sh "$bundle" "$@" >/dev/null
# The bundle's config.json sets hostname "runc" (runc spec's default); name ours.
sed -i 's/"hostname": "runc"/"hostname": "arca-demo"/' "$bundle/config.json"
"$runtime" --root /run/arca-demo run --bundle "$bundle" "demo-$$"
