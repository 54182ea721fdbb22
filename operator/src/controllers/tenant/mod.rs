//! The Tenant controller: on every site a tenant may use, keeps its namespaces, quota, limits,
//! network isolation and owner bindings (server-side apply, one field manager); removes them from
//! sites it may no longer use; cleans every site up when the tenant is deleted (finalizer),
//! honouring its deletion policy. A site that is down is retried without holding up the others.

mod apply;
mod decide;
mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::future::join_all;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use soberana_core::placement::{Objects, Snapshot};
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::{Tenant, TenantSiteStatus};
use soberana_core::tenancy::{TenantIdentity, sites_for_tenant};

use crate::conditions::ConditionType;
use crate::runtime::caches::cached;
use crate::runtime::context::Context;
use crate::runtime::error::Error;
use crate::runtime::status_writer::write_status;
use apply::{leave_sites, provision_sites, remove_from_site};
use decide::{
    CLASSIFICATION_MISSING, SiteOutcome, admissible, departures, missing_classifications,
    reported_status, site_entries,
};
use report::{hold, publish, publish_changes, record_namespace_gauges};

/// The field manager of everything this controller writes.
pub const FIELD_MANAGER: &str = "soberana-tenant-controller";
/// Holds a deleted Tenant until every site is cleaned up.
pub const FINALIZER: &str = "soberana.io/tenant-cleanup";
/// How soon a Tenant held for a reason outside any member (unreadable classifications) looks
/// again; a site left unprovisioned backs off instead (`Context::tenant_backoff`).
const RETRY_PENDING: std::time::Duration = std::time::Duration::from_secs(15);
/// How soon a Tenant that yields a name to an earlier one looks again (the holder may be gone).
const RETRY_NAME_CONFLICT: std::time::Duration = std::time::Duration::from_secs(30);

/// Provisions, or cleans up when the Tenant is being deleted. The finalizer is added in the same
/// reconcile that provisions (not one reconcile earlier), so each new tenant costs one pass.
pub async fn reconcile(tenant: Arc<Tenant>, context: Arc<Context>) -> Result<Action, Error> {
    let tenants: Api<Tenant> = Api::all(context.client.clone());
    let finalizers = tenant.finalizers();
    let has_finalizer = finalizers.iter().any(|finalizer| finalizer == FINALIZER);
    if tenant.meta().deletion_timestamp.is_some() {
        if !has_finalizer {
            return Ok(Action::await_change());
        }
        let action = clean_up(&tenant, &context).await?;
        let remaining: Vec<&String> = finalizers
            .iter()
            .filter(|finalizer| *finalizer != FINALIZER)
            .collect();
        set_finalizers(&tenants, &tenant, &remaining).await?;
        return Ok(action);
    }
    if !has_finalizer {
        let mut wanted: Vec<&String> = finalizers.iter().collect();
        let ours = FINALIZER.to_owned();
        wanted.push(&ours);
        set_finalizers(&tenants, &tenant, &wanted).await?;
    }
    provision(&tenant, &context).await
}

/// Replaces the finalizer list, failing with a conflict if the Tenant changed meanwhile.
async fn set_finalizers(
    tenants: &Api<Tenant>,
    tenant: &Tenant,
    finalizers: &[&String],
) -> Result<(), Error> {
    let name = tenant.name_any();
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": tenant.resource_version()}});
    match tenants
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        // Already gone: nothing is left to hold.
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(Error::Finalizer {
            object: format!("Tenant {name}"),
            message: source.to_string(),
        }),
    }
}

/// The Tenant's identity on member namespaces; a Tenant read from the API server always has a
/// UID, and without one nothing could prove a namespace is its own.
fn identity(tenant: &Tenant) -> Result<TenantIdentity, Error> {
    let name = tenant.name_any();
    match tenant.uid() {
        Some(uid) if !uid.is_empty() => Ok(TenantIdentity { name, uid }),
        _ => Err(Error::Invalid {
            object: format!("Tenant {name}"),
            message: "it has no metadata.uid to mark its namespaces with".to_owned(),
        }),
    }
}

/// Observe (the tenant, its status, the cached sites and classifications) → decide (may it be
/// provisioned at all; which sites it targets, leaves, or awaits confirmation for) → apply (every
/// site at once) → report (status, Events, gauges).
async fn provision(tenant: &Tenant, context: &Context) -> Result<Action, Error> {
    let identity = identity(tenant)?;
    let all_tenants = context.caches.tenants.store().state();
    let sites = cached(context.caches.sites.store());
    let classifications = cached(context.caches.classifications.store());
    let judged = Snapshot::new(Objects {
        sites: &sites,
        classifications: &classifications,
        ..Objects::default()
    });
    let snapshot = match admissible(tenant, all_tenants.iter().map(|other| &**other), &judged) {
        Ok(snapshot) => snapshot,
        Err(held) => return hold(tenant, context, held.reason, held.message, held.retry).await,
    };
    let previous: BTreeMap<String, TenantSiteStatus> = tenant
        .status
        .iter()
        .flat_map(|status| status.sites.iter().cloned())
        .map(|entry| (entry.site.clone(), entry))
        .collect();
    let by_name: BTreeMap<String, &Site> =
        sites.iter().map(|site| (site.name_any(), site)).collect();
    let existing: BTreeSet<String> = by_name.keys().cloned().collect();
    let targets: BTreeSet<String> = sites_for_tenant(&tenant.spec, snapshot)
        .into_iter()
        .collect();
    let (leave, awaiting) = departures(&tenant.spec, &previous, &targets, &existing, snapshot);

    let (outcomes, removed) = futures::join!(
        provision_sites(tenant, &identity, &targets, &previous, &by_name, context),
        leave_sites(tenant, &identity, &leave, &by_name, context),
    );
    let missing = missing_classifications(&tenant.spec, &classifications);
    let passes = Pass {
        previous,
        targets: targets.len(),
        missing,
        outcomes,
        removed,
        awaiting,
    };
    report(tenant, context, passes).await
}

/// What one provisioning pass found and did, to be reported.
struct Pass {
    previous: BTreeMap<String, TenantSiteStatus>,
    targets: usize,
    /// Classifications the Tenant names that do not exist.
    missing: Vec<String>,
    outcomes: Vec<SiteOutcome>,
    removed: Vec<(String, Result<(), Error>)>,
    awaiting: Vec<TenantSiteStatus>,
}

/// Events for what changed, the namespace gauges, and the status when it changed; requeues while
/// a site is left to retry.
async fn report(tenant: &Tenant, context: &Context, pass: Pass) -> Result<Action, Error> {
    let up_to_date = tenant
        .status
        .as_ref()
        .and_then(|status| status.observed_generation)
        == tenant.metadata.generation;
    let mut failed_removals = Vec::new();
    for (site, result) in &pass.removed {
        match result {
            Ok(()) => {
                let note = format!("removed from site {site}");
                publish(context, tenant, EventType::Normal, "Removed", note).await;
            }
            Err(error) => failed_removals.push((site.clone(), error.to_string())),
        }
    }
    for entry in &pass.awaiting {
        if pass.previous.get(&entry.site).map(|before| before.state) != Some(entry.state) {
            let note = format!(
                "site {}: {}",
                entry.site,
                entry.message.as_deref().unwrap_or_default()
            );
            publish(context, tenant, EventType::Warning, "RemovalPending", note).await;
        }
    }
    let entries = site_entries(&pass.outcomes, &failed_removals, &pass.awaiting);
    publish_changes(context, tenant, &pass.previous, &pass.outcomes, up_to_date).await;
    record_namespace_gauges(context, tenant, &entries);

    let existing = tenant.status.clone().unwrap_or_default();
    let (status, complete) = reported_status(
        &existing.conditions,
        entries,
        pass.targets,
        &pass.missing,
        tenant.metadata.generation,
    );
    let degraded_by =
        |conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]| {
            conditions
                .iter()
                .find(|condition| ConditionType::Degraded.is(condition))
                .map(|condition| (condition.reason.clone(), condition.message.clone()))
        };
    // News only: a Warning when a classification it names goes missing (or another does).
    if let Some((reason, message)) = degraded_by(&status.conditions)
        .filter(|(reason, _)| reason == CLASSIFICATION_MISSING)
        .filter(|now| degraded_by(&existing.conditions).as_ref() != Some(now))
    {
        publish(context, tenant, EventType::Warning, &reason, message).await;
    }
    if tenant.status.as_ref() != Some(&status) {
        write_status::<Tenant, _>(&context.client, &tenant.name_any(), &status, FIELD_MANAGER)
            .await?;
    }
    // A site left unprovisioned is tried again after a wait that grows while it keeps failing
    // (`Context::tenant_backoff`: 15 s, doubled up to 2 min).
    let key = format!("tenant/{}", tenant.name_any());
    Ok(if complete {
        context.tenant_backoff.succeeded(&key);
        Action::await_change()
    } else {
        Action::requeue(
            context
                .tenant_backoff
                .failed_again(&key, std::time::Instant::now()),
        )
    })
}

/// Cleans every site the tenant may have been provisioned on before the Tenant goes.
async fn clean_up(tenant: &Tenant, context: &Context) -> Result<Action, Error> {
    let identity = identity(tenant)?;
    let name = identity.name.clone();
    let sites = cached(context.caches.sites.store());
    let provisioned: BTreeSet<String> = tenant
        .status
        .iter()
        .flat_map(|status| status.sites.iter().map(|entry| entry.site.clone()))
        .collect();
    let removals = sites
        .iter()
        .filter(|site| provisioned.contains(&site.name_any()))
        .map(|site| remove_from_site(site, &identity, tenant.spec.deletion_policy, context));
    for result in join_all(removals).await {
        result?;
    }
    publish(
        context,
        tenant,
        EventType::Normal,
        "CleanedUp",
        "removed from every site".to_owned(),
    )
    .await;
    context.record_tenant_sites(&name, Vec::new());
    Ok(Action::await_change())
}
