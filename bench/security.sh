#!/usr/bin/env bash
# What security costs: `run` of /bin/true with and without a seccomp profile (the default
# profile arca ships, the one Podman uses), for every runtime, in the same hyperfine rounds as
# bench/runtime.sh; and arca with and without the CVE-2019-5736 re-exec (an immutable
# installed binary skips it; one in the build tree re-execs from a read-only bind).
#
#   bench/security.sh [RUNTIMES...]   default: crun runc arca=<installed> arca-reexec=<build>
#
# Knobs as bench/runtime.sh (RUNS, ROUNDS, OUT...). Needs root, python3, hyperfine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
profile=${PROFILE:-$repo/crates/arca-container/profiles/seccomp-default.json}
[ -f "$profile" ] || profile=$repo/crates/arca-runtime/tests/fixtures/podman-seccomp.json
base=${BUNDLE:-/tmp/arca-bench/bundle}
OUT=${OUT:-/tmp/arca-bench/results/security-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
if [ $# -eq 0 ]; then
	set -- crun runc "arca=${ARCA:-/usr/local/bin/arca-runtime}" \
		"arca-reexec=$repo/target/x86_64-unknown-linux-gnu/release/arca-runtime"
fi
BUNDLE=$base BUILD=0 OUT=$OUT/prepare "$here/runtime.sh" prepare >/dev/null
sec=$base-seccomp
rm -rf "$sec" && mkdir -p "$sec"
python3 - "$base/config.json" "$sec/config.json" "$profile" "$base/rootfs" <<'PY'
import json, sys
src, dst, prof, rootfs = sys.argv[1:5]
c = json.load(open(src))
p = json.load(open(prof))
c["linux"]["seccomp"] = p.get("linux", {}).get("seccomp", p) if "linux" in p else p
c["root"]["path"] = rootfs
json.dump(c, open(dst, "w"), indent=2)
PY
echo "## run /bin/true without seccomp" | tee "$OUT/summary.md"
BUNDLE=$base BUILD=0 OUT=$OUT/off "$here/runtime.sh" run "$@" | tee -a "$OUT/summary.md"
echo "## run /bin/true with the default seccomp profile ($(basename "$profile"))" | tee -a "$OUT/summary.md"
BUNDLE=$sec BUILD=0 OUT=$OUT/on "$here/runtime.sh" run "$@" | tee -a "$OUT/summary.md"
echo "results: $OUT/summary.md"
