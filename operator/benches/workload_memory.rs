//! The operator's memory with many Workloads, by template size: N Workloads with a small
//! template (the baseline, measured in the same run), the same N with the largest template
//! allowed, and the same N over the limit (what an agency trying to exhaust the operator would
//! write). Each case starts a fresh operator once the Workloads exist and waits until it has
//! judged every one (placed and applied, or refused); its peak RSS (`VmHWM`) is reported.
//!
//! `cargo bench -p soberana-operator --bench workload_memory -- 1000`.

#![allow(
    clippy::too_many_lines,
    reason = "a benchmark reads top to bottom as one measured scenario"
)]
#![allow(
    clippy::unwrap_used,
    reason = "a benchmark aborts on the first failure"
)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::PostParams;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::{MAX_TEMPLATE_BYTES, Workload, WorkloadTemplate};
use soberana_e2e::ControlPlane;
use soberana_e2e::operator_process::{OperatorProcess, OperatorSettings};
use soberana_e2e::simulated_nodes::NodeShape;
use soberana_e2e::state_data_centre::{MEMBER_SITES, apply, install};

const OPERATOR: &str = env!("CARGO_BIN_EXE_soberana-operator");
const NAMESPACE: &str = "mem-prod";
const WRITERS: usize = 16;

fn main() -> Result<()> {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|argument| argument.parse().ok())
        .unwrap_or(1000);
    tokio::runtime::Runtime::new()?.block_on(run(count))
}

/// A template whose compact JSON is `bytes` long: one container, padded by an environment
/// variable.
fn template_of(bytes: usize) -> Value {
    let with = |padding: &str| {
        json!({"deployment": {"template": {"spec": {"containers": [{
            "name": "app", "image": "soberana/example-http:0.1.0",
            "env": [{"name": "PADDING", "value": padding}]
        }]}}}})
    };
    let empty: WorkloadTemplate = serde_json::from_value(with("")).unwrap();
    with(&"x".repeat(bytes - empty.encoded_size()))
}

fn workload(index: usize, template: &Value) -> Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1",
        "kind": "Workload",
        "metadata": {"name": format!("service-{index:05}"), "namespace": NAMESPACE},
        "spec": {
            "tenant": "memory",
            "classification": "public",
            "resources": {"cpuMillicores": 1, "memoryMebibytes": 1},
            "replicas": 1,
            "template": template,
        }
    })
}

/// Whether the operator has judged this generation: applied it (Deploying or Running) or
/// refused it (`Placed=False`).
fn judged(workload: &Workload) -> bool {
    let Some(status) = &workload.status else {
        return false;
    };
    status.observed_generation == workload.metadata.generation
        && status.phase.is_some_and(|phase| {
            use soberana_core::resources::workload::WorkloadPhase::{Deploying, Pending, Running};
            matches!(phase, Deploying | Running)
                || (phase == Pending
                    && status.conditions.iter().any(|condition| {
                        condition.type_ == "Placed" && condition.status == "False"
                    }))
        })
}

async fn run(count: usize) -> Result<()> {
    eprintln!("workload memory benchmark: {count} Workloads per case");
    let plane =
        ControlPlane::start(&["mgmt", "state-dc", "national-cloud", "public-cloud"]).await?;
    for site in MEMBER_SITES {
        plane
            .cluster(site.cluster)?
            .register_simulated_node(
                &format!("{}-node-large", site.cluster),
                NodeShape {
                    cpu_millicores: 64_000,
                    memory_mebibytes: 256 * 1024,
                    pods: 2_000,
                },
            )
            .await?;
    }
    let installation = install(&plane, "mgmt", &MEMBER_SITES).await?;
    let client = &installation.management;
    let settings = OperatorSettings {
        probe_interval: 15,
        lease_duration: 15,
        drift_check_interval: 300,
        residency_scan_interval: 300,
        ..OperatorSettings::default()
    };
    let start_operator = |identity: &str| {
        OperatorProcess::start(
            OPERATOR.as_ref(),
            &installation.operator_kubeconfig,
            plane.cluster("mgmt").unwrap().directory(),
            identity,
            &settings,
        )
    };

    // The tenant, provisioned once.
    let mut setup = start_operator("memory-setup")?;
    setup
        .wait_for_readiness("leading", Duration::from_secs(60))
        .await?;
    apply(
        client,
        &json!({
            "apiVersion": "soberana.io/v1alpha1",
            "kind": "Tenant",
            "metadata": {"name": "memory"},
            "spec": {
                "displayName": "Memory benchmark",
                "shortCode": "mem",
                "owners": [{"kind": "Group", "name": "mem-admins"}],
                "highestClassification": "public",
                "environments": [{"name": "prod"}],
                "quota": {"cpuMillicores": 64000, "memoryMebibytes": 262144, "storageGibibytes": 10, "pods": 5000},
            }
        }),
    )
    .await?;
    let tenants: Api<Tenant> = Api::all(client.clone());
    let ready = std::time::Instant::now();
    while !tenants.get("memory").await?.is_ready() {
        anyhow::ensure!(
            ready.elapsed() < Duration::from_secs(120),
            "Tenant memory not Ready"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    setup.terminate();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?,
        )
        .await?;

    let cases = [
        ("small template (baseline)", 1024),
        ("largest template allowed", MAX_TEMPLATE_BYTES),
        ("over the limit (refused)", 4 * MAX_TEMPLATE_BYTES),
    ];
    let mut rows = Vec::new();
    for (index, (label, bytes)) in cases.into_iter().enumerate() {
        let template = template_of(bytes);
        let written = Instant::now();
        let results: Vec<Result<()>> = futures::stream::iter(0..count)
            .map(|index| {
                let object = workload(index, &template);
                async move { apply(client, &object).await }
            })
            .buffer_unordered(WRITERS)
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<_>>>()?;
        eprintln!(
            "{label}: {count} Workloads of {bytes} bytes written in {:.1}s",
            written.elapsed().as_secs_f64()
        );
        let mut operator = start_operator(&format!("memory-{index}"))?;
        operator
            .wait_for_readiness("leading", Duration::from_secs(60))
            .await?;
        let started = Instant::now();
        let workloads: Api<Workload> = Api::namespaced(client.clone(), NAMESPACE);
        let mut events = std::pin::pin!(
            watcher(workloads, watcher::Config::default())
                .default_backoff()
                .applied_objects()
        );
        let mut done = BTreeSet::new();
        let mut last_report = Instant::now();
        while done.len() < count {
            let next = tokio::time::timeout(Duration::from_secs(600), events.next())
                .await
                .context("no Workload changed for 10 minutes")?;
            let workload = next.context("the Workload watch ended")??;
            if judged(&workload) {
                done.insert(workload.name_any());
            }
            if last_report.elapsed() > Duration::from_secs(10) {
                eprintln!(
                    "  {}/{count} judged after {:.0}s",
                    done.len(),
                    started.elapsed().as_secs_f64()
                );
                last_report = Instant::now();
            }
        }
        let judging = started.elapsed();
        let rss = operator.peak_rss_kib()?;
        operator.terminate();
        eprintln!(
            "{label}: judged in {:.1}s, peak RSS {:.1} MiB",
            judging.as_secs_f64(),
            rss as f64 / 1024.0
        );
        rows.push((label, bytes, judging, rss));
    }

    let baseline = rows[0].3 as f64;
    println!(
        "| case | template (bytes, JSON) | Workloads | all judged in | operator peak RSS | RSS / baseline |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, bytes, judging, rss) in rows {
        println!(
            "| {label} | {bytes} | {count} | {:.1} s | {:.1} MiB | **{:.2}** |",
            judging.as_secs_f64(),
            rss as f64 / 1024.0,
            rss as f64 / baseline,
        );
    }
    Ok(())
}
