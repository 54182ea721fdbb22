//! The Site controller: probes each member cluster (`/readyz`, `/version`) on an interval and
//! reports reachability, readiness, version, measured availability and the capacity allocated to
//! tenants. Status is written only when it changes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::Event as FinalizerEvent;
use kube::runtime::reflector::Store;
use kube::{Api, Client, ResourceExt};
use soberana_core::resources::availability::Availability;
use soberana_core::resources::capacity::Capacity;
use soberana_core::resources::site::{Site, SiteStatus};
use soberana_core::resources::site_nodes::ObservedNodes;
use soberana_core::resources::tenant::{ProvisioningState, Tenant};

use super::exchange::{SITE_FINALIZER, release_site};
use super::finalized::finalized;
use crate::conditions::ConditionType;
use crate::conditions::{bounded_message, condition};
use crate::members::drift::repair_if_damaged;
use crate::members::site_nodes::observe_nodes;
use crate::runtime::context::Context;
use crate::runtime::error::Error;
use crate::runtime::status_writer::write_status;

/// The field manager of everything this controller writes.
pub const FIELD_MANAGER: &str = "soberana-site-controller";
/// How long a probe may take before the site counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What one probe found.
#[derive(Debug)]
enum Probe {
    /// The API server answered `/version`; `ready` tells whether `/readyz` said ok, and
    /// `nodes` what its nodes hold (`None` when they could not be read).
    Answered {
        version: String,
        ready: bool,
        readiness: String,
        nodes: Option<ObservedNodes>,
    },
    /// No client could be built from the Site's connection: the condition reason
    /// (`NoConnection`, or `UnsafeKubeconfig` when the kubeconfig was refused) and why.
    NoConnection {
        reason: &'static str,
        message: String,
    },
    /// The API server did not answer.
    Unreachable(String),
}

/// Observe (probe the site) → decide (its status, pure) → report (metrics, and the status when it
/// changed); comes back after the probe interval. A site that answers is also where drift of the
/// tenants' objects is looked for (at most every `--drift-check-interval`): the connection is
/// already open and known to work.
/// Behind the finalizer that keeps a Site being deleted until no agreement path remains on it
/// (see `exchange::release_site`).
pub async fn reconcile(site: Arc<Site>, context: Arc<Context>) -> Result<Action, Error> {
    let api: Api<Site> = Api::all(context.client.clone());
    finalized(&api, SITE_FINALIZER, site, |event| async {
        match event {
            FinalizerEvent::Apply(site) => probe_and_report(site, &context).await,
            FinalizerEvent::Cleanup(site) => release_site(&site, &context).await,
        }
    })
    .await
}

async fn probe_and_report(site: Arc<Site>, context: &Arc<Context>) -> Result<Action, Error> {
    let name = site.name_any();
    let started = Instant::now();
    let client = context.connections.client(&site, &context.metrics).await;
    let probe = match &client {
        Ok(client) => probe(client).await,
        Err(error) => Probe::NoConnection {
            reason: error.reason(),
            message: error.0.clone(),
        },
    };
    let answered = matches!(probe, Probe::Answered { ready: true, .. });
    if let (true, Ok(client)) = (answered, &client) {
        repair_if_damaged(client, &name, context).await;
    }
    let measured = context.record_probe(&name, answered);
    record_probe_metrics(context, &site, answered, started, measured);

    let allocated = allocated_to_tenants(context.caches.tenants.store(), &name);
    let status = desired_status(
        &site,
        &probe,
        measured.map(|value| value.percent_text()),
        allocated,
        Timestamp::now(),
    );
    if !same_status(site.status.as_ref(), &status) {
        write_status::<Site, _>(&context.client, &name, &status, FIELD_MANAGER).await?;
    }
    Ok(Action::requeue(context.settings.probe_interval))
}

/// The probe's latency and result, whether the site is up, and its measured and offered
/// availability.
fn record_probe_metrics(
    context: &Context,
    site: &Site,
    answered: bool,
    started: Instant,
    measured: Option<Availability>,
) {
    let name = site.name_any();
    let labels = [name.as_str()];
    let metrics = &context.metrics;
    metrics
        .site_probe_duration
        .with_label_values(&labels)
        .observe(started.elapsed().as_secs_f64());
    let result = if answered { "success" } else { "failure" };
    metrics
        .site_probes
        .with_label_values(&[name.as_str(), result])
        .inc();
    metrics
        .site_up
        .with_label_values(&labels)
        .set(i64::from(answered));
    if let Some(measured) = measured {
        metrics
            .site_availability
            .with_label_values(&labels)
            .set(ratio(measured.parts_per_million()));
    }
    if let Some(offered) = Availability::parse_percent(&site.spec.offered_availability) {
        metrics
            .site_offered_availability
            .with_label_values(&labels)
            .set(ratio(offered.parts_per_million()));
    }
}

async fn probe(client: &Client) -> Probe {
    let version = match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
        // The member's answer goes to status: bounded and sanitized like any message.
        Ok(Ok(version)) => bounded_message(&version.git_version),
        Ok(Err(error)) => return Probe::Unreachable(format!("/version failed: {error}")),
        Err(_) => {
            return Probe::Unreachable(format!("/version did not answer within {PROBE_TIMEOUT:?}"));
        }
    };
    let readyz = http::Request::get("/readyz").body(Vec::new());
    let readiness = match readyz {
        Ok(request) => tokio::time::timeout(PROBE_TIMEOUT, client.request_text(request)).await,
        Err(_) => return Probe::Unreachable("cannot build the /readyz request".to_owned()),
    };
    let (ready, readiness) = match readiness {
        Ok(Ok(text)) if text.trim() == "ok" => (true, "ok".to_owned()),
        Ok(Ok(text)) => (
            false,
            bounded_message(text.lines().next().unwrap_or_default()),
        ),
        Ok(Err(error)) => (false, format!("/readyz failed: {error}")),
        Err(_) => (
            false,
            format!("/readyz did not answer within {PROBE_TIMEOUT:?}"),
        ),
    };
    // A site that cannot say what its nodes hold keeps what was last seen (see `desired_status`).
    let nodes = match tokio::time::timeout(PROBE_TIMEOUT, observe_nodes(client)).await {
        Ok(Ok(nodes)) => Some(nodes),
        Ok(Err(error)) => {
            tracing::debug!(%error, "reading the site's nodes failed");
            None
        }
        Err(_) => None,
    };
    Probe::Answered {
        version,
        ready,
        readiness,
        nodes,
    }
}

/// Decide: the status one probe leads to, probed at `now`. The version last seen is kept while
/// the site does not answer.
fn desired_status(
    site: &Site,
    probe: &Probe,
    measured: Option<String>,
    allocated: Capacity,
    now: Timestamp,
) -> SiteStatus {
    let existing = site.status.clone().unwrap_or_default();
    let generation = site.metadata.generation;
    let [reachable, ready] = verdicts(probe);
    let judged = |type_, (status, reason, message): Verdict| {
        condition(
            &existing.conditions,
            type_,
            status,
            reason,
            message,
            generation,
        )
    };
    let version = match probe {
        Probe::Answered { version, .. } => Some(version.clone()),
        Probe::NoConnection { .. } | Probe::Unreachable(_) => existing.kubernetes_version.clone(),
    };
    let nodes = match probe {
        Probe::Answered {
            nodes: Some(nodes), ..
        } => Some(nodes.clone()),
        _ => existing.nodes.clone(),
    };
    SiteStatus {
        conditions: vec![
            judged(ConditionType::Ready, ready),
            judged(ConditionType::Reachable, reachable),
        ],
        observed_generation: generation,
        kubernetes_version: version,
        last_probe_time: Some(Time(now)),
        measured_availability: measured,
        allocated: Some(allocated),
        nodes,
        residency: None,
    }
}

/// A condition's status, reason and message.
type Verdict = (bool, &'static str, String);

/// `Reachable` and `Ready`, from one probe.
fn verdicts(probe: &Probe) -> [Verdict; 2] {
    match probe {
        Probe::Answered {
            version,
            ready,
            readiness,
            nodes,
        } => [
            (
                true,
                "Answered",
                format!("the API server reports {version}"),
            ),
            match nodes {
                _ if !*ready => (false, "NotReady", format!("/readyz: {readiness}")),
                Some(nodes) if nodes.ready == 0 => (
                    false,
                    "NoReadyNodes",
                    format!(
                        "none of the site's {} nodes is Ready and schedulable: nothing placed there can run",
                        nodes.total
                    ),
                ),
                _ => (true, "Ready", "/readyz reports ok".to_owned()),
            },
        ],
        Probe::NoConnection { reason, message } => [
            (false, reason, message.clone()),
            (false, reason, "the site cannot be reached".to_owned()),
        ],
        Probe::Unreachable(message) => [
            (false, "Unreachable", message.clone()),
            (
                false,
                "Unreachable",
                "the site's API server does not answer".to_owned(),
            ),
        ],
    }
}

/// The conditions this controller writes; others (residency) belong to other controllers.
const OWN_CONDITIONS: [ConditionType; 2] = [ConditionType::Ready, ConditionType::Reachable];

/// Equal in what this controller writes, but for the probe time, which alone is not worth a
/// write.
fn same_status(current: Option<&SiteStatus>, desired: &SiteStatus) -> bool {
    let Some(current) = current else { return false };
    let mut current = current.clone();
    current.last_probe_time = desired.last_probe_time.clone();
    current.residency = None;
    current
        .conditions
        .retain(|condition| OWN_CONDITIONS.iter().any(|own| own.is(condition)));
    current
        .conditions
        .sort_by(|left, right| left.type_.cmp(&right.type_));
    let mut desired = desired.clone();
    desired
        .conditions
        .sort_by(|left, right| left.type_.cmp(&right.type_));
    current == desired
}

/// The quota of every tenant environment provisioned on `site`.
fn allocated_to_tenants(tenants: &Store<Tenant>, site: &str) -> Capacity {
    let mut allocated = Capacity::default();
    for tenant in tenants.state() {
        let provisioned = tenant.status.as_ref().is_some_and(|status| {
            status
                .sites
                .iter()
                .any(|entry| entry.site == site && entry.state == ProvisioningState::Provisioned)
        });
        if provisioned {
            for environment in &tenant.spec.environments {
                let quota = environment.quota.unwrap_or(tenant.spec.quota);
                allocated = allocated.plus(Capacity {
                    cpu_millicores: quota.cpu_millicores,
                    memory_mebibytes: quota.memory_mebibytes,
                    storage_gibibytes: quota.storage_gibibytes,
                });
            }
        }
    }
    allocated
}

fn ratio(parts_per_million: u32) -> f64 {
    f64::from(parts_per_million) / 1_000_000.0
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::*;

    fn site(kubernetes_version: Option<&str>) -> Site {
        let mut site: Site = serde_json::from_value(serde_json::json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "Site",
            "metadata": {"name": "national-cloud", "generation": 2},
            "spec": {"provider": "Nube Nacional", "jurisdiction": "CR",
                     "sovereigntyTier": "NationalProvider", "offeredAvailability": "99.9",
                     "capacity": {"cpuMillicores": 1000, "memoryMebibytes": 1024},
                     "connection": {"secretName": "national-cloud-kubeconfig"}}
        }))
        .unwrap();
        site.status = Some(SiteStatus {
            kubernetes_version: kubernetes_version.map(str::to_owned),
            ..SiteStatus::default()
        });
        site
    }

    fn found(status: &SiteStatus, type_: ConditionType) -> (&str, &str, &str) {
        let condition = status.conditions.iter().find(|c| type_.is(c)).unwrap();
        (
            condition.status.as_str(),
            condition.reason.as_str(),
            condition.message.as_str(),
        )
    }

    #[test]
    fn a_site_that_answers_but_is_not_ready_is_reachable_and_says_why_not_ready() {
        let probe = Probe::Answered {
            version: "v1.36.3".to_owned(),
            ready: false,
            readiness: "[-]etcd failed".to_owned(),
            nodes: None,
        };
        let now = Timestamp::now();
        let status = desired_status(&site(None), &probe, None, Capacity::default(), now);
        assert_eq!(
            found(&status, ConditionType::Reachable),
            ("True", "Answered", "the API server reports v1.36.3")
        );
        assert_eq!(
            found(&status, ConditionType::Ready),
            ("False", "NotReady", "/readyz: [-]etcd failed")
        );
        assert_eq!(status.kubernetes_version.as_deref(), Some("v1.36.3"));
        assert_eq!(status.observed_generation, Some(2));
        assert_eq!(status.last_probe_time, Some(Time(now)));
    }

    #[test]
    fn a_site_without_a_usable_kubeconfig_keeps_the_version_last_seen() {
        let probe = Probe::NoConnection {
            reason: "UnsafeKubeconfig",
            message: "Secret national-cloud-kubeconfig: exec plugins are refused".to_owned(),
        };
        let status = desired_status(
            &site(Some("v1.35.0")),
            &probe,
            None,
            Capacity::default(),
            Timestamp::now(),
        );
        let (status_value, reason, message) = found(&status, ConditionType::Reachable);
        assert_eq!((status_value, reason), ("False", "UnsafeKubeconfig"));
        assert!(message.contains("exec plugins"), "{message}");
        assert_eq!(found(&status, ConditionType::Ready).1, "UnsafeKubeconfig");
        assert_eq!(status.kubernetes_version.as_deref(), Some("v1.35.0"));
    }

    #[test]
    fn a_site_whose_nodes_are_all_down_is_not_ready_and_says_so() {
        let answered = |ready_nodes| Probe::Answered {
            version: "v1.36.3".to_owned(),
            ready: true,
            readiness: "ok".to_owned(),
            nodes: Some(ObservedNodes {
                total: 3,
                ready: ready_nodes,
                ..ObservedNodes::default()
            }),
        };
        let now = Timestamp::now();
        let down = desired_status(&site(None), &answered(0), None, Capacity::default(), now);
        assert_eq!(
            found(&down, ConditionType::Ready),
            (
                "False",
                "NoReadyNodes",
                "none of the site's 3 nodes is Ready and schedulable: nothing placed there can run"
            )
        );
        assert_eq!(found(&down, ConditionType::Reachable).0, "True");
        let up = desired_status(&site(None), &answered(1), None, Capacity::default(), now);
        assert_eq!(found(&up, ConditionType::Ready).1, "Ready");
        assert_eq!(up.nodes.map(|nodes| nodes.ready), Some(1));
        // Nodes that could not be read this time: the last observation stands.
        let mut seen = site(None);
        seen.status = Some(up_status_with_nodes());
        let unread = Probe::Answered {
            version: "v1.36.3".to_owned(),
            ready: true,
            readiness: "ok".to_owned(),
            nodes: None,
        };
        let kept = desired_status(&seen, &unread, None, Capacity::default(), now);
        assert_eq!(kept.nodes, up_status_with_nodes().nodes);
    }

    fn up_status_with_nodes() -> SiteStatus {
        SiteStatus {
            nodes: Some(ObservedNodes {
                total: 2,
                ready: 2,
                ..ObservedNodes::default()
            }),
            ..SiteStatus::default()
        }
    }

    #[test]
    fn only_the_probe_time_changing_is_not_worth_a_write() {
        let probe = Probe::Unreachable("connection refused".to_owned());
        let earlier = desired_status(
            &site(None),
            &probe,
            None,
            Capacity::default(),
            Timestamp::UNIX_EPOCH,
        );
        let mut probed = site(None);
        probed.status = Some(earlier.clone());
        let later = desired_status(&probed, &probe, None, Capacity::default(), Timestamp::now());
        assert!(same_status(Some(&earlier), &later));
        let answered = Probe::Answered {
            version: "v1.36.3".to_owned(),
            ready: true,
            readiness: "ok".to_owned(),
            nodes: None,
        };
        let recovered = desired_status(
            &probed,
            &answered,
            None,
            Capacity::default(),
            Timestamp::now(),
        );
        assert!(!same_status(Some(&earlier), &recovered));
    }
}
