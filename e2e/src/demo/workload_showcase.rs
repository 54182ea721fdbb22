//! What `make demo` shows of workloads: every example Workload's phase and sites as the operator
//! decided them, and, with `--fail-site`, a site's API server stopped and the workloads there
//! failing over after their grace period (or staying, degraded, when nothing else may host them).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use soberana_core::propagation::member_objects::WORKLOAD;
use soberana_core::resources::workload::{Workload, WorkloadPhase};

use crate::harness::control_plane::ControlPlane;

/// One line per Workload: name, classification, phase, sites (or why it is not placed).
fn table(workloads: &[Workload]) -> Vec<String> {
    let mut lines = vec![format!(
        "  {:<52} {:<14} {:<12} SITES / WHY",
        "WORKLOAD", "CLASSIFICATION", "PHASE"
    )];
    for workload in workloads {
        let status = workload.status.clone().unwrap_or_default();
        let phase = status
            .phase
            .map_or_else(|| "-".to_owned(), |phase| format!("{phase:?}"));
        let degraded = status
            .conditions
            .iter()
            .find(|condition| condition.type_ == "Degraded" && condition.status == "True")
            .map(|condition| format!(" (degraded: {})", condition.message))
            .unwrap_or_default();
        let sites = if status.chosen_sites.is_empty() {
            status
                .decision
                .and_then(|decision| decision.unplaceable)
                .map_or_else(String::new, |unplaceable| unplaceable.message)
        } else {
            status.chosen_sites.join(", ")
        };
        lines.push(format!(
            "  {:<52} {:<14} {:<12} {sites}{degraded}",
            qualified_name(workload),
            workload.spec.classification,
            phase
        ));
    }
    lines
}

async fn workloads(management: &Client) -> Result<Vec<Workload>> {
    let mut found = Api::<Workload>::all(management.clone())
        .list(&ListParams::default())
        .await?
        .items;
    found.sort_by_key(|workload| (workload.namespace(), workload.name_any()));
    Ok(found)
}

/// Waits (up to `timeout`) until every Workload has settled (see [`settled`]), then prints them.
pub async fn show_placements(management: &Client, timeout: Duration) -> Result<Vec<String>> {
    let started = Instant::now();
    let mut found = workloads(management).await?;
    while !found.iter().all(settled) && started.elapsed() < timeout {
        tokio::time::sleep(Duration::from_secs(1)).await;
        found = workloads(management).await?;
    }
    let mut lines = vec![format!(
        "\nWorkloads placed by the engine (kubectl --context mgmt get workloads -A; the decision is in -o yaml):"
    )];
    lines.extend(table(&found));
    Ok(lines)
}

/// Stops `site`'s API server and reports, as it happens, each Workload there moving to another
/// eligible site or staying degraded; `say` prints a line.
pub async fn fail_site(
    plane: &ControlPlane,
    management: &Client,
    site: &str,
    timeout: Duration,
    say: impl Fn(&str),
) -> Result<()> {
    let affected = placed_on(&workloads(management).await?, site);
    let started = Instant::now();
    plane.cluster(site)?.stop_api_server();
    say(&format!(
        "\nStopped {site}'s API server. {} workload(s) ran there; each moves to another eligible site after its grace period (spec.failover.gracePeriodSeconds, 60 s by default), or stays, degraded, when no other site may host it:",
        affected.len()
    ));
    follow_outcomes(management, site, &affected, started, timeout, &say).await?;
    for line in table(&workloads(management).await?) {
        say(&line);
    }
    let phases = now_phases(management).await?;
    say(&format!(
        "{site}'s API server stays stopped; {} workloads Running, {} Deploying, {} Placed (no template), {} Unplaceable.",
        phases.get(&WorkloadPhase::Running).unwrap_or(&0),
        phases.get(&WorkloadPhase::Deploying).unwrap_or(&0)
            + phases.get(&WorkloadPhase::FailingOver).unwrap_or(&0),
        phases.get(&WorkloadPhase::Placed).unwrap_or(&0),
        phases.get(&WorkloadPhase::Unplaceable).unwrap_or(&0),
    ));
    Ok(())
}

/// Running, placed with nothing to run, unplaceable, or degraded for a reason waiting will not
/// cure (stranded on a site that is down, no room on its nodes).
fn settled(workload: &Workload) -> bool {
    let Some(status) = workload.status.as_ref() else {
        return false;
    };
    let stuck = status.conditions.iter().any(|condition| {
        condition.type_ == "Degraded"
            && condition.status == "True"
            && ["Stranded", "Unschedulable"].contains(&condition.reason.as_str())
    });
    stuck
        || matches!(
            status.phase,
            Some(WorkloadPhase::Running | WorkloadPhase::Placed | WorkloadPhase::Unplaceable)
        )
}

/// Per member site, the Pods running in tenant namespaces on its nodes (read from the site's own
/// API server, as `kubectl get pods -A -o wide` would show them).
pub async fn show_pods(plane: &ControlPlane, sites: &[String]) -> Result<Vec<String>> {
    let mut lines = vec![
        "\nPods of the Workloads on the sites' nodes (each site's own API server, label soberana.io/workload):"
            .to_owned(),
    ];
    for site in sites {
        let cluster = plane.cluster(site)?;
        let pods = Api::<Pod>::all(cluster.client().await?)
            .list(&ListParams::default().labels(WORKLOAD))
            .await?
            .items;
        let mut per_node: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for pod in &pods {
            let node = pod
                .spec
                .as_ref()
                .and_then(|spec| spec.node_name.clone())
                .unwrap_or_else(|| "(not scheduled)".to_owned());
            let running = pod
                .status
                .as_ref()
                .and_then(|status| status.phase.as_deref())
                == Some("Running");
            let counts = per_node.entry(node).or_default();
            counts.0 += usize::from(running);
            counts.1 += 1;
        }
        let nodes: Vec<String> = per_node
            .iter()
            .map(|(node, (running, all))| format!("{node} {running}/{all}"))
            .collect();
        lines.push(format!(
            "  {site:<20} {} Pods, {} Running  [{}]  (KUBECONFIG={} kubectl get pods -A -o wide)",
            pods.len(),
            per_node.values().map(|counts| counts.0).sum::<usize>(),
            nodes.join(", "),
            cluster.kubeconfig().display()
        ));
    }
    Ok(lines)
}

/// The names (`namespace/name`) of the Workloads placed on `site`: those its failure affects.
fn placed_on(workloads: &[Workload], site: &str) -> Vec<String> {
    workloads
        .iter()
        .filter(|workload| {
            workload
                .status
                .as_ref()
                .is_some_and(|status| status.chosen_sites.iter().any(|chosen| chosen == site))
        })
        .map(qualified_name)
        .collect()
}

/// Reports each `affected` Workload's outcome once it has one, and again when it changes, until
/// every one has an outcome or `timeout` (counted from `started`) passes.
async fn follow_outcomes(
    management: &Client,
    site: &str,
    affected: &[String],
    started: Instant,
    timeout: Duration,
    say: &impl Fn(&str),
) -> Result<()> {
    let mut reported: BTreeMap<String, String> = BTreeMap::new();
    loop {
        for workload in &workloads(management).await? {
            let name = qualified_name(workload);
            if !affected.contains(&name) {
                continue;
            }
            let Some(outcome) = outcome(workload, site) else {
                continue;
            };
            if reported.get(&name) != Some(&outcome) {
                say(&format!(
                    "  [{:>5.1}s] {name}: {outcome}",
                    started.elapsed().as_secs_f64()
                ));
                reported.insert(name, outcome);
            }
        }
        let settled = affected.iter().all(|name| reported.contains_key(name));
        if settled || started.elapsed() > timeout {
            if !settled {
                say(&format!("  (stopped waiting after {}s)", timeout.as_secs()));
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// What became of a Workload that ran on the failed `site`: failed over from it, or stranded
/// there (degraded); `None` while the operator has not decided yet.
fn outcome(workload: &Workload, site: &str) -> Option<String> {
    let status = workload.status.clone().unwrap_or_default();
    if let Some(record) = status
        .last_failover
        .filter(|record| record.from.iter().any(|from| from == site))
    {
        return Some(format!(
            "failed over to {} ({})",
            record.to.join(", "),
            record.reason
        ));
    }
    status
        .conditions
        .iter()
        .find(|condition| condition.type_ == "Degraded" && condition.reason == "Stranded")
        .map(|stranded| format!("stays on {site}, degraded: {}", stranded.message))
}

/// `namespace/name`, as `kubectl` names a namespaced object.
fn qualified_name(workload: &Workload) -> String {
    format!(
        "{}/{}",
        workload.namespace().unwrap_or_default(),
        workload.name_any()
    )
}

async fn now_phases(management: &Client) -> Result<BTreeMap<WorkloadPhase, usize>> {
    let mut phases = BTreeMap::new();
    for workload in workloads(management).await? {
        if let Some(phase) = workload.status.and_then(|status| status.phase) {
            *phases.entry(phase).or_default() += 1;
        }
    }
    Ok(phases)
}
