//! `--version`: the lines docker looks for (`... version ...`, `commit:`).

pub fn print() {
    let mut text = format!(
        "berth version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("BERTH_COMMIT"),
        berth_container::OCI_VERSION
    );
    if let Some(version) = berth_security::seccomp::library_version() {
        text.push_str(&format!("libseccomp: {version}\n"));
    }
    let _ = crate::stdout::write(text);
}
