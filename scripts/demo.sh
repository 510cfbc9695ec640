#!/usr/bin/env bash
# One-command demo: build berth, build the busybox rootfs, run a container that
# shows its own hostname, pid 1 and its own mount table, then clean up.
# Needs root (containers need privileges).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: run as root (creating containers needs privileges)" >&2
    exit 1
fi

# berth links Debian's libseccomp (linux.seccomp); the build needs its -dev package.
if ! dpkg-query -W -f='${Status}' libseccomp-dev 2>/dev/null | grep -q "ok installed"; then
    echo "==> installing libseccomp-dev"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp-dev >/dev/null
fi

echo "==> building berth (release)"
cargo build --release -p berth
berth="$repo/target/release/berth"

echo "==> building the busybox rootfs"
bundles/build-rootfs.sh "$repo/bundles/rootfs" >/dev/null

work="$(mktemp -d /tmp/berth-demo.XXXXXX)"
id="berth-demo-$$"
cleanup() {
    "$berth" --root "$work/state" delete --force "$id" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# The bundle: the demo config and a copy of the rootfs.
mkdir -p "$work/bundle"
cp bundles/config.json "$work/bundle/config.json"
cp -a "$repo/bundles/rootfs" "$work/bundle/rootfs"

echo "==> host hostname: $(hostname); host pid of this shell: $$"
echo "==> berth run (state under $work/state)"
"$berth" --root "$work/state" run --bundle "$work/bundle" "$id"
echo "==> container exited; cleaning up"
