//! `--version`: the lines docker looks for (`... version ...`, `commit:`).

pub fn print() {
    println!("berth version {}", env!("CARGO_PKG_VERSION"));
    println!("commit: {}", env!("BERTH_COMMIT"));
    println!("spec: {}", berth_container::OCI_VERSION);
    if let Some(version) = berth_security::seccomp::library_version() {
        println!("libseccomp: {version}");
    }
}
