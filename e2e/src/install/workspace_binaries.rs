//! The workspace's own programs (`soberana`, `soberana-api`, `soberana-operator`), found beside
//! the running program: a test runs from `target/<profile>/deps/`, a binary from
//! `target/<profile>/`, and `cargo test --workspace` (or `make demo`) builds every binary there
//! first.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// The path of the workspace binary `name`, checked to exist.
pub fn workspace_binary(name: &str) -> Result<PathBuf> {
    let running = std::env::current_exe().context("locating this program")?;
    let mut directory = running
        .parent()
        .context("this program has no directory")?
        .to_path_buf();
    if directory.file_name().is_some_and(|last| last == "deps") {
        directory.pop();
    }
    let path = directory.join(name);
    anyhow::ensure!(
        path.is_file(),
        "{} does not exist; build it with `cargo build --workspace --bins`",
        path.display()
    );
    Ok(path)
}
