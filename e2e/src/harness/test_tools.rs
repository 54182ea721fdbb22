//! The test tools built by `make test-tools` (helm, kubeconform, promtool, prometheus), found
//! through `SOBERANA_TOOLS_BIN`, which `make test` sets. A test that needs one fails naming the
//! make target when it is missing: it never skips silently.

use std::path::PathBuf;

use anyhow::{Result, bail};

/// The environment variable holding the tools' directory.
pub const TOOLS_DIR_ENV: &str = "SOBERANA_TOOLS_BIN";

/// The path of the tool `name` (e.g. `promtool`).
pub fn test_tool(name: &str) -> Result<PathBuf> {
    let Some(directory) = std::env::var_os(TOOLS_DIR_ENV) else {
        bail!(
            "{TOOLS_DIR_ENV} is not set: run `make test-tools` and export {TOOLS_DIR_ENV}=\"$(e2e/scripts/build-tools.sh)\" (make test does both) to get {name}"
        );
    };
    let path = PathBuf::from(directory).join(name);
    if !path.is_file() {
        bail!(
            "{} does not exist: run `make test-tools` to build {name} into {TOOLS_DIR_ENV}",
            path.display()
        );
    }
    Ok(path)
}
