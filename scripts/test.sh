#!/usr/bin/env bash
# One command that checks everything on a fresh Debian machine, as root:
# installs missing packages, then fmt, clippy, build, the workspace tests (unit
# tests + the conformance suite against berth) and the suite against runc.
# Exits non-zero if any step fails; prints a summary at the end.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# Debian packages the build and the suite need (iproute2 for `ip netns` in the
# namespace tests; uidmap for newuidmap/newgidmap in the rootless tests;
# podman, conmon, containerd and docker.io for engines.rs, which drives the
# runtime under real engines; apparmor for apparmor_parser, without which
# dockerd refuses every container on an AppArmor host; python3-grpcio for
# integration_tests/cri/cri_client.py, the CRI client of the systemd VM tests,
# which use the host's /usr/bin/python3; dbus-user-session for the user bus of
# a user's systemd, which the rootless systemd cgroup tests use in the VM;
# strace for plan.rs and hardening.rs, which trace what the runtime did).
packages=(busybox-static runc jq libseccomp-dev iproute2 uidmap podman conmon containerd docker.io apparmor python3-grpcio dbus-user-session strace)

install_missing_packages() {
    local missing=() pkg
    for pkg in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}"
    apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

results=()
failed=0
skipped=0

step() {
    local name="$1"
    shift
    echo
    echo "==> $name"
    local start=$SECONDS
    if "$@"; then
        results+=("PASS  $name ($((SECONDS - start))s)")
    else
        results+=("FAIL  $name ($((SECONDS - start))s)")
        failed=$((failed + 1))
    fi
}

# Parallel tests share 2 CPUs with container start-up; keep the suite calm.
test_threads="${BERTH_TEST_THREADS:-2}"

# Every cargo test run's output, for the closing test count.
test_log="$(mktemp)"
trap 'rm -f "$test_log"' EXIT

# Runs cargo test with "$@", showing its output and keeping it in $test_log.
cargo_test() {
    local rc
    cargo test "$@" 2>&1 | tee -a "$test_log"
    rc=${PIPESTATUS[0]}
    return "$rc"
}

# "P passed, F failed" summed over the `test result:` lines of all runs.
count_tests() {
    awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$test_log"
}

# cargo test --workspace: unit tests and the suite against berth.
# BERTH_KNOWN_FAILURES=FILE (default integration_tests/known-failures.txt;
# lines `binary::test`, # comments) lists the tests berth is known to fail,
# each with its reason. They are skipped in this run and checked on their own
# by known_failures_still_fail. BERTH_KNOWN_FAILURES= (empty) runs everything.
known_failures="${BERTH_KNOWN_FAILURES-integration_tests/known-failures.txt}"

# The listed tests, `binary::test` per line.
listed_failures() {
    [ -n "$known_failures" ] || return 0
    sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$known_failures" | sort -u
}

workspace_tests() {
    local skips=() entry
    while read -r entry; do
        [ -n "$entry" ] && skips+=(--skip "${entry#*::}")
    done < <(listed_failures)
    # --exact makes every --skip match a whole test name only.
    [ ${#skips[@]} -gt 0 ] && skips+=(--exact)
    cargo_test --workspace --no-fail-fast -- --test-threads="$test_threads" "${skips[@]}"
}

# Every listed test must still fail on berth: a listed test that passes means
# the list is stale (remove it). Their output goes to a file, not the log.
known_failures_still_fail() {
    local entry binary name out rc=0 count=0
    out="$(mktemp)"
    while read -r entry; do
        [ -n "$entry" ] || continue
        binary="${entry%%::*}"
        name="${entry#*::}"
        count=$((count + 1))
        if cargo test -q -p integration_tests --test "$binary" -- --exact "$name" >"$out" 2>&1; then
            echo "listed as a known failure but passes now (remove it from $known_failures): $entry"
            rc=1
        elif grep -q '^test result: FAILED\. 0 passed; 1 failed' "$out"; then
            echo "still fails, as listed: $entry"
        else
            echo "known failure did not run (build error or no such test): $entry"
            tail -n 20 "$out"
            rc=1
        fi
    done < <(listed_failures)
    rm -f "$out"
    skipped=$count
    return "$rc"
}

# The conformance suite against Debian's runc: proves the tests encode runc.
runc_suite() (
    export BERTH_TEST_RUNTIME=/usr/sbin/runc
    cargo_test -p integration_tests --no-fail-fast -- --test-threads="$test_threads"
)

step "install missing packages" install_missing_packages
step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
step "cargo build -p berth" cargo build -p berth
step "cargo test --workspace (suite against berth)" workspace_tests
step "known failures still fail on berth" known_failures_still_fail
step "conformance suite against runc" runc_suite
# The systemd cgroup driver needs systemd as PID 1: its tests run in the qemu
# VM of shared/vm (--init systemd), pure v2 and hybrid, berth and runc.
step "systemd cgroup driver in the VM (scripts/test-systemd-vm.sh)" scripts/test-systemd-vm.sh

echo
echo "==> summary"
printf '%s\n' "${results[@]}"
echo "failed steps: ${failed} of ${#results[@]}"
echo "tests: $(count_tests), ${skipped} skipped"
[ "$failed" -eq 0 ]
