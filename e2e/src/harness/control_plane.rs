//! A control plane of several named clusters, one per site, started together and torn down when
//! dropped.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use futures::future::try_join_all;

use crate::harness::binaries::HarnessBinaries;
use crate::harness::cluster::Cluster;
use crate::harness::ports::is_port_conflict;
use crate::harness::run_directory::RunDirectory;

/// Starts of one cluster before a port conflict is reported as an error.
const PORT_ATTEMPTS: u32 = 3;

/// Lines of each component's log printed when something fails.
const FAILURE_LOG_LINES: usize = 40;

/// Several clusters running side by side on loopback, each standing for one site.
#[derive(Debug)]
pub struct ControlPlane {
    binaries: HarnessBinaries,
    // Clusters drop (and stop) before their directory is removed.
    clusters: Vec<Cluster>,
    run_directory: RunDirectory,
}

impl ControlPlane {
    /// Starts one cluster per name, concurrently, building the binaries first if needed.
    pub async fn start(names: &[&str]) -> Result<Self> {
        if names.is_empty() {
            bail!("a control plane needs at least one cluster name");
        }
        let binaries = tokio::task::spawn_blocking(HarnessBinaries::locate)
            .await
            .context("locating binaries")??;
        let run_directory = RunDirectory::create()?;
        let started = try_join_all(
            names
                .iter()
                .map(|name| start_cluster(name, &binaries, run_directory.path())),
        )
        .await;
        match started {
            Ok(clusters) => Ok(Self {
                binaries,
                clusters,
                run_directory,
            }),
            Err(error) => {
                run_directory.keep();
                Err(error.context(format!(
                    "starting the control plane (files kept in {})",
                    run_directory.path().display()
                )))
            }
        }
    }

    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// The cluster started under `name`.
    pub fn cluster(&self, name: &str) -> Result<&Cluster> {
        self.clusters
            .iter()
            .find(|cluster| cluster.name() == name)
            .with_context(|| format!("no cluster named {name:?} in this control plane"))
    }

    /// The binaries this control plane runs (and a matching `kubectl`).
    pub fn binaries(&self) -> &HarnessBinaries {
        &self.binaries
    }

    /// The Kubernetes version every API server reports.
    pub fn kubernetes_version(&self) -> &str {
        &self.binaries.kubernetes_version
    }

    /// Where the clusters keep their PKI, data, kubeconfigs and logs.
    pub fn directory(&self) -> &Path {
        self.run_directory.path()
    }

    /// Keeps the files after the clusters stop, for a post-mortem.
    pub fn keep_files(&self) -> PathBuf {
        self.run_directory.keep();
        self.run_directory.path().to_owned()
    }

    /// Prints every component's log tail to standard error, for a failure report.
    pub fn report_failure(&self) {
        let directory = self.keep_files();
        eprintln!(
            "\n=== control-plane logs (all files kept in {}) ===",
            directory.display()
        );
        for cluster in &self.clusters {
            eprint!("{}", cluster.log_tails(FAILURE_LOG_LINES));
        }
    }
}

/// Starts one cluster, trying again with other ports when another process took one of its ports
/// between choosing and binding it.
async fn start_cluster(name: &str, binaries: &HarnessBinaries, root: &Path) -> Result<Cluster> {
    let mut attempt = 1;
    loop {
        match Cluster::start(name, binaries, root).await {
            Err(error) if attempt < PORT_ATTEMPTS && is_port_conflict(&error) => {
                eprintln!(
                    "harness: {name}: a port was taken while starting; retrying on other ports"
                );
                let _ = std::fs::remove_dir_all(root.join(name));
                attempt += 1;
            }
            result => return result,
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.report_failure();
        }
    }
}
