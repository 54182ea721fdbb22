//! Simulated nodes: kwok plays the kubelet of every Node carrying its annotation, so the real
//! scheduler binds Pods to them, kwok reports those Pods running, and the real deployment and
//! replicaset controllers count them available. A site's nodes stop answering when kwok stops:
//! their leases lapse and the real node-lifecycle controller marks them (and their Pods) not ready.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::core::v1::Node;
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::json;

use crate::harness::wait::wait_until;

/// The annotation kwok manages nodes by (kwok's own convention); a real kubelet's Node lacks it.
pub const SIMULATED_NODE_ANNOTATION: &str = "kwok.x-k8s.io/node";

/// How long a simulated node's lease lasts: kwok renews it every quarter of that, and the
/// controller manager's `--node-monitor-grace-period` (twice this) decides when a silent node is
/// not ready.
pub const NODE_LEASE_SECONDS: u64 = 10;

/// What a simulated node offers the scheduler, as a kubelet registers it: its capacity, all of
/// it allocatable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeShape {
    pub cpu_millicores: u64,
    pub memory_mebibytes: u64,
    pub pods: u32,
}

impl Default for NodeShape {
    /// A modest server: 8 CPUs, 32 GiB, 110 Pods (the kubelet's default Pod limit). Every
    /// cluster starts with one, named `<cluster>-node-1`.
    fn default() -> Self {
        Self {
            cpu_millicores: 8_000,
            memory_mebibytes: 32 * 1024,
            pods: 110,
        }
    }
}

/// The Node a kubelet would register for `name` with `shape`: kwok takes it over by its
/// annotation and reports it Ready.
pub fn simulated_node(name: &str, shape: NodeShape) -> Node {
    let resources = json!({
        "cpu": format!("{}m", shape.cpu_millicores),
        "memory": format!("{}Mi", shape.memory_mebibytes),
        "pods": shape.pods.to_string(),
    });
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
            "annotations": {SIMULATED_NODE_ANNOTATION: "fake"},
        },
        "status": {"capacity": resources, "allocatable": resources},
    }))
    .expect("a Node built from literals deserializes")
}

/// The harness' own kwok stage: Pods report Ready again once their node answers again.
pub const POD_READY_AGAIN_STAGE: &str = include_str!("kwok-pod-ready-again.yaml");

/// kwok's command line: it manages only the annotated nodes, with the stages of its module and
/// the harness' own (`own_stages`, a file holding [`POD_READY_AGAIN_STAGE`]).
pub fn node_simulator_arguments(
    kubeconfig: &Path,
    stages: &Path,
    own_stages: &Path,
) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--config={}", stages.display()),
        format!("--config={}", own_stages.display()),
        format!("--manage-nodes-with-annotation-selector={SIMULATED_NODE_ANNOTATION}=fake"),
        format!("--node-lease-duration-seconds={NODE_LEASE_SECONDS}"),
        // Pod IPs of simulated Pods, apart from the Service range.
        "--cidr=10.244.0.0/16".to_owned(),
    ]
}

/// Registers the node and waits until kwok reports it Ready.
pub async fn register_simulated_node(
    client: &Client,
    cluster: &str,
    name: &str,
    shape: NodeShape,
    timeout: Duration,
) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .create(&PostParams::default(), &simulated_node(name, shape))
        .await?;
    wait_until(
        &format!("{cluster}: simulated node {name} to become Ready"),
        timeout,
        || {
            let nodes = nodes.clone();
            async move { Ok(nodes.get_opt(name).await?.as_ref().is_some_and(node_ready)) }
        },
    )
    .await
}

/// Whether the node's `Ready` condition is `True`.
pub fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|condition| condition.type_ == "Ready" && condition.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_node_registers_its_shape_as_allocatable_and_carries_kwoks_annotation() {
        let node = simulated_node(
            "site-node-1",
            NodeShape {
                cpu_millicores: 2_500,
                memory_mebibytes: 4_096,
                pods: 10,
            },
        );
        let status = node.status.unwrap();
        let allocatable = status.allocatable.unwrap();
        assert_eq!(allocatable["cpu"].0, "2500m");
        assert_eq!(allocatable["memory"].0, "4096Mi");
        assert_eq!(allocatable["pods"].0, "10");
        assert_eq!(status.capacity.unwrap(), allocatable);
        assert_eq!(
            node.metadata.annotations.unwrap()[SIMULATED_NODE_ANNOTATION],
            "fake"
        );
    }
}
