#!/usr/bin/env bash
# Build a minimal busybox root filesystem for berth's demo and conformance suite.
#
# Usage: bundles/build-rootfs.sh [DEST]   (default: bundles/rootfs next to this script)
#
# Uses Debian's statically linked busybox (package busybox-static), installing it
# with apt-get when /bin/busybox is missing. Idempotent: running it again over an
# existing DEST refreshes the same files. The result is generated, never committed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${1:-$here/rootfs}"

ensure_static_busybox() {
    if [ ! -x /bin/busybox ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
    fi
    if ! file_is_static /bin/busybox; then
        echo "build-rootfs: /bin/busybox is not statically linked (install busybox-static)" >&2
        exit 1
    fi
}

# A static ELF has no PT_INTERP program header; ldd says "not a dynamic executable".
file_is_static() {
    ! ldd "$1" >/dev/null 2>&1
}

make_dirs() {
    install -d -m 0755 "$dest"/{bin,sbin,etc,dev,proc,sys,root,home,usr/bin,usr/sbin,var,run,mnt}
    install -d -m 0700 "$dest/root"
    install -d -m 1777 "$dest/tmp"
    install -d -m 0755 -o 1000 -g 1000 "$dest/home/user"
}

install_busybox() {
    install -m 0755 /bin/busybox "$dest/bin/busybox"
    local applet
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] && continue
        ln -sfn busybox "$dest/bin/$applet"
    done
}

write_etc() {
    cat >"$dest/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
guest:x:1001:1001:guest:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
    cat >"$dest/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
bin:x:2:
tty:x:5:
users:x:100:user,guest
user:x:1000:
guest:x:1001:
nogroup:x:65534:
GROUP
    echo "berth" >"$dest/etc/hostname"
    : >"$dest/etc/hosts"
    : >"$dest/etc/resolv.conf"
}

ensure_static_busybox
make_dirs
install_busybox
write_etc
echo "rootfs ready: $dest"
