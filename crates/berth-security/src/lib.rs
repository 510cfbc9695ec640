//! berth-security
