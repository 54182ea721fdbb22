//! Where the control-plane binaries come from: the cache filled by `scripts/build-harness.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Names the directory holding prebuilt binaries, skipping the build script (set by `make`).
pub const BINARY_DIR_ENV: &str = "SOBERANA_HARNESS_BIN";

/// The control-plane binaries, kwok, and the Kubernetes version they were stamped with.
#[derive(Debug, Clone)]
pub struct HarnessBinaries {
    pub etcd: PathBuf,
    pub kube_apiserver: PathBuf,
    pub kube_controller_manager: PathBuf,
    pub kube_scheduler: PathBuf,
    /// Simulates the sites' nodes: they report Ready, and Pods bound to them run.
    pub kwok: PathBuf,
    /// kwok's stages (shipped in its module): what a simulated node and its Pods go through.
    pub kwok_stages: PathBuf,
    /// kubectl at the same version, for the demo and tests that act as a user would.
    pub kubectl: PathBuf,
    /// The `gitVersion` that `/version` reports, e.g. `v1.36.3`.
    pub kubernetes_version: String,
}

impl HarnessBinaries {
    /// Finds the binaries, building them first when they are missing (the build is idempotent and
    /// prints its progress to standard error).
    pub fn locate() -> Result<Self> {
        let directory = match std::env::var_os(BINARY_DIR_ENV) {
            Some(directory) => PathBuf::from(directory),
            None => run_script("build-harness.sh")?,
        };
        let binaries = Self {
            etcd: directory.join("etcd"),
            kube_apiserver: directory.join("kube-apiserver"),
            kube_controller_manager: directory.join("kube-controller-manager"),
            kube_scheduler: directory.join("kube-scheduler"),
            kwok: directory.join("kwok"),
            kwok_stages: directory.join("kwok-stages.yaml"),
            kubectl: directory.join("kubectl"),
            kubernetes_version: pinned_kubernetes_version()?,
        };
        for binary in [
            &binaries.etcd,
            &binaries.kube_apiserver,
            &binaries.kube_controller_manager,
            &binaries.kube_scheduler,
            &binaries.kwok,
            &binaries.kwok_stages,
            &binaries.kubectl,
        ] {
            if !binary.is_file() {
                bail!(
                    "harness binary {} is missing; unset {BINARY_DIR_ENV} or run e2e/scripts/build-harness.sh",
                    binary.display()
                );
            }
        }
        Ok(binaries)
    }
}

fn harness_go_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("go")
}

/// Runs `e2e/scripts/<name>` (progress on standard error) and returns the last line it printed:
/// the directory of what it built.
pub(crate) fn run_script(name: &str) -> Result<PathBuf> {
    let stdout = run_setup_script(name)?;
    let directory = stdout
        .lines()
        .last()
        .with_context(|| format!("{name} printed no directory"))?;
    Ok(PathBuf::from(directory.trim()))
}

/// Runs `e2e/scripts/<name>` (progress on standard error), which prints nothing or anything on
/// standard output (returned), e.g. a package installation.
pub(crate) fn run_setup_script(name: &str) -> Result<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name);
    let output = Command::new(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !output.status.success() {
        bail!("{} failed with {}", script.display(), output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The `k8s.io/kubernetes` version required by the harness' Go module: what `/version` must report.
pub fn pinned_kubernetes_version() -> Result<String> {
    let go_mod = harness_go_dir().join("kubernetes/go.mod");
    let text = std::fs::read_to_string(&go_mod)
        .with_context(|| format!("reading {}", go_mod.display()))?;
    text.lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("require ").or(Some(line)))
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("k8s.io/kubernetes"))
                .then(|| words.next())
                .flatten()
                .map(str::to_owned)
        })
        .with_context(|| format!("{} does not require k8s.io/kubernetes", go_mod.display()))
}
