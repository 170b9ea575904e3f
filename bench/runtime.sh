#!/bin/bash
# bench/runtime.sh — time `arca-runtime run` of a busybox /bin/true bundle against
# crun, runc and youki (one hyperfine invocation per round, all runtimes side by side),
# plus peak RSS (GNU time), the create/start/state/delete cycle and `podman run --rm`
# with --runtime arca-runtime vs podman's default runtime.
#
# Self-contained: needs only Debian-packaged tools: bash, coreutils, util-linux
# (unshare, mount), hyperfine, time (/usr/bin/time), busybox-static, python3, procps,
# (podman for the podman table), plus the runtime binaries.  Adapted from the shared
# harness tools/bench-runtime.sh (same subcommands, knobs and workarounds).
#
# Usage:
#   bench/runtime.sh                     = bench/runtime.sh all (default runtimes)
#   bench/runtime.sh SUBCOMMAND [RUNTIME...]
#   RUNTIME is a binary name/path, or LABEL=/path/to/binary (label used in tables).
#   Without RUNTIME arguments the default set is used:
#       arca=$ARCA crun runc youki=$YOUKI
#   ARCA defaults to the arca-runtime that `cargo build --release -p arca-runtime` (run
#   first) produces: target/x86_64-unknown-linux-gnu/release/ with the workspace's
#   build.target, else target/release/.  BUILD=0 skips the build and takes the newest
#   arca-runtime under target/; setting ARCA to a binary skips the build too.  YOUKI defaults to `youki` on PATH, else
#   /opt/youki/bin/youki.  A runtime that is not installed is skipped with a note
#   (in the log and in summary.md), not an error.
#   The reference runtime for ratios is $REF (default: crun).
#
# Subcommands:
#   prepare            build $BUNDLE (busybox rootfs + config.json running /bin/true)
#                      and $BUNDLE-sleep (same rootfs, runs /bin/sleep 1000)
#   run  RT...         hyperfine: "RT run --bundle B <fresh id>" for every RT, plus the
#                      unshare+chroot floor, in ONE hyperfine invocation per round
#   cold RT...         like run, but hyperfine --prepare "sleep $COLD_GAP" before each
#                      run: a lone container start (cgroup v1 migration pays an RCU
#                      grace period after an idle spell; back-to-back runs hide it)
#   lifecycle RT...    hyperfine: create; start; poll state until stopped; delete
#   rss  RT...         peak RSS (GNU time %M) of "RT run", $RSS_RUNS times each
#   density RT...      create+start $DENSITY_N detached "sleep 1000" containers per RT,
#                      time it, MemAvailable/MemFree delta, then kill+delete them all
#   podman [RT...]     hyperfine: "podman run --rm" with default runtime, --runtime crun,
#                      --runtime runc and --runtime RT for each extra RT given
#   table              the combined table (run median, mean ± sd, ratios, peak RSS)
#                      from the run/rss results already in $OUT
#   all RT...          prepare + run + rss + combined table + cold + lifecycle + podman
#                      (+ density if DENSITY=1)
#   resummarize NAME TITLE   rebuild a table from $OUT/NAME.r*.json
#
# Examples:
#   bench/runtime.sh                                   # everything, ~10 min
#   RUNS=200 ROUNDS=10 BUILD=0 bench/runtime.sh run    # just the run table
#   bench/runtime.sh run crun arca=/tmp/other/arca-runtime
#
# Environment knobs (defaults in brackets):
#   BUNDLE [/tmp/arca-bench/bundle]  OUT [/tmp/arca-bench/results/<timestamp>]
#   RUNS [200] total runs per command for "run", split into ROUNDS [10] hyperfine
#   invocations; LIFECYCLE_RUNS [50]; PODMAN_RUNS [30]; COLD_RUNS [40], COLD_GAP [0.1]
#   WARMUP [3] per round   RSS_RUNS [20]  DENSITY_N [100]  REF [crun]
#   HIDE_UNIFIED [auto]  1 = always, 0 = never.  crun <= 1.8 refuses to run on a
#       "hybrid" cgroup host whose cgroup2 mount (/sys/fs/cgroup/unified) has any
#       controller enabled ("cgroups in hybrid mode not supported, drop all controllers
#       from cgroupv2").  With auto, if that file is non-empty, the whole benchmark is
#       re-executed inside a private mount namespace (unshare -m) in which
#       /sys/fs/cgroup/unified is unmounted, so every runtime sees plain cgroup v1.
#       Nothing outside that namespace is changed.
#   PODMAN_OPTS  extra global podman options; the script always uses a private store
#       and a private CONTAINERS_CONF under $PODMAN_DIR [/tmp/arca-bench/podman]
#       (cgroupfs manager, file events, file locks, ulimits the host allows) and
#       --network none.
#   BLOCK_SIGCHLD_FOR [youki]  labels whose "run" is wrapped in env --block-signal=CHLD
set -euo pipefail
# the sandbox exports RUST_BACKTRACE=1; a Rust runtime would then capture a backtrace
# for every error value it creates (and print one on panics): not a production setting
unset RUST_BACKTRACE RUST_LIB_BACKTRACE RUST_LOG

BUNDLE=${BUNDLE:-/tmp/arca-bench/bundle}
RUNS=${RUNS:-200}
LIFECYCLE_RUNS=${LIFECYCLE_RUNS:-50}
PODMAN_RUNS=${PODMAN_RUNS:-30}
COLD_RUNS=${COLD_RUNS:-40}
COLD_GAP=${COLD_GAP:-0.1}
ROUNDS=${ROUNDS:-10}
WARMUP=${WARMUP:-3}
RSS_RUNS=${RSS_RUNS:-20}
DENSITY_N=${DENSITY_N:-100}
REF=${REF:-crun}
HIDE_UNIFIED=${HIDE_UNIFIED:-auto}
PODMAN_DIR=${PODMAN_DIR:-/tmp/arca-bench/podman}
PODMAN_IMAGE=${PODMAN_IMAGE:-localhost/perf-busybox:latest}
OUT=${OUT:-/tmp/arca-bench/results/$(date +%Y%m%d-%H%M%S)}
SELF=$(readlink -f "$0")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
BUILD=${BUILD:-1}
YOUKI=${YOUKI:-$(command -v youki || echo /opt/youki/bin/youki)}
# The newest arca-runtime under the target dir: the workspace's .cargo/config.toml sets
# build.target, so cargo writes target/<triple>/release/ rather than target/release/.
newest_arca() {
    local t=${CARGO_TARGET_DIR:-$REPO/target}
    ls -t "$t"/release/arca-runtime "$t"/*/release/arca-runtime 2>/dev/null | head -1
}
if [ -z "${ARCA:-}" ]; then
    ARCA=$(newest_arca)
    ARCA=${ARCA:-${CARGO_TARGET_DIR:-$REPO/target}/release/arca-runtime}
    ARCA_DEFAULT=1
fi

die() { echo "runtime.sh: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- build arca-runtime
# (before the namespace re-exec, once)
if [ -z "${BENCH_IN_NS:-}" ] && [ "${ARCA_DEFAULT:-0}" = 1 ] && [ "$BUILD" = 1 ]; then
    case ${1:-all} in
        run|cold|lifecycle|rss|density|podman|all)
            log "building arca-runtime (cargo build --release -p arca-runtime; BUILD=0 skips)"
            # cargo's JSON messages name the binary it built (wherever build.target and
            # CARGO_TARGET_DIR put it)
            built=$(cd "$REPO" && cargo build --release -p arca-runtime --message-format=json-render-diagnostics \
                | python3 -c 'import json,sys
for l in sys.stdin:
    try: m = json.loads(l)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "arca-runtime":
        print(m["executable"])') || die "cargo build failed (BUILD=0 to use the existing $ARCA)"
            [ -n "$built" ] && [ -x "$built" ] || die "cargo build did not report the arca-runtime binary"
            export ARCA=$built ;;
    esac
fi

# ---------------------------------------------------------------- cgroup workaround
if [ -z "${BENCH_IN_NS:-}" ]; then
    need=0
    if [ "$HIDE_UNIFIED" = 1 ]; then need=1
    elif [ "$HIDE_UNIFIED" = auto ] && [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] \
         && [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] \
         && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then need=1
    fi
    if [ $need = 1 ]; then
        log "hybrid cgroups with controllers on cgroup2 ($(cat /sys/fs/cgroup/unified/cgroup.controllers)):" \
            "re-running inside a private mount ns with /sys/fs/cgroup/unified unmounted"
        export BENCH_IN_NS=1 OUT
        exec unshare --mount --propagation private /bin/bash -c \
            'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$SELF" "$@"
    fi
    export BENCH_IN_NS=0
fi
# With /sys/fs/cgroup/unified unmounted, crun still writes "unified/<id>/cgroup.procs"
# (O_CREAT) and so leaves a directory per container on the tmpfs underneath, which is the
# host's /sys/fs/cgroup tmpfs (hidden under the cgroup2 mount there).  Remove what this
# run added there on exit.
if [ "$BENCH_IN_NS" = 1 ] && [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = tmpfs ]; then
    UNIFIED_BEFORE=$(mktemp)
    ls -A /sys/fs/cgroup/unified > "$UNIFIED_BEFORE"
    cleanup_unified() {
        local e
        ls -A /sys/fs/cgroup/unified | grep -vxFf "$UNIFIED_BEFORE" | while IFS= read -r e; do
            [ -n "$e" ] && rm -rf --one-file-system "/sys/fs/cgroup/unified/$e"
        done || true  # grep finds nothing when crun left nothing: not an error (set -e)
        rm -f "$UNIFIED_BEFORE"
    }
    trap cleanup_unified EXIT
fi

# ---------------------------------------------------------------- runtimes
# Runtimes whose foreground "run" needs SIGCHLD blocked by the caller: youki 0.7.0
# blocks signals only after the container has started, so a container that exits
# at once (/bin/true) can exit before that, its SIGCHLD is discarded and "youki run"
# then waits forever (7/100 and 11/100 runs in two trials here).  For these labels "run" is invoked
# as "env --block-signal=CHLD RT run ..." (coreutils env; costs one exec, which the
# "REF+env" row measures).  Set BLOCK_SIGCHLD_FOR="" to measure them raw.
BLOCK_SIGCHLD_FOR=${BLOCK_SIGCHLD_FOR-youki}
wrap_for() { # label -> prefix
    local w
    for w in $BLOCK_SIGCHLD_FOR; do [ "$w" = "$1" ] && { echo "env --block-signal=CHLD "; return; }; done
    echo ""
}
declare -a LABELS=() BINS=()
parse_runtimes() {
    LABELS=(); BINS=()
    local a label bin
    for a in "$@"; do
        if [[ "$a" == *=* ]]; then label=${a%%=*}; bin=${a#*=}
        else bin=$a; label=$(basename "$a"); fi
        bin=$(command -v "$bin" || true)
        if [ -z "$bin" ] || [ ! -x "$bin" ]; then
            # a missing peer is skipped, not fatal (noted once per subcommand)
            log "NOTE: runtime '$a' not found/executable: skipped"
            [ -z "${OUT:-}" ] || [ ! -d "$OUT" ] || grep -qsF "runtime \`$a\` not found" "$OUT/summary.md" \
                || printf '\n_Note: runtime `%s` not found/executable: skipped._\n' "$a" >> "$OUT/summary.md"
            continue
        fi
        bin=$(readlink -f "$bin")   # absolute: podman --runtime needs it
        LABELS+=("$label"); BINS+=("$bin")
    done
    [ ${#BINS[@]} -gt 0 ] || die "no runtime given"
}

env_info() {
    {
        echo "date: $(date -Is)"
        echo "kernel: $(uname -r)  cpus: $(nproc)  mem: $(awk '/MemTotal/{print $2" kB"}' /proc/meminfo)"
        echo "loadavg at start: $(cat /proc/loadavg)"
        echo "cgroup fs: /sys/fs/cgroup=$(stat -fc %T /sys/fs/cgroup) unified=$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null || echo none) (in-ns=$BENCH_IN_NS)"
        echo "hyperfine: $(hyperfine --version)"
        echo "repo: $REPO at $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" status --porcelain -- crates 2>/dev/null | grep -q . && echo ' (crates/ modified)')"
        [ ! -e "$ARCA" ] || echo "arca binary: $ARCA ($(stat -c '%s bytes, built %y' "$ARCA"))"
        local i
        for i in "${!BINS[@]}"; do
            echo "runtime ${LABELS[$i]}: ${BINS[$i]}: $("${BINS[$i]}" --version 2>&1 | head -1)"
        done
    } | tee -a "$OUT/env.txt" >&2
}

# ---------------------------------------------------------------- prepare
cmd_prepare() {
    local rootfs=$BUNDLE/rootfs a d
    if [ ! -x "$rootfs/bin/busybox" ]; then
        log "building busybox rootfs in $rootfs"
        mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root}
        cp /bin/busybox "$rootfs/bin/busybox"
        for a in $("$rootfs/bin/busybox" --list-full); do
            d=$(dirname "$a"); mkdir -p "$rootfs/$d"
            [ -e "$rootfs/$a" ] || [ -L "$rootfs/$a" ] || ln -s /bin/busybox "$rootfs/$a"
        done
        printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
        printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
    fi
    local specgen
    specgen=$(command -v runc || command -v crun) || die "need runc or crun for 'spec'"
    mk_config() { # dir rootpath args-json
        local dir=$1 tmp
        tmp=$(mktemp -d)
        (cd "$tmp" && "$specgen" spec)
        python3 - "$tmp/config.json" "$dir/config.json" "$2" "$3" <<'EOF'
import json, sys
src, dst, root, args = sys.argv[1:5]
c = json.load(open(src))
c["process"]["terminal"] = False
c["process"]["args"] = json.loads(args)
c["root"]["path"] = root
json.dump(c, open(dst, "w"), indent=2)
EOF
        rm -rf "$tmp"
    }
    [ -f "$BUNDLE/config.json" ] || mk_config "$BUNDLE" rootfs '["/bin/true"]'
    mkdir -p "$BUNDLE-sleep"
    [ -f "$BUNDLE-sleep/config.json" ] || mk_config "$BUNDLE-sleep" "$rootfs" '["/bin/sleep","1000"]'
    log "bundle: $BUNDLE ($(du -sh "$rootfs" | cut -f1)), sleep bundle: $BUNDLE-sleep"
}

# ---------------------------------------------------------------- summary helper
summarize() { # title json...   (merges the per-round exports by command name)
    local title=$1; shift
    python3 - "$REF" "$title" "$@" <<'EOF' | tee -a "$OUT/summary.md"
import json, sys, statistics as st
ref, title, files = sys.argv[1], sys.argv[2], sys.argv[3:]
times, order, cpu = {}, [], {}
for f in files:
    for r in json.load(open(f))["results"]:
        c = r["command"]
        if c not in times:
            times[c] = []; order.append(c); cpu[c] = [0.0, 0.0, 0]
        times[c] += r["times"]
        k = len(r["times"])   # hyperfine exports mean user/system per command
        cpu[c][0] += r["user"] * k; cpu[c][1] += r["system"] * k; cpu[c][2] += k
def stats(t):
    return dict(mean=st.mean(t), sd=st.stdev(t) if len(t) > 1 else 0.0,
                median=st.median(t), min=min(t), max=max(t), n=len(t))
S = {c: stats(times[c]) for c in order}
R = S.get(ref)
print(f"\n### {title}\n")
print(f"{len(files)} round(s), command order reversed every other round; times in ms; ratios vs {ref}\n")
print("| command | mean ± sd | median | min | max | runs | ratio mean | ratio median | ratio min | user+sys (CPU) | ratio CPU |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
cput = {c: (cpu[c][0] + cpu[c][1]) / cpu[c][2] for c in order}
for c in order:
    x = S[c]
    rr = (lambda k: x[k] / R[k]) if R else (lambda k: float("nan"))
    print("| %s | %.2f ± %.2f | %.2f | %.2f | %.2f | %d | %.2f | %.2f | %.2f | %.2f (%.2f+%.2f) | %.2f |" % (
        c, x["mean"]*1e3, x["sd"]*1e3, x["median"]*1e3, x["min"]*1e3, x["max"]*1e3,
        x["n"], rr("mean"), rr("median"), rr("min"),
        cput[c]*1e3, cpu[c][0]/cpu[c][2]*1e3, cpu[c][1]/cpu[c][2]*1e3,
        cput[c] / cput[ref] if ref in cput else float("nan")))
print("\nuser+sys = CPU time of the command and the children it waited for (hyperfine), "
      "less sensitive to other load than wall time; it misses work done by processes "
      "not reaped by the command (e.g. a detached container init reaped by PID 1).")
EOF
}

hf() { # name title (--command-name LABEL CMD)...
    local name=$1 title=$2; shift 2
    local args=() lbl cmd err
    log "hyperfine: $title"
    # run every command once first; a failing one is reported and left out, so one
    # broken runtime does not abort the comparison of the others
    while [ $# -ge 3 ] && [ "$1" = --command-name ]; do
        lbl=$2; cmd=$3; shift 3
        if err=$(sh -c "$cmd" 2>&1 </dev/null); then
            args+=("$lbl" "$cmd")
        else
            log "precheck FAILED for '$lbl': $err"
            printf '\n**%s: `%s` FAILED in precheck** (left out of the table):\n```\n%s\n```\n' \
                "$title" "$lbl" "$(echo "$err" | head -20)" >> "$OUT/summary.md"
        fi
    done
    [ ${#args[@]} -gt 0 ] || { log "nothing left to benchmark"; return 0; }
    # The machine may be shared/noisy: split the runs into $ROUNDS hyperfine
    # invocations (all commands side by side in each) and reverse the command order
    # every other round, so slow drifts in background load hit all commands alike.
    local r j per=$(( (RUNS + ROUNDS - 1) / ROUNDS )) jsons=() hargs i n=$(( ${#args[@]} / 2 ))
    [ "$per" -ge 2 ] || per=2
    for r in $(seq "$ROUNDS"); do
        hargs=()
        for i in $(seq 0 $((n - 1))); do
            if [ $((r % 2)) = 0 ]; then j=$((n - 1 - i)); else j=$i; fi
            hargs+=(--command-name "${args[$((2*j))]}" "${args[$((2*j+1))]}")
        done
        hyperfine --warmup "$WARMUP" --runs "$per" --style basic ${HF_PREPARE:+--prepare "$HF_PREPARE"} \
            --export-json "$OUT/$name.r$r.json" --export-markdown "$OUT/$name.r$r.md" "${hargs[@]}" \
            2>&1 | tee -a "$OUT/$name.log" >&2
        jsons+=("$OUT/$name.r$r.json")
    done
    summarize "$title" "${jsons[@]}"
}

# ---------------------------------------------------------------- 3a + 3e
cmd_run() {
    parse_runtimes "$@"
    local args=() i w any=0
    for i in "${!BINS[@]}"; do
        # $$ is the pid of the sh hyperfine spawns for this run: unique while it lives,
        # and costs no extra fork/exec (unlike $(date +%s%N)).
        w=$(wrap_for "${LABELS[$i]}"); [ -z "$w" ] || any=1
        args+=(--command-name "${LABELS[$i]}${w:++env}" "$w${BINS[$i]} run --bundle $BUNDLE pb-${LABELS[$i]}-\$\$")
    done
    if [ $any = 1 ] && command -v "$REF" >/dev/null; then
        args+=(--command-name "$REF+env" "env --block-signal=CHLD $(command -v "$REF") run --bundle $BUNDLE pbe-$REF-\$\$")
    fi
    args+=(--command-name floor "unshare --fork --pid --mount --net --uts --ipc --mount-proc chroot $BUNDLE/rootfs /bin/true")
    hf "${RUN_NAME:-run}" "${RUN_TITLE:-RT run /bin/true (+ unshare/chroot floor)}" "${args[@]}"
}

# ---------------------------------------------------------------- cold start
# Back-to-back runs hide a cost that a lone container start pays: on cgroup v1 the
# first write to a cgroup.procs after an idle spell waits for an RCU grace period
# (cgroup_threadgroup_rwsem, percpu_down_write -> rcu_sync_enter), several ms here.
# "cold" sleeps $COLD_GAP s before every timed run (hyperfine --prepare) so each run
# starts from idle.
cmd_cold() {
    local old=$RUNS; RUNS=$COLD_RUNS
    HF_PREPARE="sleep $COLD_GAP" RUN_NAME=cold RUN_TITLE="RT run /bin/true, cold: sleep $COLD_GAP before each run" cmd_run "$@"
    RUNS=$old
}

# ---------------------------------------------------------------- 3b
cmd_lifecycle() {
    parse_runtimes "$@"
    local args=() i rt id
    for i in "${!BINS[@]}"; do
        rt=${BINS[$i]}; id="pl-${LABELS[$i]}-\$\$"
        args+=(--command-name "${LABELS[$i]}"
          "$rt create --bundle $BUNDLE $id </dev/null && $rt start $id && n=0 && until case \"\$($rt state $id)\" in *'\"stopped\"'*) true;; *) false;; esac; do n=\$((n+1)); [ \$n -lt 2000 ] || exit 9; done && $rt delete $id")
    done
    local old=$RUNS; RUNS=$LIFECYCLE_RUNS
    hf lifecycle "create + start + poll state until stopped + delete (/bin/true)" "${args[@]}"
    RUNS=$old
}

# ---------------------------------------------------------------- 3d
cmd_rss() {
    parse_runtimes "$@"
    local i k f rss w
    echo -e "\n### Peak RSS of \`RT run\` (GNU time %M, KiB; max over the runtime process and the children it reaped), $RSS_RUNS runs\n" | tee -a "$OUT/summary.md"
    echo "| runtime | min | median | max |" | tee -a "$OUT/summary.md"
    echo "|---|---|---|---|" | tee -a "$OUT/summary.md"
    for i in "${!BINS[@]}"; do
        f=$OUT/rss-${LABELS[$i]}.txt; : > "$f"
        w=$(wrap_for "${LABELS[$i]}")
        /usr/bin/time -v -o "$OUT/rss-${LABELS[$i]}-verbose.txt" $w "${BINS[$i]}" run --bundle "$BUNDLE" "pr-${LABELS[$i]}-v$$" \
            || log "rss: ${LABELS[$i]} run failed (see $OUT/rss-${LABELS[$i]}-verbose.txt)"
        for k in $(seq "$RSS_RUNS"); do
            /usr/bin/time -f %M -a -o "$f" $w "${BINS[$i]}" run --bundle "$BUNDLE" "pr-${LABELS[$i]}-$$-$k" \
                || log "rss: ${LABELS[$i]} run $k failed"
        done
        grep -v '^Command' "$f" > "$f.tmp" || true; mv "$f.tmp" "$f"   # drop time's failure notes
        sort -n "$f" | awk -v l="${LABELS[$i]}" '{a[NR]=$1} END{printf "| %s | %d | %d | %d |\n", l, a[1], a[int((NR+1)/2)], a[NR]}' | tee -a "$OUT/summary.md"
    done
    # floor, for reference
    f=$OUT/rss-floor.txt; : > "$f"
    for k in $(seq "$RSS_RUNS"); do
        /usr/bin/time -f %M -a -o "$f" unshare --fork --pid --mount --net --uts --ipc --mount-proc chroot "$BUNDLE/rootfs" /bin/true
    done
    sort -n "$f" | awk '{a[NR]=$1} END{printf "| floor (unshare) | %d | %d | %d |\n", a[1], a[int((NR+1)/2)], a[NR]}' | tee -a "$OUT/summary.md"
}

# ---------------------------------------------------------------- 3f
meminfo() { awk '/^(MemFree|MemAvailable|Shmem|Slab|KernelStack|PageTables):/{printf "%s=%s ", $1, $2}' /proc/meminfo; }
cmd_density() {
    parse_runtimes "$@"
    local sb=$BUNDLE-sleep i k rt l id t0 t1 t2 m0 m1 m2 running fails st
    [ -f "$sb/config.json" ] || die "missing $sb (run prepare)"
    echo -e "\n### Density: $DENSITY_N detached \`sleep 1000\` containers (sequential create+start)\n" | tee -a "$OUT/summary.md"
    echo "| runtime | create+start total [s] | per container [ms] | running after | MemAvailable delta [MiB] | per container [KiB] | MemFree delta [MiB] | Slab delta [MiB] | PageTables+KernelStack delta [MiB] | cleanup (kill+delete) [s] | MemAvailable not returned [MiB] | sum memcg usage [MiB] | per container memcg [KiB] | sum VmRSS [MiB] |" | tee -a "$OUT/summary.md"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" | tee -a "$OUT/summary.md"
    for i in "${!BINS[@]}"; do
        rt=${BINS[$i]}; l=${LABELS[$i]}
        sleep 2
        m0=$(meminfo); fails=0
        t0=$(date +%s%N)
        for k in $(seq "$DENSITY_N"); do
            id=pd-$l-$$-$k
            # stdio must not be our pipes: detached containers inherit them
            if ! { "$rt" create --bundle "$sb" "$id" </dev/null >/dev/null 2>>"$OUT/density-$l.err" \
                   && "$rt" start "$id" </dev/null >/dev/null 2>>"$OUT/density-$l.err"; }; then
                fails=$((fails+1))
            fi
        done
        t1=$(date +%s%N)
        sleep 3
        m1=$(meminfo)
        running=$("$rt" list 2>/dev/null | grep -ci "pd-$l-$$-.*running" || true)
        "$rt" list > "$OUT/density-$l-list.txt" 2>&1 || true
        # per-container accounting: memory cgroup usage + VmRSS of the container init
        local cg_kb=0 rss_kb=0 pid cg
        for k in $(seq "$DENSITY_N"); do
            pid=$("$rt" state "pd-$l-$$-$k" 2>/dev/null | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$' || true)
            [ -n "$pid" ] && [ -d "/proc/$pid" ] || continue
            # path may itself contain ':' (youki uses "/:youki:<id>" with cgroupfs)
            cg=$(awk -F: '$2=="memory"{sub(/^[^:]*:[^:]*:/, ""); print}' "/proc/$pid/cgroup")
            cg_kb=$((cg_kb + $(cat "/sys/fs/cgroup/memory$cg/memory.usage_in_bytes") / 1024))
            rss_kb=$((rss_kb + $(awk '/^VmRSS:/{print $2}' "/proc/$pid/status")))
        done
        t2=$(date +%s%N)
        for k in $(seq "$DENSITY_N"); do
            "$rt" kill "pd-$l-$$-$k" KILL >/dev/null 2>&1 || true
        done
        for k in $(seq "$DENSITY_N"); do
            id=pd-$l-$$-$k
            # wait until it is stopped, then delete; --force as the last resort
            # (no "| grep -q": a reader that exits early makes youki panic on EPIPE)
            for _ in $(seq 200); do
                st=$("$rt" state "$id" 2>/dev/null) || break
                case "$st" in *'"stopped"'*|*'"created"'*) break;; esac
                sleep 0.01
            done
            "$rt" delete "$id" >/dev/null 2>&1 || "$rt" delete --force "$id" >/dev/null 2>&1 || true
        done
        local t3; t3=$(date +%s%N)
        sleep 3
        m2=$(meminfo)
        local left; left=$("$rt" list 2>/dev/null | grep -c "pd-$l-$$-" || true)
        echo "$l before: $m0" >> "$OUT/density-meminfo.txt"
        echo "$l after-start: $m1" >> "$OUT/density-meminfo.txt"
        echo "$l after-cleanup: $m2 (containers left: $left, create/start failures: $fails)" >> "$OUT/density-meminfo.txt"
        python3 - "$l" "$DENSITY_N" "$t0" "$t1" "$t2" "$t3" "$running" "$m0" "$m1" "$m2" "$cg_kb" "$rss_kb" <<'EOF' | tee -a "$OUT/summary.md"
import sys
l, n, t0, t1, t2, t3, running, m0, m1, m2, cg, rss = sys.argv[1:13]
cg, rss = int(cg), int(rss)
n = int(n); t0, t1, t2, t3 = map(int, (t0, t1, t2, t3))
p = lambda s: {kv.split("=")[0].rstrip(":"): int(kv.split("=")[1]) for kv in s.split()}
a, b, c = p(m0), p(m1), p(m2)
d = lambda k, x, y: (x[k] - y[k]) / 1024
print("| %s | %.2f | %.1f | %s | %.1f | %.0f | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f | %.0f | %.1f |" % (
    l, (t1 - t0) / 1e9, (t1 - t0) / 1e6 / n, running,
    d("MemAvailable", a, b), (a["MemAvailable"] - b["MemAvailable"]) / n,
    d("MemFree", a, b), d("Slab", b, a), (b["PageTables"] + b["KernelStack"] - a["PageTables"] - a["KernelStack"]) / 1024,
    (t3 - t2) / 1e9, d("MemAvailable", a, c), cg / 1024, cg / n, rss / 1024))
EOF
        [ "$left" = 0 ] || log "WARNING: $left $l containers left over, see $OUT/density-$l-list.txt"
    done
}

# ---------------------------------------------------------------- 3c
cmd_podman() {
    mkdir -p "$PODMAN_DIR"
    local conf=$PODMAN_DIR/containers.conf
    if [ ! -f "$conf" ]; then
        # Private config, /etc/containers untouched.  Host hard limits here: NOFILE 20000
        # and no CAP_SYS_RESOURCE; podman lowers its own NPROC to 32768 when it cannot
        # raise it; its defaults (nofile 1048576, nproc 4194304) then make every runtime
        # fail with "setrlimit RLIMIT_NOFILE/NPROC: Operation not permitted".
        # No systemd (PID 1 is not systemd): cgroupfs manager, file events.
        # lock_type=file keeps our lock state in our tmpdir instead of the host-wide
        # /dev/shm/libpod_lock shared with other podman users.
        cat > "$conf" <<EOC
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
EOC
    fi
    local P="env CONTAINERS_CONF=$conf podman --root $PODMAN_DIR/store --runroot $PODMAN_DIR/runroot --tmpdir $PODMAN_DIR/tmpdir --storage-driver overlay ${PODMAN_OPTS:-}"
    if ! $P image exists "$PODMAN_IMAGE"; then
        log "importing $BUNDLE/rootfs as $PODMAN_IMAGE"
        tar -C "$BUNDLE/rootfs" -cf "$OUT/rootfs.tar" .
        $P import --change 'CMD ["/bin/true"]' "$OUT/rootfs.tar" "$PODMAN_IMAGE" >/dev/null
        rm -f "$OUT/rootfs.tar"
    fi
    $P info --format 'podman: default runtime {{.Host.OCIRuntime.Name}}, cgroup manager {{.Host.CgroupManager}}, cgroups {{.Host.CgroupsVersion}}, network backend {{.Host.NetworkBackend}}, graph driver {{.Store.GraphDriverName}}' | tee -a "$OUT/env.txt" >&2
    local R="run --rm --network none"
    local args=(--command-name "podman (default runtime)" "$P $R $PODMAN_IMAGE /bin/true"
                --command-name "podman --runtime crun" "$P $R --runtime crun $PODMAN_IMAGE /bin/true"
                --command-name "podman --runtime runc" "$P $R --runtime runc $PODMAN_IMAGE /bin/true")
    local i
    if [ $# -gt 0 ]; then
        parse_runtimes "$@"
        for i in "${!BINS[@]}"; do
            case ${LABELS[$i]} in crun|runc) continue;; esac
            args+=(--command-name "podman --runtime ${LABELS[$i]}" "$P $R --runtime ${BINS[$i]} $PODMAN_IMAGE /bin/true")
        done
    fi
    args+=(--command-name "$REF (bare)" "$(command -v "$REF") run --bundle $BUNDLE pb-$REF-\$\$")
    local old=$RUNS; RUNS=$PODMAN_RUNS
    REF="podman (default runtime)" hf podman "podman run --rm --network none (cgroupfs manager, private store)" "${args[@]}"
    RUNS=$old
    $P ps -a --format '{{.ID}} {{.Status}}' > "$OUT/podman-ps-after.txt" 2>&1 || true
}

# ---------------------------------------------------------------- combined table
cmd_table() { # run median/mean/ratios from $OUT/run.r*.json + peak RSS from $OUT/rss-*.txt
    python3 - "$REF" "$OUT" <<'EOF' | tee -a "$OUT/summary.md"
import glob, json, os, re, sys, statistics as st
ref, out = sys.argv[1], sys.argv[2]
times, order = {}, []
for f in sorted(glob.glob(os.path.join(out, "run.r*.json"))):
    for r in json.load(open(f))["results"]:
        c = r["command"]
        if c not in times: times[c] = []; order.append(c)
        times[c] += r["times"]
def rss(label):
    label = re.sub(r"\+env$", "", label)
    try: v = sorted(int(x) for x in open(os.path.join(out, f"rss-{label}.txt")) if x.strip().isdigit())
    except OSError: return None
    return v[(len(v) - 1) // 2] / 1024 if v else None
if not order: sys.exit("no run results in " + out)
med = {c: st.median(times[c]) for c in order}
mean = {c: st.mean(times[c]) for c in order}
sd = {c: st.stdev(times[c]) if len(times[c]) > 1 else 0.0 for c in order}
R = rss(ref)
print(f"\n### Summary: `RT run` of the busybox /bin/true bundle (ratios vs {ref}; < 1 is faster/smaller)\n")
print("| runtime | median [ms] | mean ± σ [ms] | ratio median | ratio mean | peak RSS median [MiB] | RSS ratio |")
print("|---|---|---|---|---|---|---|")
for c in sorted(order, key=lambda c: med[c]):
    r = rss(c) if not c.startswith(ref + "+") else None
    rm = med[c] / med[ref] if ref in med else float("nan")
    ra = mean[c] / mean[ref] if ref in mean else float("nan")
    print("| %s | %.2f | %.2f ± %.2f | %.2f | %.2f | %s | %s |" % (
        c, med[c]*1e3, mean[c]*1e3, sd[c]*1e3, rm, ra,
        "%.2f" % r if r else "–", "%.2f" % (r / R) if r and R else "–"))
print("\nPeak RSS = GNU time %M (max over the runtime process and the children it reaped) / 1024.  "
      "`+env`: run wrapped in `env --block-signal=CHLD` "
      "(youki needs it; the `crun+env` row shows what the wrapper costs).")
EOF
}

# ---------------------------------------------------------------- main
sub=${1:-all}; shift || true
mkdir -p "$OUT"
# no runtime given: the default set (missing ones are skipped by parse_runtimes)
if [ $# = 0 ]; then
    case $sub in
        run|cold|lifecycle|rss|density|all) set -- "arca=$ARCA" crun runc "youki=$YOUKI" ;;
        podman) set -- "arca=$ARCA" ;;
    esac
fi
case "$sub" in
    prepare)   cmd_prepare ;;
    run)       parse_runtimes "$@"; env_info; cmd_run "$@" ;;
    lifecycle) parse_runtimes "$@"; env_info; cmd_lifecycle "$@" ;;
    cold)      parse_runtimes "$@"; env_info; cmd_cold "$@" ;;
    rss)       parse_runtimes "$@"; env_info; cmd_rss "$@" ;;
    density)   parse_runtimes "$@"; env_info; cmd_density "$@" ;;
    podman)    env_info 2>/dev/null || true; cmd_podman "$@" ;;
    resummarize) # NAME TITLE : rebuild a table from $OUT/NAME.r*.json
               summarize "$2" "$OUT/$1".r*.json ;;
    table)     cmd_table ;;
    all)       parse_runtimes "$@"; env_info; cmd_prepare; cmd_run "$@"; cmd_rss "$@"; cmd_table
               cmd_cold "$@"; cmd_lifecycle "$@"
               if command -v podman >/dev/null; then cmd_podman "$@"
               else log "NOTE: podman not installed: podman comparison skipped"
                    echo -e "\n_Note: podman not installed: podman comparison skipped._" >> "$OUT/summary.md"; fi
               [ "${DENSITY:-0}" != 1 ] || cmd_density "$@" ;;
    *) sed -n '2,/^set -euo/p' "$SELF" | sed '$d'; exit 2 ;;
esac
log "results in $OUT (summary.md)"
