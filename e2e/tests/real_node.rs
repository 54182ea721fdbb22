//! A real node in the harness: Debian's containerd and runc, the CNI bridge, and the upstream
//! kubelet and kube-proxy, in a namespace of their own. A Deployment of a locally built image
//! becomes available through the real deployment and replicaset controllers, kube-scheduler and
//! kubelet (beside the cluster's simulated node); its Pods reach the API server with their
//! ServiceAccount tokens through the `kubernetes` Service; a node whose kubelet stops turns
//! NotReady; a node's teardown leaves no process, mount, interface or cgroup behind, and the node
//! of a killed harness is removed by the next one. Needs root.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ServiceAccount};
use kube::api::{DeleteParams, ListParams, LogParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use soberana_e2e::{
    ControlPlane, KEEP_FILES_ENV, NodeBinaries, NodeFootprint, PROBE_IMAGE, RealNode,
    RealNodeOptions, Suite, allocate_link_address, build_probe_images, remove_abandoned_nodes,
    wait_until,
};
use tokio::io::{AsyncBufReadExt, BufReader};

const CLUSTER: &str = "site";
const TIMEOUT: Duration = Duration::from_secs(180);

/// Set in the child process that starts a node and is then killed.
const ABANDONING_CHILD_ENV: &str = "SOBERANA_E2E_REAL_NODE_ABANDONING_CHILD";

fn main() -> ExitCode {
    let images = match build_probe_images(
        Path::new(env!("CARGO_BIN_EXE_soberana-node-probe")),
        &PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("node-images"),
    ) {
        Ok(images) => images,
        Err(error) => {
            eprintln!("error: building the node images: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    if std::env::var_os(ABANDONING_CHILD_ENV).is_some() {
        return match abandoning_child(images) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    Suite::new(&[CLUSTER])
        .with_real_node(
            CLUSTER,
            RealNodeOptions {
                images: images.clone(),
                ..RealNodeOptions::default()
            },
        )
        .test(
            "deployment_runs_on_the_real_node_and_its_pods_reach_the_api",
            deployment_runs_on_the_real_node_and_its_pods_reach_the_api,
        )
        .test(
            "stopped_node_turns_not_ready_and_leaves_nothing_behind",
            move |plane| stopped_node_turns_not_ready_and_leaves_nothing_behind(plane, images),
        )
        .test(
            "a_killed_harness_leaves_its_node_to_the_next_one_to_remove",
            |_| a_killed_harness_leaves_its_node_to_the_next_one_to_remove(),
        )
        .run()
}

async fn deployment_runs_on_the_real_node_and_its_pods_reach_the_api(
    plane: Arc<ControlPlane>,
) -> Result<()> {
    let client = plane.cluster(CLUSTER)?.client().await?;
    let node = plane.real_node(CLUSTER)?;
    let namespace = "probe-deployment";
    create_namespace(&client, namespace).await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "probe"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "probe"}},
            "template": {
                "metadata": {"labels": {"app": "probe"}},
                // Not on the cluster's simulated node: on the real one, by the label its kubelet
                // registered.
                "spec": {
                    "nodeSelector": {"kubernetes.io/hostname": node.name()},
                    "containers": [probe_container()]
                }
            }
        }
    }))?;
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;
    wait_until(
        "Deployment probe to have 2 available replicas",
        TIMEOUT,
        || {
            let deployments = deployments.clone();
            async move {
                let deployment = deployments.get("probe").await?;
                Ok(deployment
                    .status
                    .and_then(|status| status.available_replicas)
                    == Some(2))
            }
        },
    )
    .await?;

    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let listed = pods
        .list(&ListParams::default().labels("app=probe"))
        .await?;
    ensure!(
        listed.items.len() == 2,
        "expected 2 Pods, found {}",
        listed.items.len()
    );
    for pod in &listed.items {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let spec = pod.spec.as_ref().context("a Pod has a spec")?;
        ensure!(
            spec.node_name.as_deref() == Some(node.name()),
            "Pod {name} was bound to {:?}, not the real node {}",
            spec.node_name,
            node.name()
        );
        let phase = pod.status.as_ref().and_then(|status| status.phase.clone());
        ensure!(
            phase.as_deref() == Some("Running"),
            "Pod {name} is {phase:?}"
        );
        // Through the API server to the kubelet, which reads containerd's log of the container.
        let log = pods.logs(&name, &LogParams::default()).await?;
        let expected =
            format!("reached the API server as system:serviceaccount:{namespace}:default");
        ensure!(log.contains(&expected), "Pod {name} logged {log:?}");
    }
    Ok(())
}

async fn stopped_node_turns_not_ready_and_leaves_nothing_behind(
    plane: Arc<ControlPlane>,
    images: Vec<PathBuf>,
) -> Result<()> {
    let cluster = plane.cluster(CLUSTER)?;
    let client = cluster.client().await?;
    let binaries = tokio::task::spawn_blocking(NodeBinaries::locate).await??;
    let node = RealNode::start(
        cluster,
        "site-real-node-2",
        allocate_link_address()?,
        &binaries,
        &RealNodeOptions {
            images,
            ..RealNodeOptions::default()
        },
    )
    .await?;
    let footprint = node.footprint().clone();

    // A Pod on the node, so that teardown has containers, mounts and Pod interfaces to remove.
    let namespace = "stopped-node";
    create_namespace(&client, namespace).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe"},
        "spec": {"nodeName": node.name(), "containers": [probe_container()]}
    }))?;
    pods.create(&PostParams::default(), &pod).await?;
    wait_until("Pod probe on site-real-node-2 to be Ready", TIMEOUT, || {
        let pods = pods.clone();
        async move { Ok(condition(&pods.get("probe").await?, "Ready")) }
    })
    .await?;
    ensure!(
        !footprint.leftovers().is_empty(),
        "a running node shows in the leftover check (else the check proves nothing)"
    );

    node.stop_kubelet();
    let nodes: Api<Node> = Api::all(client.clone());
    wait_until("Node site-real-node-2 to turn NotReady", TIMEOUT, || {
        let nodes = nodes.clone();
        async move {
            let node = nodes.get("site-real-node-2").await?;
            let ready = node
                .status
                .and_then(|status| status.conditions)
                .unwrap_or_default()
                .into_iter()
                .find(|condition| condition.type_ == "Ready")
                .map(|condition| condition.status);
            Ok(ready.is_some_and(|status| status != "True"))
        }
    })
    .await?;

    drop(node);
    wait_until(
        "nothing of site-real-node-2 to remain",
        Duration::from_secs(30),
        || {
            let leftovers = footprint.leftovers();
            async move {
                ensure!(leftovers.is_empty(), "left behind: {leftovers:#?}");
                Ok(true)
            }
        },
    )
    .await?;
    nodes
        .delete("site-real-node-2", &DeleteParams::default())
        .await?;
    Ok(())
}

/// A harness killed with SIGKILL cannot tear its node down; the next node's start removes what is
/// left (its containers, shims, kubelet, cgroups), and with its processes go its namespaces.
async fn a_killed_harness_leaves_its_node_to_the_next_one_to_remove() -> Result<()> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .env(ABANDONING_CHILD_ENV, "1")
        .env_remove(KEEP_FILES_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().context("the child's standard output")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(TIMEOUT, lines.next_line())
        .await
        .context("the child did not start its node in time")??
        .context("the child ended before its node ran a Pod")?;
    let footprint: Vec<&str> = line.split('\t').collect();
    let [directory, interface, cgroup_root] = footprint[..] else {
        anyhow::bail!("unexpected line from the child: {line:?}");
    };
    let footprint = NodeFootprint {
        directory: PathBuf::from(directory),
        interface: interface.to_owned(),
        cgroup_root: cgroup_root.to_owned(),
    };
    child.start_kill()?;
    child.wait().await?;
    ensure!(
        footprint.leftovers().len() > 1,
        "a killed harness leaves its node running: {:#?}",
        footprint.leftovers()
    );

    let removed = tokio::task::spawn_blocking(remove_abandoned_nodes).await?;
    ensure!(
        removed.iter().any(|root| root == cgroup_root),
        "the abandoned node's cgroup {cgroup_root} was not found: {removed:?}"
    );
    wait_until(
        "nothing of the abandoned node to remain",
        Duration::from_secs(30),
        || {
            let leftovers = footprint.leftovers();
            async move {
                ensure!(leftovers.is_empty(), "left behind: {leftovers:#?}");
                Ok(true)
            }
        },
    )
    .await?;
    // Its control plane's files; its servers went with the processes naming its run directory.
    if let Some(run) = footprint.directory.parent() {
        let _ = std::fs::remove_dir_all(run);
    }
    Ok(())
}

/// The child: a cluster with a real node running a Pod; prints the node's footprint and waits to
/// be killed.
fn abandoning_child(images: Vec<PathBuf>) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let plane = ControlPlane::start_with_real_nodes(
            &["abandoned"],
            &[(
                "abandoned",
                RealNodeOptions {
                    images,
                    ..RealNodeOptions::default()
                },
            )],
        )
        .await?;
        let node = plane.real_node("abandoned")?;
        let pods: Api<Pod> =
            Api::namespaced(plane.cluster("abandoned")?.client().await?, "default");
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "probe"},
            "spec": {"nodeName": node.name(), "containers": [probe_container()]}
        }))?;
        pods.create(&PostParams::default(), &pod).await?;
        wait_until("Pod probe to be Ready", TIMEOUT, || {
            let pods = pods.clone();
            async move { Ok(condition(&pods.get("probe").await?, "Ready")) }
        })
        .await?;
        let footprint = node.footprint();
        println!(
            "{}\t{}\t{}",
            footprint.directory.display(),
            footprint.interface,
            footprint.cgroup_root
        );
        std::future::pending::<()>().await;
        drop(plane);
        Ok(())
    })
}

/// The probe: it asks the API server who it is with its ServiceAccount token, logs the answer,
/// and then answers HTTP, which its readiness checks.
fn probe_container() -> serde_json::Value {
    json!({
        "name": "probe",
        "image": PROBE_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}
    })
}

async fn create_namespace(client: &Client, name: &str) -> Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}}))?,
        )
        .await?;
    // Pods are refused until the service-account controller has created the namespace's account.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), name);
    wait_until(&format!("{name}/default ServiceAccount"), TIMEOUT, || {
        let accounts = accounts.clone();
        async move { Ok(accounts.get_opt("default").await?.is_some()) }
    })
    .await
}

fn condition(pod: &Pod, kind: &str) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|condition| condition.type_ == kind && condition.status == "True")
        })
}
