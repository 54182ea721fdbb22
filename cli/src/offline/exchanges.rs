//! Agreements judged offline from manifests, as the operator would judge them: each Workload is
//! first placed by the engine (manifests carry no status), then each DataExchange is decided by
//! core at the given time.

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use soberana_core::exchange::{ApprovalPolicyState, ExchangeObjects, decide};
use soberana_core::placement::{Snapshot, evaluate};
use soberana_core::resources::data_exchange::{DataExchange, ExchangePort, cross_site_label};
use soberana_core::resources::workload::{Workload, WorkloadStatus};

use crate::agreements::{AgreementRow, consumer_label};
use crate::offline::manifests::{InputError, Manifests};

/// Every agreement in `manifests` naming `tenant` (all when `None`), in name order, as judged at
/// `now`.
pub fn judge_all(
    manifests: &Manifests,
    tenant: Option<&str>,
    now: Timestamp,
) -> Result<Vec<AgreementRow>, Vec<InputError>> {
    let snapshot = manifests.snapshot()?;
    let placed = placed_workloads(manifests, &snapshot)?;
    // Manifests prove nothing about who wrote an approval: they are judged as the operator
    // judges them on a management cluster where the approval policy is in force (only the
    // named identity could have written each one), so an approval by a non-owner still waits.
    let objects = ExchangeObjects {
        snapshot: &snapshot,
        workloads: &placed,
        approval_policy: &ApprovalPolicyState::InForce,
    };
    let mut exchanges: Vec<&DataExchange> = manifests
        .exchanges
        .iter()
        .filter(|exchange| {
            tenant.is_none_or(|tenant| {
                exchange.spec.provider.tenant == tenant || exchange.spec.consumer.tenant == tenant
            })
        })
        .collect();
    exchanges.sort_by_key(|exchange| exchange.name_any());
    Ok(exchanges
        .into_iter()
        .map(|exchange| row(exchange, &decide(&exchange.spec, &objects, now)))
        .collect())
}

/// The Workloads with the sites the engine chooses for them as their placement.
fn placed_workloads(
    manifests: &Manifests,
    snapshot: &Snapshot,
) -> Result<Vec<Workload>, Vec<InputError>> {
    let mut errors = Vec::new();
    let mut placed = Vec::with_capacity(manifests.workloads.len());
    for (workload, origin) in &manifests.workloads {
        match evaluate(snapshot, workload) {
            Ok(decision) => {
                let mut workload = workload.clone();
                workload.status = Some(WorkloadStatus {
                    chosen_sites: decision.chosen_sites,
                    ..WorkloadStatus::default()
                });
                placed.push(workload);
            }
            Err(error) => errors.push(InputError::new(Some(origin.clone()), error.to_string())),
        }
    }
    if errors.is_empty() {
        Ok(placed)
    } else {
        Err(errors)
    }
}

fn row(
    exchange: &DataExchange,
    decision: &soberana_core::exchange::ExchangeDecision,
) -> AgreementRow {
    let spec = &exchange.spec;
    AgreementRow {
        name: exchange.name_any(),
        provider: format!(
            "{}/{}/{}",
            spec.provider.tenant, spec.provider.environment, spec.provider.workload
        ),
        ports: spec
            .provider
            .ports
            .iter()
            .map(ExchangePort::label)
            .collect(),
        consumer: consumer_label(
            &spec.consumer.tenant,
            &spec.consumer.environments,
            &spec.consumer.workloads,
        ),
        classification: spec.classification.clone(),
        purpose: spec.purpose.clone(),
        legal_basis: spec.legal_basis.clone(),
        not_after: spec.validity.not_after.0.to_string(),
        state: decision.state.as_str().to_owned(),
        open_on: decision.open_on(),
        cross_site: decision
            .cross_site
            .iter()
            .map(|path| cross_site_label(&path.provider_site, &path.consumer_sites))
            .collect(),
        reasons: decision.reasons.clone(),
    }
}
