//! A control plane of several named clusters, one per site, started together and torn down when
//! dropped.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use futures::future::try_join_all;

use crate::harness::binaries::HarnessBinaries;
use crate::harness::cluster::{Cluster, ClusterOptions};
use crate::harness::ports::is_port_conflict;
use crate::harness::real_node::{
    LoopbackForward, NodeBinaries, RealNode, RealNodeOptions, allocate_link_address, api_port,
};
use crate::harness::run_directory::RunDirectory;

/// Starts of one cluster before a port conflict is reported as an error.
const PORT_ATTEMPTS: u32 = 3;

/// Lines of each component's log printed when something fails.
const FAILURE_LOG_LINES: usize = 40;

/// Several clusters running side by side on loopback, each standing for one site.
#[derive(Debug)]
pub struct ControlPlane {
    binaries: HarnessBinaries,
    // Forwards and nodes drop before their clusters, clusters (and stop) before their directory
    // is removed.
    forwards: Vec<(String, String, LoopbackForward)>,
    real_nodes: Vec<RealNode>,
    clusters: Vec<Cluster>,
    run_directory: RunDirectory,
}

impl ControlPlane {
    /// Starts one cluster per name, concurrently, building the binaries first if needed.
    pub async fn start(names: &[&str]) -> Result<Self> {
        Self::start_with_real_nodes(names, &[]).await
    }

    /// [`ControlPlane::start`], plus a real node (named `<cluster>-real-node`) for each cluster
    /// named in `real_nodes`, set up on first use (Debian packages, kubelet build).
    pub async fn start_with_real_nodes(
        names: &[&str],
        real_nodes: &[(&str, RealNodeOptions)],
    ) -> Result<Self> {
        if names.is_empty() {
            bail!("a control plane needs at least one cluster name");
        }
        let binaries = tokio::task::spawn_blocking(HarnessBinaries::locate)
            .await
            .context("locating binaries")??;
        let node_binaries = if real_nodes.is_empty() {
            None
        } else {
            Some(
                tokio::task::spawn_blocking(NodeBinaries::locate)
                    .await
                    .context("locating node binaries")??,
            )
        };
        let mut options = Vec::new();
        for name in names {
            let real_node_address = if real_nodes.iter().any(|(cluster, _)| cluster == name) {
                Some(allocate_link_address()?)
            } else {
                None
            };
            options.push(ClusterOptions {
                real_node_address,
                serving_addresses: Vec::new(),
            });
        }
        // Pods on a real node reach every cluster at the host end of their node's link (see
        // `server_for_pods`): each certificate names those addresses.
        let link_addresses: Vec<_> = options
            .iter()
            .filter_map(|options| options.real_node_address)
            .collect();
        for options in &mut options {
            options.serving_addresses.clone_from(&link_addresses);
        }
        let run_directory = RunDirectory::create()?;
        let started =
            try_join_all(names.iter().zip(&options).map(|(name, options)| {
                start_cluster(name, &binaries, run_directory.path(), options)
            }))
            .await;
        let started = match (started, node_binaries) {
            (Ok(clusters), Some(node_binaries)) => {
                match start_real_nodes(&clusters, real_nodes, &node_binaries).await {
                    Ok(nodes) => forward_other_clusters(&clusters)
                        .await
                        .map(|forwards| (clusters, nodes, forwards)),
                    Err(error) => Err(error),
                }
            }
            (started, _) => started.map(|clusters| (clusters, Vec::new(), Vec::new())),
        };
        match started {
            Ok((clusters, real_nodes, forwards)) => Ok(Self {
                binaries,
                forwards,
                real_nodes,
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

    /// The real node of the cluster `cluster`.
    pub fn real_node(&self, cluster: &str) -> Result<&RealNode> {
        let name = format!("{cluster}-real-node");
        self.real_nodes
            .iter()
            .find(|node| node.name() == name)
            .with_context(|| format!("no real node for cluster {cluster:?} in this control plane"))
    }

    /// The address at which Pods on the real node of `node_cluster` reach the API server of
    /// `cluster` (another cluster of this control plane): a forwarder on the host end of that
    /// node's link, which the cluster's serving certificate names. A kubeconfig with this server
    /// and the cluster's CA works from inside those Pods, as a member site's would.
    pub fn server_for_pods(&self, cluster: &str, node_cluster: &str) -> Result<String> {
        self.forwards
            .iter()
            .find(|(target, node, _)| target == cluster && node == node_cluster)
            .map(|(_, _, forward)| format!("https://{}", forward.address()))
            .with_context(|| {
                format!("no path from the real node of {node_cluster:?} to cluster {cluster:?}")
            })
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
        for node in &self.real_nodes {
            eprint!("{}", node.log_tails(FAILURE_LOG_LINES));
        }
    }
}

/// Starts a real node, `<cluster>-real-node`, for each cluster named in `real_nodes`, one after
/// another.
async fn start_real_nodes(
    clusters: &[Cluster],
    real_nodes: &[(&str, RealNodeOptions)],
    binaries: &NodeBinaries,
) -> Result<Vec<RealNode>> {
    let mut nodes = Vec::new();
    for (cluster_name, options) in real_nodes {
        let cluster = clusters
            .iter()
            .find(|cluster| cluster.name() == *cluster_name)
            .with_context(|| format!("no cluster named {cluster_name:?} for a real node"))?;
        let address = cluster
            .options()
            .real_node_address
            .context("a real-node cluster has a link address")?;
        nodes.push(
            RealNode::start(
                cluster,
                &format!("{cluster_name}-real-node"),
                address,
                binaries,
                options,
            )
            .await?,
        );
    }
    Ok(nodes)
}

/// For each cluster with a real node, a forwarder on its link's host end to every other
/// cluster's API server (its own is forwarded by the node).
async fn forward_other_clusters(
    clusters: &[Cluster],
) -> Result<Vec<(String, String, LoopbackForward)>> {
    let mut forwards = Vec::new();
    for node_cluster in clusters {
        let Some(address) = node_cluster.options().real_node_address else {
            continue;
        };
        for cluster in clusters
            .iter()
            .filter(|cluster| cluster.name() != node_cluster.name())
        {
            let forward = LoopbackForward::start(address, api_port(cluster.server())?).await?;
            forwards.push((
                cluster.name().to_owned(),
                node_cluster.name().to_owned(),
                forward,
            ));
        }
    }
    Ok(forwards)
}

/// Starts one cluster, trying again with other ports when another process took one of its ports
/// between choosing and binding it.
async fn start_cluster(
    name: &str,
    binaries: &HarnessBinaries,
    root: &Path,
    options: &ClusterOptions,
) -> Result<Cluster> {
    let mut attempt = 1;
    loop {
        match Cluster::start_with(name, binaries, root, options).await {
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
