#!/usr/bin/env bash
# The systemd cgroup driver's tests (integration_tests/tests/systemd.rs, and
# the rootless ones over the user bus: the `systemd` tests of rootless.rs) for
# real: in shared/vm's qemu guest with systemd as PID 1 (`--init systemd`), on
# pure cgroup v2 and on hybrid, against berth and against Debian's runc. One VM
# boot per layout; the binaries are built here first (the VM uses TCG). Run as
# root from anywhere; exits non-zero if any run fails. The VM script installs
# qemu, dbus and the rest it needs itself; the CRI test's client needs the
# host's python3-grpcio (the VM runs the host's /usr/bin/python3), which
# scripts/test.sh installs.
#
# BERTH_VM_SCRIPT names run-in-vm.sh (default: ../shared/vm/run-in-vm.sh next
# to the checkout); BERTH_SYSTEMD_LAYOUTS
# the layouts (default "v2 hybrid").
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

vm_script() {
    local candidate
    for candidate in "${BERTH_VM_SCRIPT:-}" "$repo/../shared/vm/run-in-vm.sh"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    echo "test-systemd-vm.sh: run-in-vm.sh not found (set BERTH_VM_SCRIPT)" >&2
    return 1
}

vm="$(vm_script)"
/usr/bin/python3 -c 'import grpc' 2>/dev/null ||
    { echo "test-systemd-vm.sh: /usr/bin/python3 cannot import grpc: apt-get install python3-grpcio" >&2; exit 1; }
cargo build -p berth
test_binary="$(cargo test -p integration_tests --test systemd --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.reason == "compiler-artifact" and .target.name == "systemd" and .executable != null) | .executable' |
    tail -n 1)"
[ -x "$test_binary" ] || { echo "test-systemd-vm.sh: no test binary for tests/systemd.rs" >&2; exit 1; }
rootless_binary="$(cargo test -p integration_tests --test rootless --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.reason == "compiler-artifact" and .target.name == "rootless" and .executable != null) | .executable' |
    tail -n 1)"
[ -x "$rootless_binary" ] || { echo "test-systemd-vm.sh: no test binary for tests/rootless.rs" >&2; exit 1; }

# On this host (no systemd as PID 1) the tests skip, except the refusal test;
# this also builds the shared rootfs template before the VM needs it.
echo "==> tests/systemd.rs on the host (systemd tests skip here)"
"$test_binary" --test-threads=2

# In the VM: refuse to "pass" by skipping, then berth, then runc.
in_vm='test -d /run/systemd/system || { echo "systemd is not PID 1 in the VM" >&2; exit 99; }
rc=0
echo "--- berth"; "$0" --test-threads=2 || rc=1
echo "--- runc"; BERTH_TEST_RUNTIME=/usr/sbin/runc "$0" --test-threads=2 || rc=1
echo "--- berth, rootless"; "$1" --test-threads=2 systemd || rc=1
echo "--- runc, rootless"; BERTH_TEST_RUNTIME=/usr/sbin/runc "$1" --test-threads=2 systemd || rc=1
exit $rc'

failed=0
for layout in ${BERTH_SYSTEMD_LAYOUTS:-v2 hybrid}; do
    echo "==> tests/systemd.rs in the VM: --init systemd --cgroup $layout"
    if ! "$vm" --init systemd --cgroup "$layout" --timeout 1800 -- sh -c "$in_vm" "$test_binary" "$rootless_binary"; then
        echo "FAILED: systemd tests on $layout"
        failed=1
    fi
done
exit "$failed"
