#!/usr/bin/env bash
# Benchmark berth against crun and runc, side by side, in one interleaved run.
#
# Usage (as root): integration_tests/bench/run.sh [--quick] [--runtimes berth,crun,runc]
#                                                 [--out docs/benchmarks.md] [--phases LIST]
#
#   --quick      few iterations and small N, to check the harness itself
#   --runtimes   which runtimes to compare (default: berth,crun,runc)
#   --out        where the Markdown report goes (default: docs/benchmarks.md)
#   --phases     subset of run,lifecycle,memory,floor,parallel,population,size,trace
#   --berth-binary PATH   measure this berth binary instead of building a release one
#
# This prepares the machine (packages, a release build of berth, a busybox rootfs,
# the hugetlb v1 hierarchy crun 1.8 needs here), hands the measuring to bench.py,
# and undoes everything on exit, Ctrl-C included: containers, state roots, cgroups,
# the hugetlb mount. It is a benchmark, not a test: nothing here is run by
# `cargo test`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

quick=""
runtimes="berth,crun,runc"
out="$repo/docs/benchmarks.md"
phases=""
berth_binary=""
work=""
cgroup_parent="berth-bench-$$"
hugetlb_mounted=""
bench_pid=""
notes=()

usage() {
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --quick) quick="--quick" ;;
            --runtimes) runtimes="${2:?--runtimes needs a list}"; shift ;;
            --runtimes=*) runtimes="${1#*=}" ;;
            --out) out="${2:?--out needs a path}"; shift ;;
            --out=*) out="${1#*=}" ;;
            --phases) phases="${2:?--phases needs a list}"; shift ;;
            --phases=*) phases="${1#*=}" ;;
            --berth-binary) berth_binary="${2:?--berth-binary needs a path}"; shift ;;
            --berth-binary=*) berth_binary="${1#*=}" ;;
            -h|--help) usage 0 ;;
            *) echo "run.sh: unknown argument: $1" >&2; usage 2 ;;
        esac
        shift
    done
    case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
}

log() { echo "[run.sh $(date -u +%H:%M:%S)] $*" >&2; }

wants() { [[ ",$runtimes," == *",$1,"* ]]; }

# ------------------------------------------------------------------ packages

ensure_packages() {
    local missing=() pair cmd pkg
    for pair in crun:crun runc:runc strip:binutils ldd:libc-bin /usr/bin/time:time strace:strace; do
        cmd="${pair%%:*}" pkg="${pair#*:}"
        if [ "$cmd" = crun ] && ! wants crun; then continue; fi
        command -v "$cmd" >/dev/null || missing+=("$pkg")
    done
    [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || missing+=(busybox-static)
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# ------------------------------------------------------------------ runtimes

build_berth() {
    log "cargo build --release -p berth"
    (cd "$repo" && nice -n 10 cargo build --release -p berth)
}

runtime_binary() {
    case "$1" in
        berth) echo "${berth_binary:-$repo/target/release/berth}" ;;
        *) command -v "$1" || { echo "run.sh: no $1 binary in PATH" >&2; return 1; } ;;
    esac
}

runtime_args() {
    local name
    for name in ${runtimes//,/ }; do
        echo "--runtime"
        echo "$name=$(runtime_binary "$name")"
    done
}

# ------------------------------------------------------------------ bundle parts

build_rootfs() {
    local dest="$1"
    if [ -x "$repo/bundles/build-rootfs.sh" ] && "$repo/bundles/build-rootfs.sh" "$dest" >/dev/null 2>&1 \
        && [ -x "$dest/bin/busybox" ] && [ -L "$dest/bin/true" ]; then
        return 0
    fi
    log "bundles/build-rootfs.sh unavailable or failed; building a minimal rootfs"
    rm -rf "$dest"
    mkdir -p "$dest"/{bin,dev,proc,sys,tmp,etc}
    cp /bin/busybox "$dest/bin/busybox"
    local applet
    for applet in sh true echo cat sleep; do
        ln -s busybox "$dest/bin/$applet"
    done
}

write_template() {
    local dir="$1"
    mkdir -p "$dir"
    runc spec --bundle "$dir"
}

# ------------------------------------------------------------------ hugetlb

# crun 1.8 refuses a hybrid layout whose cgroup2 mount holds a controller. Mounting
# the v1 hugetlb hierarchy moves hugetlb out of cgroup2; restore_hugetlb moves it back.
hugetlb_in_cgroup2() {
    [ -f /sys/fs/cgroup/unified/cgroup.controllers ] \
        && grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers
}

mount_hugetlb_v1() {
    if mountpoint -q /sys/fs/cgroup/hugetlb; then
        notes+=("hugetlb was already in a v1 hierarchy at /sys/fs/cgroup/hugetlb, mounted by other work on the machine, so cgroup2 held no controller and crun could run as it was")
        return 0
    fi
    if wants crun && hugetlb_in_cgroup2; then
        log "mounting the v1 hugetlb hierarchy for crun (undone at exit)"
        mkdir -p /sys/fs/cgroup/hugetlb
        mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
        hugetlb_mounted=1
        notes+=("hugetlb was moved from cgroup2 to a v1 hierarchy at /sys/fs/cgroup/hugetlb for the run (Debian's crun 1.8 refuses a hybrid layout whose cgroup2 holds a controller); the host's layout was restored afterwards")
    fi
}

# A hierarchy unmounted while a removed child cgroup is still dying lingers, hidden,
# and keeps hugetlb; mounting and unmounting it again once idle releases it.
restore_hugetlb() {
    [ -n "$hugetlb_mounted" ] || return 0
    local try
    for try in 1 2 3 4 5 6 7 8 9 10; do
        if ! mountpoint -q /sys/fs/cgroup/hugetlb; then
            mkdir -p /sys/fs/cgroup/hugetlb
            mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb || true
        fi
        umount /sys/fs/cgroup/hugetlb || true
        sleep 1
        if hugetlb_in_cgroup2; then
            rmdir /sys/fs/cgroup/hugetlb 2>/dev/null || true
            hugetlb_mounted=""
            log "hugetlb is back in cgroup2"
            return 0
        fi
    done
    log "WARNING: hugetlb did not return to cgroup2; check /proc/cgroups"
}

# ------------------------------------------------------------------ cleanup

delete_leftover_containers() {
    local root name id
    for root in "$work"/roots/*; do
        [ -d "$root" ] || continue
        name="$(basename "$root")"
        local binary
        binary="$(runtime_binary "$name" 2>/dev/null)" || continue
        for id in $("$binary" --root "$root" list -q 2>/dev/null); do
            "$binary" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
}

remove_bench_cgroups() {
    local hierarchy dir pid try
    for try in 1 2 3; do
        for hierarchy in /sys/fs/cgroup/*/; do
            dir="$hierarchy$cgroup_parent"
            [ -d "$dir" ] || continue
            for pid in $(find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null); do
                kill -9 "$pid" 2>/dev/null || true
            done
            find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
        done
        compgen -G "/sys/fs/cgroup/*/$cgroup_parent" >/dev/null || return 0
        sleep 1
    done
    log "WARNING: could not remove every /sys/fs/cgroup/*/$cgroup_parent"
}

# On Ctrl-C or SIGTERM: let bench.py remove its containers first, then clean up.
stop_bench() {
    if [ -n "$bench_pid" ]; then
        kill -TERM "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" || true
        bench_pid=""
    fi
    exit "$1"
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$work" ] && [ -d "$work" ]; then
        delete_leftover_containers
        remove_bench_cgroups
        if mountpoint -q "$work"; then umount "$work" || umount -l "$work"; fi
        rm -rf --one-file-system "$work"
    fi
    restore_hugetlb
    exit "$status"
}

# ------------------------------------------------------------------ main

machine_notes() {
    local load builders
    load="$(cut -d' ' -f1 /proc/loadavg)"
    builders="$(ps -eo comm= | grep -E '^(cargo|rustc|cc|ld|qemu-system-.*)$' | sort -u | xargs || true)"
    if [ -n "$builders" ] || awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
        notes+=("other work was running on the machine during the run (1-min load $load at start${builders:+; running: $builders}); interleaving spreads its effect over all runtimes alike, but absolute times are inflated")
    fi
}

# A private copy, so that a rebuild during the run cannot change what is measured.
snapshot_berth() {
    local source
    source="$(runtime_binary berth)"
    [ -x "$source" ] || { echo "run.sh: no berth binary at $source" >&2; exit 1; }
    cp "$source" "$work/berth"
    if [ -n "$berth_binary" ]; then
        notes+=("berth binary: $berth_binary (given with --berth-binary)")
    else
        notes+=("berth: release build of commit $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- crates Cargo.toml || echo ' plus uncommitted changes')")
    fi
    berth_binary="$work/berth"
}

main() {
    parse_args "$@"
    [ "$(id -u)" = 0 ] || { echo "run.sh: must run as root" >&2; exit 1; }
    ensure_packages
    if wants berth && [ -z "$berth_binary" ]; then build_berth; fi

    trap cleanup EXIT
    trap 'stop_bench 130' INT
    trap 'stop_bench 143' TERM
    work="$(mktemp -d /tmp/berth-bench.XXXXXX)"
    # State roots and bundles live on tmpfs, as under /run on a usual host.
    mount -t tmpfs -o mode=0700,size=2g berth-bench "$work"
    if wants berth; then snapshot_berth; fi
    build_rootfs "$work/rootfs"
    mkdir -p "$work/rootfs/hostcg"
    write_template "$work/template"
    mount_hugetlb_v1
    machine_notes

    local args note_args=() note
    mapfile -t args < <(runtime_args)
    for note in "${notes[@]}"; do note_args+=(--note "$note"); done
    mkdir -p "$(dirname "$out")"
    log "measuring: $runtimes${quick:+ (quick)}"
    # In the background, so that a signal reaches the traps at once, not at its end.
    python3 -B "$here/bench.py" "${args[@]}" --work "$work" --rootfs "$work/rootfs" \
        --template "$work/template/config.json" --cgroup-parent "$cgroup_parent" \
        --out "$out" ${quick:+"$quick"} ${phases:+--phases "$phases"} "${note_args[@]}" &
    bench_pid=$!
    wait "$bench_pid"
    bench_pid=""
    log "report written to $out"
}

main "$@"
