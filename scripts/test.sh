#!/usr/bin/env bash
# One command that checks everything on a fresh Debian machine, as root:
# installs missing packages, then fmt, clippy, build, the workspace tests (unit
# tests + the conformance suite against berth) and the suite against runc.
# Exits non-zero if any step fails; prints a summary at the end.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# Debian packages the build and the suite need: package name -> file it provides.
declare -A wanted=(
    [busybox-static]=/bin/busybox
    [runc]=/usr/sbin/runc
    [jq]=/usr/bin/jq
    [libseccomp-dev]=/usr/include/seccomp.h
)

install_missing_packages() {
    local missing=() pkg
    for pkg in "${!wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}"
    apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

results=()
failed=0

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

step "install missing packages" install_missing_packages
step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
step "cargo build -p berth" cargo build -p berth
step "cargo test --workspace (suite against berth)" \
    cargo test --workspace --no-fail-fast -- --test-threads="$test_threads"
step "conformance suite against runc" \
    env BERTH_TEST_RUNTIME=/usr/sbin/runc cargo test -p integration_tests --no-fail-fast -- --test-threads="$test_threads"

echo
echo "==> summary"
printf '%s\n' "${results[@]}"
passed=$(( ${#results[@]} - failed ))
echo "steps: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
