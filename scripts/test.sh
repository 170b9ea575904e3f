#!/usr/bin/env bash
# Runs arca's whole test suite on a Debian 12 machine, as root.
#
#   bash scripts/test.sh [extra cargo test args...]
#
# Installs the apt packages the tests need (only the missing ones), builds the
# workspace and runs every test. Exits with cargo test's exit code.
#
# Environment:
#   CARGO_TARGET_DIR   build dir (default /var/cache/arca/target, reused by CI)
#   ARCA_TEST_RUNTIME  run the runtime tests against this binary instead of the
#                      one built here (e.g. /usr/sbin/runc)
#   ARCA_TEST_PROFILE  "debug" (default) or "release"
set -euo pipefail

cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'test.sh: error: %s\n' "$*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root: the tests create containers, cgroups and netns"

# Packages the tests need. The consumer tests may add theirs here.
PACKAGES=(
	build-essential
	pkg-config
	libseccomp-dev
	busybox-static
	iproute2
	# networking (crates/arca-net, crates/arca/tests/network.rs): the CNI reference plugins, iptables for their rules, curl as the host-side client
	containernetworking-plugins
	iptables
	curl
	# user-mode networking (--network pasta)
	passt
	runc
	containerd
	podman
	uidmap
	jq
	# the cgroup v2 VM tests (scripts/vm/run-v2-tests.sh, tests/cgroup_v2_vm.rs; the engine's: run-engine-v2-tests.sh, crates/arca/tests/engine_v2_vm.rs)
	qemu-system-x86
	linux-image-amd64
	cpio
	apparmor
	# the SELinux VM test (scripts/vm/run-selinux-tests.sh, tests/selinux_vm.rs)
	selinux-policy-default
	policycoreutils
	# OCI layouts and archives written by tools we did not write (crates/arca-image/tests)
	umoci
	skopeo
	# a real registry for the pull tests (crates/arca-image/tests/registry.rs), htpasswd for its basic auth
	docker-registry
	apache2-utils
	# the systemd VM test's Debian root (scripts/vm/systemd-rootfs.sh, tests/systemd_vm.rs)
	debootstrap
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null 2>&1 || die "cargo not found (needs Rust >= the workspace's rust-version)"

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/arca/target}
mkdir -p "$CARGO_TARGET_DIR"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}

# Debug builds: the tests run the real binary, but a release build (fat LTO,
# one codegen unit) costs far more on 2 cores than it saves at run time.
profile_args=()
case "${ARCA_TEST_PROFILE:-debug}" in
debug) ;;
release) profile_args=(--release) ;;
*) die "ARCA_TEST_PROFILE must be debug or release" ;;
esac

# Leftovers of an earlier, killed run must not break this one.
cgroup_mounts=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") {
	if ($(i + 1) == "cgroup" || $(i + 1) == "cgroup2") print $5; break } }' /proc/self/mountinfo)
for m in $cgroup_mounts; do
	[ -d "$m/arca-test" ] || continue
	find "$m/arca-test" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
done

log "checking formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets "${profile_args[@]}" -- -D warnings

log "building (cargo $(cargo --version | cut -d' ' -f2), target dir $CARGO_TARGET_DIR)"
cargo build --workspace --all-targets "${profile_args[@]}"

log "testing"
set +e
cargo test --workspace --no-fail-fast "${profile_args[@]}" "$@"
rc=$?
set -e
log "cargo test exited $rc"
exit $rc
