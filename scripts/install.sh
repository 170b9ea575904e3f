#!/usr/bin/env bash
# Installs the release builds of `arca` (the engine's CLI) and arca-runtime into
# /usr/local/bin (or $PREFIX/bin). arca-runtime is made immutable (chattr +i): a container that tricks arca into exec'ing its own binary can then
# not write it (CVE-2019-5736), and arca skips the re-exec it would otherwise do to protect
# itself. Re-running replaces the installed binary.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
src=${ARCA_RUNTIME:-target/x86_64-unknown-linux-gnu/release/arca-runtime}
[ -x "$src" ] || { echo "install.sh: $src not built (cargo build --release)" >&2; exit 1; }
dest=${PREFIX:-/usr/local}/bin/arca-runtime
mkdir -p "$(dirname "$dest")"
if [ -e "$dest" ]; then
	chattr -i "$dest" 2>/dev/null || true
fi
install -m 0755 "$src" "$dest.new"
mv -f "$dest.new" "$dest"
if ! chattr +i "$dest" 2>/dev/null; then
	echo "install.sh: $dest: this filesystem has no immutable flag; arca will protect itself by re-exec" >&2
fi
echo "$dest"
# The engine clones container inits from itself (run, start, the monitor): immutable too, so
# the CVE-2019-5736 defence costs it no re-exec either.
engine=${ARCA_ENGINE:-target/x86_64-unknown-linux-gnu/release/arca}
if [ -x "$engine" ]; then
	edest=$(dirname "$dest")/arca
	[ -e "$edest" ] && { chattr -i "$edest" 2>/dev/null || true; }
	install -m 0755 "$engine" "$edest.new"
	mv -f "$edest.new" "$edest"
	chattr +i "$edest" 2>/dev/null || true
	echo "$edest"
fi
