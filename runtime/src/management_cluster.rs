//! The management cluster's connection settings: from `--kubeconfig` when given (an error names
//! the file), else inferred (KUBECONFIG, ~/.kube/config, or the in-cluster ServiceAccount).

use std::path::Path;

use anyhow::{Context, Result};
use kube::Config;

/// The settings for `kubeconfig`, or inferred without one.
pub async fn config(kubeconfig: Option<&Path>) -> Result<Config> {
    let Some(path) = kubeconfig else {
        return Config::infer().await.context(
            "loading the management cluster's kubeconfig (KUBECONFIG, ~/.kube/config or in-cluster)",
        );
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("--kubeconfig {}: cannot read a kubeconfig", path.display()))?;
    Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .with_context(|| format!("--kubeconfig {}: cannot load it", path.display()))
}
