//! The Site controller: probes each member cluster (`/readyz`, `/version`) on an interval and
//! reports reachability, readiness, version, measured availability and the capacity allocated to
//! tenants. Status is written only when it changes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use soberana_core::resources::capacity::Capacity;
use soberana_core::resources::site::{Site, SiteStatus};
use soberana_core::resources::tenant::{ProvisioningState, Tenant};

use crate::conditions::ConditionType;
use crate::conditions::{bounded_message, condition};
use crate::members::drift::repair_if_damaged;
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
    /// The API server answered `/version`; `ready` tells whether `/readyz` said ok.
    Answered {
        version: String,
        ready: bool,
        readiness: String,
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

/// Probes the site and writes its status if it changed; comes back after the probe interval.
pub async fn reconcile(site: Arc<Site>, context: Arc<Context>) -> Result<Action, Error> {
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
        repair_if_damaged(client, &name, &context).await;
    }
    let metrics = &context.metrics;
    metrics
        .site_probe_duration
        .with_label_values(&[name.as_str()])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .site_probes
        .with_label_values(&[name.as_str(), if answered { "success" } else { "failure" }])
        .inc();
    metrics
        .site_up
        .with_label_values(&[name.as_str()])
        .set(i64::from(answered));
    let measured = context.record_probe(&name, answered);
    if let Some(measured) = measured {
        metrics
            .site_availability
            .with_label_values(&[name.as_str()])
            .set(ratio(measured.parts_per_million()));
    }
    if let Some(offered) = soberana_core::resources::availability::Availability::parse_percent(
        &site.spec.offered_availability,
    ) {
        metrics
            .site_offered_availability
            .with_label_values(&[name.as_str()])
            .set(ratio(offered.parts_per_million()));
    }

    let allocated = allocated_to_tenants(&context.caches.tenants, &name);
    let status = desired_status(
        &site,
        &probe,
        measured.map(|value| value.percent_text()),
        allocated,
    );
    if !same_status(site.status.as_ref(), &status) {
        write_status::<Site, _>(&context.client, &name, &status, FIELD_MANAGER).await?;
    }
    Ok(Action::requeue(context.settings.probe_interval))
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
    match readiness {
        Ok(Ok(text)) if text.trim() == "ok" => Probe::Answered {
            version,
            ready: true,
            readiness: "ok".to_owned(),
        },
        Ok(Ok(text)) => Probe::Answered {
            version,
            ready: false,
            readiness: bounded_message(text.lines().next().unwrap_or_default()),
        },
        Ok(Err(error)) => Probe::Answered {
            version,
            ready: false,
            readiness: format!("/readyz failed: {error}"),
        },
        Err(_) => Probe::Answered {
            version,
            ready: false,
            readiness: format!("/readyz did not answer within {PROBE_TIMEOUT:?}"),
        },
    }
}

fn desired_status(
    site: &Site,
    probe: &Probe,
    measured: Option<String>,
    allocated: Capacity,
) -> SiteStatus {
    let existing = site.status.clone().unwrap_or_default();
    let generation = site.metadata.generation;
    let (reachable, ready, version) = match probe {
        Probe::Answered {
            version,
            ready,
            readiness,
        } => (
            condition(
                &existing.conditions,
                ConditionType::Reachable,
                true,
                "Answered",
                format!("the API server reports {version}"),
                generation,
            ),
            if *ready {
                condition(
                    &existing.conditions,
                    ConditionType::Ready,
                    true,
                    "Ready",
                    "/readyz reports ok",
                    generation,
                )
            } else {
                condition(
                    &existing.conditions,
                    ConditionType::Ready,
                    false,
                    "NotReady",
                    format!("/readyz: {readiness}"),
                    generation,
                )
            },
            Some(version.clone()),
        ),
        Probe::NoConnection { reason, message } => (
            condition(
                &existing.conditions,
                ConditionType::Reachable,
                false,
                reason,
                message.clone(),
                generation,
            ),
            condition(
                &existing.conditions,
                ConditionType::Ready,
                false,
                reason,
                "the site cannot be reached",
                generation,
            ),
            existing.kubernetes_version.clone(),
        ),
        Probe::Unreachable(message) => (
            condition(
                &existing.conditions,
                ConditionType::Reachable,
                false,
                "Unreachable",
                message.clone(),
                generation,
            ),
            condition(
                &existing.conditions,
                ConditionType::Ready,
                false,
                "Unreachable",
                "the site's API server does not answer",
                generation,
            ),
            existing.kubernetes_version.clone(),
        ),
    };
    SiteStatus {
        conditions: vec![ready, reachable],
        observed_generation: generation,
        kubernetes_version: version,
        last_probe_time: Some(Time(Timestamp::now())),
        measured_availability: measured,
        allocated: Some(allocated),
        residency: None,
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
