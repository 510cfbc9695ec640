//! berth-rootfs
