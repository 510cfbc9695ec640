//! process syscalls
