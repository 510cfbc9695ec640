//! mount syscalls
