//! Provisioning throughput: the operator provisioning N tenants × 3 member sites, against the
//! write ceiling measured in the same run: a plain loop that server-side-applies the very same
//! objects to the same API servers, with the same concurrency, and nothing else (no watches, no
//! status, no events). Reports both times, the ratio and the operator's peak RSS.
//!
//! `make bench-operator` (or `cargo bench -p soberana-operator --bench provisioning -- 500`).

#![allow(
    clippy::too_many_lines,
    reason = "a benchmark reads top to bottom as one measured scenario"
)]
#![allow(
    clippy::unwrap_used,
    reason = "a benchmark aborts on the first failure"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Config, ResourceExt};
use serde_json::{Value, json};
use soberana_core::resources::tenant::{Tenant, TenantSpec};
use soberana_core::tenancy::{TenantIdentity, TenantObject, desired_objects};
use soberana_e2e::ControlPlane;
use soberana_e2e::operator_process::{OperatorProcess, OperatorSettings};
use soberana_e2e::state_data_centre::{MEMBER_SITES, apply, install};
use soberana_operator::members::tenant_objects::apply_object;

const OPERATOR: &str = env!("CARGO_BIN_EXE_soberana-operator");
/// The operator's reconcile concurrency; the baseline gets as many tenants in flight.
const CONCURRENCY: usize = 32;

fn main() -> Result<()> {
    let tenants: usize = std::env::args()
        .skip(1)
        .find_map(|argument| argument.parse().ok())
        .unwrap_or(500);
    tokio::runtime::Runtime::new()?.block_on(run(tenants))
}

fn tenant(prefix: &str, index: usize) -> Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": format!("{prefix}-{index:04}")},
        "spec": {
            "displayName": format!("Institution {index}"),
            "shortCode": format!("{prefix}{index:04}"),
            "owners": [{"kind": "Group", "name": format!("{prefix}{index:04}-admins")}],
            "highestClassification": "confidential",
            "environments": [{"name": "prod"}, {"name": "dev"}],
            "quota": {"cpuMillicores": 4000, "memoryMebibytes": 8192, "storageGibibytes": 100, "pods": 50},
        }
    })
}

async fn run(count: usize) -> Result<()> {
    eprintln!(
        "provisioning benchmark: {count} tenants × {} sites",
        MEMBER_SITES.len()
    );
    let plane =
        ControlPlane::start(&["mgmt", "state-dc", "national-cloud", "public-cloud"]).await?;
    let installation = install(&plane, "mgmt", &MEMBER_SITES).await?;
    // The loop writes as the operator does: with its ServiceAccount token on each site, so
    // both pay the same authentication and RBAC checks.
    let mut members = Vec::new();
    for member in MEMBER_SITES {
        let kubeconfig = Kubeconfig::from_yaml(&installation.site_kubeconfigs[member.cluster])?;
        let config =
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        members.push(Client::try_from(config)?);
    }

    // The ceiling: the same objects, applied by a plain loop as fast as the servers take them.
    // One sequence per tenant and site (namespaces first, as the operator does), with as many
    // sequences in flight as the operator has: its reconcile concurrency × the sites.
    let sequences: Vec<(Client, Vec<TenantObject>)> = (0..count)
        .flat_map(|index| {
            let object = tenant("base", index);
            let spec: TenantSpec = serde_json::from_value(object["spec"].clone()).unwrap();
            let name = object["metadata"]["name"].as_str().unwrap().to_owned();
            let identity = TenantIdentity {
                uid: format!("baseline-{name}"),
                name,
            };
            let objects = desired_objects(&identity, &spec, "ingress");
            members
                .iter()
                .map(move |client| (client.clone(), objects.clone()))
        })
        .collect();
    let total_writes: usize = sequences.iter().map(|(_, objects)| objects.len()).sum();
    let started = Instant::now();
    let results: Vec<Result<()>> = futures::stream::iter(sequences)
        .map(|(client, objects)| async move {
            for object in &objects {
                apply_object(&client, object, "soberana-bench-baseline")
                    .await
                    .with_context(|| format!("applying {}", object.describe()))?;
            }
            Ok(())
        })
        .buffer_unordered(CONCURRENCY * MEMBER_SITES.len())
        .collect()
        .await;
    let baseline = started.elapsed();
    results.into_iter().collect::<Result<Vec<_>>>()?;
    eprintln!(
        "baseline: {total_writes} server-side applies in {:.1}s",
        baseline.as_secs_f64()
    );

    // The operator, from the first Tenant created to the last one Ready.
    let mut operator = OperatorProcess::start(
        OPERATOR.as_ref(),
        &installation.operator_kubeconfig,
        plane.cluster("mgmt")?.directory(),
        "bench-operator",
        &OperatorSettings {
            probe_interval: 15,
            lease_duration: 15,
            reconcile_concurrency: u16::try_from(CONCURRENCY)?,
            drift_check_interval: 300,
            residency_scan_interval: 300,
            ..OperatorSettings::default()
        },
    )?;
    operator
        .wait_for_readiness("leading", Duration::from_secs(60))
        .await?;
    let client = &installation.management;
    let started = Instant::now();
    let objects: Vec<Value> = (0..count).map(|index| tenant("op", index)).collect();
    let created: Vec<Result<()>> = futures::stream::iter(&objects)
        .map(|object| apply(client, object))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    created.into_iter().collect::<Result<Vec<_>>>()?;
    // Readiness is followed with a watch, not by listing 500 tenants over and over, which would
    // load the management API server during the operator's run only.
    let tenants: Api<Tenant> = Api::all(client.clone());
    let mut events = std::pin::pin!(
        watcher(tenants, watcher::Config::default())
            .default_backoff()
            .applied_objects()
    );
    let mut ready = BTreeSet::new();
    let mut last_report = Instant::now();
    while ready.len() < count {
        let next = tokio::time::timeout(Duration::from_secs(600), events.next())
            .await
            .context("no Tenant changed for 10 minutes")?;
        let tenant = next.context("the Tenant watch ended")??;
        if tenant.name_any().starts_with("op-") && tenant.is_ready() {
            ready.insert(tenant.name_any());
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  {}/{count} tenants Ready after {:.0}s",
                ready.len(),
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    let provisioning = started.elapsed();
    let rss = operator.peak_rss_kib()?;
    let requests = operator
        .metric("soberana_kube_api_requests_total", &[])
        .await?;

    // Both wrote the same objects.
    for (member, site) in members.iter().zip(MEMBER_SITES) {
        let counts = managed_namespaces(member).await?;
        ensure!(
            counts.get("base").copied() == Some(2 * count)
                && counts.get("op").copied() == Some(2 * count),
            "{}: namespaces by prefix {counts:?}",
            site.cluster
        );
    }

    let ratio = baseline.as_secs_f64() / provisioning.as_secs_f64();
    println!(
        "| tenants × sites | objects applied | plain SSA loop (ceiling) | operator | operator / ceiling | operator peak RSS | operator API requests |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {count} × {} | {total_writes} | {:.1} s ({:.0} objects/s) | {:.1} s ({:.0} objects/s) | **{ratio:.2}** | {:.1} MiB | {requests:.0} |",
        MEMBER_SITES.len(),
        baseline.as_secs_f64(),
        total_writes as f64 / baseline.as_secs_f64(),
        provisioning.as_secs_f64(),
        total_writes as f64 / provisioning.as_secs_f64(),
        rss as f64 / 1024.0,
    );
    drop(operator);
    Ok(())
}

async fn managed_namespaces(client: &Client) -> Result<BTreeMap<String, usize>> {
    let list = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=soberana"))
        .await?;
    let mut counts = BTreeMap::new();
    for namespace in list.items {
        let name = namespace.name_any();
        let prefix = ["base", "op"]
            .into_iter()
            .find(|prefix| name.starts_with(prefix))
            .unwrap_or("other");
        *counts.entry(prefix.to_owned()).or_default() += 1;
    }
    Ok(counts)
}
