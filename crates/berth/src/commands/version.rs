//! `--version`: the lines docker looks for (`... version ...`, `commit:`).

pub fn print() {
    println!("berth version {}", env!("CARGO_PKG_VERSION"));
    println!(
        "commit: {}",
        option_env!("BERTH_COMMIT").unwrap_or("unknown")
    );
    println!("spec: {}", berth_container::OCI_VERSION);
}
