//! Report, for a Workload, beyond its status: each placement decision appended to the ledger,
//! and the availability gauges SLAs are computed from.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use soberana_core::resources::availability::Availability;
use soberana_core::resources::workload::{
    Workload, WorkloadPhase, WorkloadSiteState, WorkloadSiteStatus, WorkloadStatus,
};

use super::Outcome;
use crate::conditions::ConditionType;
use crate::runtime::context::Context;

/// Appends each placement decision of this pass (placed, moved, failed over, stranded,
/// unplaceable) to the decision ledger, when the operator has one. A ledger that does not answer
/// is logged, not fatal: the decision is in the status and Events anyway.
pub(super) async fn record_decisions(context: &Context, workload: &Workload, outcome: &Outcome) {
    let Some(ledger) = &context.ledger else {
        return;
    };
    const DECISIONS: [&str; 5] = ["Placed", "FailedOver", "Moved", "Stranded", "Unplaceable"];
    let subject = format!(
        "{}/{}",
        workload.namespace().unwrap_or_default(),
        workload.name_any()
    );
    for (_, reason, note) in outcome
        .events
        .iter()
        .filter(|(_, reason, _)| DECISIONS.contains(reason))
    {
        let payload = serde_json::json!({
            "decision": reason,
            "note": note,
            "chosenSites": outcome.status.chosen_sites,
            "classification": workload.spec.classification,
        });
        let record = soberana_core::ledger::NewRecord {
            kind: soberana_core::ledger::RecordKind::Placement,
            time: Timestamp::now().to_string(),
            actor: "soberana-operator".to_owned(),
            subject: subject.clone(),
            payload_json: payload.to_string(),
        };
        if let Err(error) = ledger.append(record).await {
            tracing::warn!(workload = %subject, %error, "could not append the decision to the ledger");
        }
    }
}

/// The availability gauges: replicas per site, availability, the target, and whether the
/// workload is stranded on a site it should leave.
pub(super) fn record_metrics(
    context: &Context,
    workload: &Workload,
    previous: &WorkloadStatus,
    status: &WorkloadStatus,
) {
    let metrics = &context.metrics;
    let tenant = workload.spec.tenant.as_str();
    let name = format!(
        "{}/{}",
        workload.namespace().unwrap_or_default(),
        workload.name_any()
    );
    let current: BTreeMap<&str, &WorkloadSiteStatus> = status
        .sites
        .iter()
        .map(|entry| (entry.site.as_str(), entry))
        .collect();
    for old in &previous.sites {
        if !current.contains_key(old.site.as_str()) {
            let _ = metrics
                .workload_available
                .remove_label_values(&[tenant, &name, &old.site]);
            for state in ["desired", "available"] {
                let _ = metrics
                    .workload_replicas
                    .remove_label_values(&[tenant, &name, &old.site, state]);
            }
        }
    }
    for (site, entry) in current {
        let available = entry.state == WorkloadSiteState::Running;
        metrics
            .workload_available
            .with_label_values(&[tenant, &name, site])
            .set(i64::from(available));
        metrics
            .workload_replicas
            .with_label_values(&[tenant, &name, site, "desired"])
            .set(i64::from(entry.desired_replicas));
        metrics
            .workload_replicas
            .with_label_values(&[tenant, &name, site, "available"])
            .set(i64::from(entry.available_replicas));
    }
    if let Some(target) = workload
        .spec
        .availability_target
        .as_deref()
        .and_then(Availability::parse_percent)
    {
        metrics
            .workload_availability_target
            .with_label_values(&[tenant, &name])
            .set(f64::from(target.parts_per_million()) / 1_000_000.0);
    }
    let stranded = status.conditions.iter().any(|condition: &Condition| {
        ConditionType::Degraded.is(condition) && condition.reason == "Stranded"
    });
    metrics
        .workload_stranded
        .with_label_values(&[tenant, &name])
        .set(i64::from(stranded));
    metrics
        .workload_unplaceable
        .with_label_values(&[tenant, &name])
        .set(i64::from(status.phase == Some(WorkloadPhase::Unplaceable)));
}
