//! berth-process
