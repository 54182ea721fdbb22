//! Report, for a Tenant: its status (only when it changed), Events for what changed since the
//! last pass, and the namespace gauges.

use std::collections::BTreeMap;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use soberana_core::resources::tenant::{ProvisioningState, Tenant, TenantSiteStatus, TenantStatus};

use super::FIELD_MANAGER;
use super::decide::SiteOutcome;
use crate::conditions::{ConditionType, condition};
use crate::runtime::context::Context;
use crate::runtime::error::Error;
use crate::runtime::status_writer::write_status;

/// Touches no site: reports why on the Tenant (`Ready=False` and `Degraded=True` with `reason`,
/// status.sites as it was) with a Warning Event when that is news.
pub(super) async fn hold(
    tenant: &Tenant,
    context: &Context,
    reason: &str,
    message: String,
    retry: std::time::Duration,
) -> Result<Action, Error> {
    let name = tenant.name_any();
    let existing = tenant.status.clone().unwrap_or_default();
    let generation = tenant.metadata.generation;
    let already = existing
        .conditions
        .iter()
        .any(|condition| ConditionType::Degraded.is(condition) && condition.reason == reason);
    let status = TenantStatus {
        conditions: vec![
            condition(
                &existing.conditions,
                ConditionType::Ready,
                false,
                reason,
                message.clone(),
                generation,
            ),
            condition(
                &existing.conditions,
                ConditionType::Degraded,
                true,
                reason,
                message.clone(),
                generation,
            ),
        ],
        observed_generation: generation,
        sites: existing.sites.clone(),
    };
    if !already {
        tracing::warn!(tenant = %name, %reason, %message, "tenant held: nothing is written on any site");
        publish(context, tenant, EventType::Warning, reason, message).await;
    }
    if tenant.status.as_ref() != Some(&status) {
        write_status::<Tenant, _>(&context.client, &name, &status, FIELD_MANAGER).await?;
    }
    Ok(Action::requeue(retry))
}

/// One Event for the sites newly provisioned, one for the sites updated to a new generation,
/// and a Warning per site that is not provisioned, so that `kubectl describe tenant` tells
/// what changed without an Event per object.
pub(super) async fn publish_changes(
    context: &Context,
    tenant: &Tenant,
    previous: &BTreeMap<String, TenantSiteStatus>,
    outcomes: &[SiteOutcome],
    up_to_date: bool,
) {
    let mut provisioned = Vec::new();
    let mut updated = Vec::new();
    for outcome in outcomes {
        let before = previous.get(&outcome.site).map(|entry| entry.state);
        match outcome.state {
            ProvisioningState::Provisioned if before != Some(ProvisioningState::Provisioned) => {
                provisioned.push(outcome.site.as_str());
            }
            ProvisioningState::Provisioned if !up_to_date => updated.push(outcome.site.as_str()),
            ProvisioningState::Provisioned => {}
            ProvisioningState::Failed
            | ProvisioningState::Pending
            | ProvisioningState::Conflict
            | ProvisioningState::RemovalPending => {
                if before != Some(outcome.state) {
                    let message = outcome.message.clone().unwrap_or_default();
                    let note = format!("site {}: {message}", outcome.site);
                    publish(context, tenant, EventType::Warning, "SiteDegraded", note).await;
                }
            }
        }
    }
    if !provisioned.is_empty() {
        let note = format!("provisioned on {}", provisioned.join(", "));
        publish(context, tenant, EventType::Normal, "Provisioned", note).await;
    }
    if !updated.is_empty() {
        let note = format!("applied the changed spec on {}", updated.join(", "));
        publish(context, tenant, EventType::Normal, "Updated", note).await;
    }
}

/// Publishes an Event on the Tenant about provisioning.
pub(super) async fn publish(
    context: &Context,
    tenant: &Tenant,
    type_: EventType,
    reason: &str,
    note: String,
) {
    crate::runtime::events::publish(context, tenant, type_, reason, "Provision", note).await;
}

/// One (site, state) pair per namespace: a tenant has one namespace per environment on each site.
pub(super) fn record_namespace_gauges(
    context: &Context,
    tenant: &Tenant,
    entries: &[TenantSiteStatus],
) {
    let environments = tenant.spec.environments.len();
    let states = entries
        .iter()
        .flat_map(|entry| {
            let state = match entry.state {
                ProvisioningState::Provisioned => "provisioned",
                ProvisioningState::Pending => "pending",
                ProvisioningState::Failed => "failed",
                ProvisioningState::Conflict => "conflict",
                ProvisioningState::RemovalPending => "removal_pending",
            };
            std::iter::repeat_n((entry.site.clone(), state), environments)
        })
        .collect();
    context.record_tenant_sites(&tenant.name_any(), states);
}
