//! The only crate of berth allowed to contain `unsafe` code.
//!
//! Each module wraps syscalls that `nix` lacks (or wraps too loosely) in small
//! safe functions. Every `unsafe` block carries a `// SAFETY:` comment.
#![allow(unsafe_code)]

pub mod cgroup;
pub mod mount;
pub mod netlink;
pub mod process;
pub mod sched;
pub mod seccomp;
