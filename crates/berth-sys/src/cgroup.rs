//! cgroup syscalls
