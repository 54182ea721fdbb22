//! The Tenant controller: on every site a tenant may use, keeps its namespaces, quota, limits,
//! network isolation and owner bindings (server-side apply, one field manager); removes them from
//! sites it may no longer use; cleans every site up when the tenant is deleted (finalizer),
//! honouring its deletion policy. A site that is down is retried without holding up the others.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::future::join_all;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use soberana_core::placement::{Objects, Snapshot};
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::{
    DeletionPolicy, ProvisioningState, Tenant, TenantSiteStatus, TenantStatus,
};
use soberana_core::tenancy::{
    Departure, NamespaceOwnership, TenantIdentity, TenantObject, departure, desired_objects,
    labels, name_conflict, sites_for_tenant,
};

use crate::conditions::ConditionType;
use crate::conditions::{bounded_message, condition};
use crate::members::whole_replace::replace_whole;
use crate::runtime::caches::cached;
use crate::runtime::context::Context;
use crate::runtime::error::{Category, Error};
use crate::runtime::status_writer::write_status;

/// The field manager of everything this controller writes.
pub const FIELD_MANAGER: &str = "soberana-tenant-controller";
/// Holds a deleted Tenant until every site is cleaned up.
pub const FINALIZER: &str = "soberana.io/tenant-cleanup";
/// How soon a site that was not provisioned is tried again.
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

/// The outcome on one site.
#[derive(Debug)]
struct SiteOutcome {
    site: String,
    state: ProvisioningState,
    message: Option<String>,
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

async fn provision(tenant: &Tenant, context: &Context) -> Result<Action, Error> {
    let identity = identity(tenant)?;
    let name = identity.name.clone();
    let all_tenants = context.caches.tenants.state();
    let sites = cached(&context.caches.sites);
    let classifications = cached(&context.caches.classifications);
    let judged = Snapshot::new(Objects {
        sites: &sites,
        classifications: &classifications,
        ..Objects::default()
    });
    let snapshot = match admissible(tenant, all_tenants.iter().map(|other| &**other), &judged) {
        Ok(snapshot) => snapshot,
        Err(held) => {
            return hold(tenant, context, held.reason, held.message, held.retry).await;
        }
    };
    let targets: BTreeSet<String> = sites_for_tenant(&tenant.spec, snapshot)
        .into_iter()
        .collect();
    let objects = desired_objects(&identity, &tenant.spec, &context.settings.ingress_namespace);
    let previous: BTreeMap<String, TenantSiteStatus> = tenant
        .status
        .iter()
        .flat_map(|status| status.sites.iter().cloned())
        .map(|entry| (entry.site.clone(), entry))
        .collect();
    let up_to_date = tenant
        .status
        .as_ref()
        .and_then(|status| status.observed_generation)
        == tenant.metadata.generation;

    let by_name: BTreeMap<String, &Site> =
        sites.iter().map(|site| (site.name_any(), site)).collect();
    let name = name.as_str();
    let identity = &identity;
    let provisioning = targets.iter().map(|site_name| {
        let already = up_to_date
            && previous
                .get(site_name)
                .is_some_and(|entry| entry.state == ProvisioningState::Provisioned)
            && !context.needs_repair(name, site_name);
        let site = by_name.get(site_name).copied();
        let visited = previous.contains_key(site_name);
        let objects = &objects;
        async move {
            if already {
                return SiteOutcome {
                    site: site_name.clone(),
                    state: ProvisioningState::Provisioned,
                    message: None,
                };
            }
            match site {
                Some(site) => {
                    let outcome =
                        apply_on_site(site, identity, tenant, objects, visited, context).await;
                    if outcome.state == ProvisioningState::Provisioned {
                        context.repaired(name, site_name);
                    }
                    outcome
                }
                None => pending(site_name, "the Site is gone".to_owned()),
            }
        }
    });
    // Sites the tenant is on but no longer qualifies for. A deleted Site cannot be cleaned and
    // leaves nothing to track; a person's decision removes; a policy change only waits.
    let mut awaiting: Vec<TenantSiteStatus> = Vec::new();
    let mut leaving: Vec<&Site> = Vec::new();
    for site_name in previous.keys().filter(|site| !targets.contains(*site)) {
        let Some(site) = by_name.get(site_name).copied() else {
            continue;
        };
        match departure(&tenant.spec, site_name, snapshot) {
            Departure::Remove => leaving.push(site),
            Departure::AwaitConfirmation(why) => awaiting.push(TenantSiteStatus {
                site: site_name.clone(),
                state: ProvisioningState::RemovalPending,
                message: Some(bounded_message(&format!(
                    "the tenant may no longer use this site: {why}; its namespaces are kept until spec.confirmRemovalFrom names the site"
                ))),
            }),
        }
    }
    let removals = leaving.into_iter().map(|site| async move {
        let result = remove_from_site(site, identity, tenant.spec.deletion_policy, context).await;
        (site.name_any(), result)
    });
    let (outcomes, removed) = futures::join!(join_all(provisioning), join_all(removals));

    let mut entries: Vec<TenantSiteStatus> = outcomes
        .iter()
        .map(|outcome| TenantSiteStatus {
            site: outcome.site.clone(),
            state: outcome.state,
            message: outcome.message.clone(),
        })
        .collect();
    for (site, result) in &removed {
        match result {
            Ok(()) => {
                publish(
                    context,
                    tenant,
                    EventType::Normal,
                    "Removed",
                    format!("removed from site {site}"),
                )
                .await
            }
            Err(error) => entries.push(TenantSiteStatus {
                site: site.clone(),
                state: ProvisioningState::Pending,
                message: Some(bounded_message(&format!("removal pending: {error}"))),
            }),
        }
    }
    for entry in &awaiting {
        if previous.get(&entry.site).map(|before| before.state) != Some(entry.state) {
            let note = format!(
                "site {}: {}",
                entry.site,
                entry.message.as_deref().unwrap_or_default()
            );
            publish(context, tenant, EventType::Warning, "RemovalPending", note).await;
        }
    }
    entries.extend(awaiting);
    entries.sort_by(|left, right| left.site.cmp(&right.site));
    publish_changes(context, tenant, &previous, &outcomes, up_to_date).await;
    record_namespace_gauges(context, tenant, &entries);

    let existing = tenant.status.clone().unwrap_or_default();
    let (status, complete) = reported_status(
        &existing.conditions,
        entries,
        targets.len(),
        tenant.metadata.generation,
    );
    if tenant.status.as_ref() != Some(&status) {
        write_status::<Tenant, _>(&context.client, name, &status, FIELD_MANAGER).await?;
    }
    Ok(if complete {
        Action::await_change()
    } else {
        Action::requeue(RETRY_PENDING)
    })
}

/// Report: the status for where the tenant stands on each site (`entries`, sorted), with
/// `Ready` (every one of its `targets` sites provisioned) and `Degraded` (a conflict first,
/// then sites pending, then removals awaiting confirmation), and whether provisioning is
/// complete (nothing left to retry). Pure.
fn reported_status(
    existing: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    entries: Vec<TenantSiteStatus>,
    targets: usize,
    generation: Option<i64>,
) -> (TenantStatus, bool) {
    let sites_in = |wanted: &dyn Fn(ProvisioningState) -> bool| -> Vec<String> {
        entries
            .iter()
            .filter(|entry| wanted(entry.state))
            .map(|entry| entry.site.clone())
            .collect()
    };
    let incomplete = sites_in(&|state| {
        !matches!(
            state,
            ProvisioningState::Provisioned | ProvisioningState::RemovalPending
        )
    });
    let conflicts = sites_in(&|state| state == ProvisioningState::Conflict);
    let removal_pending = sites_in(&|state| state == ProvisioningState::RemovalPending);
    let ready = if targets == 0 {
        condition(
            existing,
            ConditionType::Ready,
            false,
            "NoSite",
            "no site may host this tenant's classifications",
            generation,
        )
    } else if incomplete.is_empty() {
        condition(
            existing,
            ConditionType::Ready,
            true,
            "Provisioned",
            format!("provisioned on {targets} sites"),
            generation,
        )
    } else {
        condition(
            existing,
            ConditionType::Ready,
            false,
            "SitesPending",
            "some sites are not provisioned; see status.sites",
            generation,
        )
    };
    let (degraded, reason, message) = if !conflicts.is_empty() {
        (
            true,
            "NamespaceConflict",
            format!(
                "a namespace this tenant needs belongs to someone else on {}; nothing was written there (see status.sites)",
                conflicts.join(", ")
            ),
        )
    } else if !incomplete.is_empty() {
        (
            true,
            "SitesPending",
            format!("not provisioned on {}", incomplete.join(", ")),
        )
    } else if !removal_pending.is_empty() {
        (
            true,
            "RemovalPending",
            format!(
                "policy no longer allows {}; the namespaces are kept until spec.confirmRemovalFrom names them",
                removal_pending.join(", ")
            ),
        )
    } else {
        (
            false,
            "AllSitesProvisioned",
            "every site is provisioned".to_owned(),
        )
    };
    let degraded = condition(
        existing,
        ConditionType::Degraded,
        degraded,
        reason,
        message,
        generation,
    );
    let status = TenantStatus {
        conditions: vec![ready, degraded],
        observed_generation: generation,
        sites: entries,
    };
    (status, incomplete.is_empty())
}

/// Applies every object of the tenant on one site and, on a site it was on before, removes the
/// namespaces of environments the tenant no longer has.
async fn apply_on_site(
    site: &Site,
    identity: &TenantIdentity,
    tenant: &Tenant,
    objects: &[TenantObject],
    visited: bool,
    context: &Context,
) -> SiteOutcome {
    let site_name = site.name_any();
    let client = match context.connections.client(site, &context.metrics).await {
        Ok(client) => client,
        Err(error) => return pending(&site_name, error.to_string()),
    };
    // Every namespace is checked before anything is written: a site where one of them is
    // someone else's gets nothing at all.
    for object in objects {
        let TenantObject::Namespace(namespace) = object else {
            continue;
        };
        let namespace_name = namespace.name_any();
        match namespace_ownership(&client, &namespace_name, identity).await {
            Ok(NamespaceOwnership::Absent | NamespaceOwnership::Ours) => {}
            Ok(NamespaceOwnership::Foreign(owner)) => {
                return SiteOutcome {
                    site: site_name,
                    state: ProvisioningState::Conflict,
                    message: Some(format!(
                        "namespace {namespace_name} already exists and belongs to {owner}; nothing was written on this site"
                    )),
                };
            }
            Err(source) => {
                let error = Error::ApplyOnSite {
                    site: site_name.clone(),
                    object: format!("Namespace {namespace_name} (reading its owner)"),
                    source,
                };
                return pending(&site_name, error.to_string());
            }
        }
    }
    for object in objects {
        if let Err(source) = apply_object(&client, object, FIELD_MANAGER).await {
            let error = Error::ApplyOnSite {
                site: site_name.clone(),
                object: object.describe(),
                source,
            };
            return match error.category() {
                Category::Transient => pending(&site_name, error.to_string()),
                Category::Invalid | Category::Forbidden => SiteOutcome {
                    site: site_name,
                    state: ProvisioningState::Failed,
                    message: Some(bounded_message(&error.to_string())),
                },
            };
        }
    }
    let wanted: BTreeSet<String> = objects
        .iter()
        .filter_map(|object| match object {
            TenantObject::Namespace(namespace) => namespace.metadata.name.clone(),
            _ => None,
        })
        .collect();
    if !visited {
        return SiteOutcome {
            site: site_name,
            state: ProvisioningState::Provisioned,
            message: None,
        };
    }
    if let Err(error) = remove_namespaces(
        &client,
        &site_name,
        identity,
        tenant.spec.deletion_policy,
        &wanted,
    )
    .await
    {
        return pending(&site_name, error.to_string());
    }
    SiteOutcome {
        site: site_name,
        state: ProvisioningState::Provisioned,
        message: None,
    }
}

/// Server-side applies one tenant object on a member cluster as `field_manager`.
pub async fn apply_object(
    client: &Client,
    object: &TenantObject,
    field_manager: &str,
) -> Result<(), kube::Error> {
    let parameters = PatchParams::apply(field_manager).force();
    match object {
        TenantObject::Namespace(object) => {
            Api::<Namespace>::all(client.clone())
                .patch(&object.name_any(), &parameters, &Patch::Apply(object))
                .await?;
        }
        TenantObject::ResourceQuota(object) => {
            namespaced::<ResourceQuota>(client, object)
                .patch(&object.name_any(), &parameters, &Patch::Apply(object))
                .await?;
        }
        TenantObject::LimitRange(object) => {
            namespaced::<LimitRange>(client, object)
                .patch(&object.name_any(), &parameters, &Patch::Apply(object))
                .await?;
        }
        TenantObject::NetworkPolicy(object) => {
            namespaced::<NetworkPolicy>(client, object)
                .patch(&object.name_any(), &parameters, &Patch::Apply(object))
                .await?;
        }
        TenantObject::RoleBinding(object) => {
            namespaced::<RoleBinding>(client, object)
                .patch(&object.name_any(), &parameters, &Patch::Apply(object))
                .await?;
        }
    }
    Ok(())
}

/// Replaces one tenant object on a member cluster whole with what Soberana wants, as
/// `field_manager`: fields someone else added are gone afterwards, unlike with an apply.
pub async fn replace_object(
    client: &Client,
    object: &TenantObject,
    field_manager: &str,
) -> Result<(), kube::Error> {
    match object {
        TenantObject::Namespace(object) => {
            replace_whole(
                &Api::<Namespace>::all(client.clone()),
                object,
                field_manager,
            )
            .await?;
        }
        TenantObject::ResourceQuota(object) => {
            replace_whole(&namespaced(client, object), object, field_manager).await?;
        }
        TenantObject::LimitRange(object) => {
            replace_whole(&namespaced(client, object), object, field_manager).await?;
        }
        TenantObject::NetworkPolicy(object) => {
            replace_whole(&namespaced(client, object), object, field_manager).await?;
        }
        TenantObject::RoleBinding(object) => {
            replace_whole(&namespaced(client, object), object, field_manager).await?;
        }
    }
    Ok(())
}

/// Whose the namespace `name` on a member is, read just before Soberana writes there.
async fn namespace_ownership(
    client: &Client,
    name: &str,
    identity: &TenantIdentity,
) -> Result<NamespaceOwnership, kube::Error> {
    let existing = Api::<Namespace>::all(client.clone())
        .get_metadata_opt(name)
        .await?;
    Ok(NamespaceOwnership::of(
        existing.as_ref().map(|namespace| &namespace.metadata),
        identity,
    ))
}

fn namespaced<K>(client: &Client, object: &K) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    Api::namespaced(client.clone(), &object.namespace().unwrap_or_default())
}

/// Removes the tenant from a site it may no longer use.
async fn remove_from_site(
    site: &Site,
    identity: &TenantIdentity,
    policy: DeletionPolicy,
    context: &Context,
) -> Result<(), Error> {
    let site_name = site.name_any();
    let client = context
        .connections
        .client(site, &context.metrics)
        .await
        .map_err(|error| Error::SiteConnection {
            site: site_name.clone(),
            message: error.0,
        })?;
    remove_namespaces(&client, &site_name, identity, policy, &BTreeSet::new()).await
}

/// Deletes (or, under `Retain`, unlabels) the tenant's namespaces on a site except `keep`. Only
/// namespaces that carry this tenant's UID are touched: a namespace labelled with its name but
/// made for an earlier Tenant of that name, or taken over by hand, is left alone.
async fn remove_namespaces(
    client: &Client,
    site: &str,
    identity: &TenantIdentity,
    policy: DeletionPolicy,
    keep: &BTreeSet<String>,
) -> Result<(), Error> {
    let tenant_name = identity.name.as_str();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let selector = format!(
        "{}={tenant_name},{}={}",
        labels::TENANT,
        labels::MANAGED_BY,
        labels::MANAGER
    );
    let list = namespaces
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| Error::RemoveFromSite {
            site: site.to_owned(),
            object: format!("namespaces of {tenant_name}"),
            source,
        })?;
    for namespace in list.items {
        let name = namespace.name_any();
        if keep.contains(&name) {
            continue;
        }
        if let NamespaceOwnership::Foreign(owner) =
            NamespaceOwnership::of(Some(&namespace.metadata), identity)
        {
            tracing::warn!(%site, namespace = %name, %owner, "not removing a namespace labelled for this tenant: it belongs to another");
            continue;
        }
        let result = match policy {
            DeletionPolicy::Delete => namespaces
                .delete(&name, &DeleteParams::background())
                .await
                .map(|_| ()),
            // Applying the namespace with none of our fields gives up the labels we own.
            DeletionPolicy::Retain => {
                let bare =
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
                namespaces
                    .patch(
                        &name,
                        &PatchParams::apply(FIELD_MANAGER).force(),
                        &Patch::Apply(&bare),
                    )
                    .await
                    .map(|_| ())
            }
        };
        match result {
            Ok(()) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => {
                return Err(Error::RemoveFromSite {
                    site: site.to_owned(),
                    object: format!("Namespace {name}"),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Cleans every site the tenant may have been provisioned on before the Tenant goes.
async fn clean_up(tenant: &Tenant, context: &Context) -> Result<Action, Error> {
    let identity = identity(tenant)?;
    let name = identity.name.clone();
    let sites = cached(&context.caches.sites);
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

/// Touches no site: reports why on the Tenant (`Ready=False` and `Degraded=True` with `reason`,
/// status.sites as it was) with a Warning Event when that is news, and looks again later.
/// Why provisioning waits, changing nothing on any site.
#[derive(Debug, PartialEq, Eq)]
struct Held {
    reason: &'static str,
    message: String,
    retry: std::time::Duration,
}

/// Decide whether the tenant may be provisioned at all: not while another Tenant holds its
/// name, nor while the classifications cannot be read or none exists (every site would be
/// judged ineligible, and removals would follow). Pure.
fn admissible<'a, 't>(
    tenant: &Tenant,
    all_tenants: impl IntoIterator<Item = &'t Tenant>,
    judged: &'a Result<Snapshot, soberana_core::placement::SnapshotError>,
) -> Result<&'a Snapshot, Held> {
    if let Some(conflict) = name_conflict(tenant, all_tenants) {
        return Err(Held {
            reason: "NameConflict",
            message: conflict.to_string(),
            retry: RETRY_NAME_CONFLICT,
        });
    }
    let snapshot = judged.as_ref().map_err(|error| Held {
        reason: "PolicyInvalid",
        message: format!(
            "the data classifications cannot be read ({error}); nothing is changed on any site until they are fixed"
        ),
        retry: RETRY_PENDING,
    })?;
    if snapshot.lowest_classification().is_none() {
        return Err(Held {
            reason: "NoClassifications",
            message: "no DataClassification exists, so no site can be judged; nothing is changed on any site until one is defined".to_owned(),
            retry: RETRY_PENDING,
        });
    }
    Ok(snapshot)
}

async fn hold(
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

fn pending(site: &str, message: String) -> SiteOutcome {
    SiteOutcome {
        site: site.to_owned(),
        state: ProvisioningState::Pending,
        message: Some(bounded_message(&message)),
    }
}

/// One Event for the sites newly provisioned, one for the sites updated to a new generation,
/// and a Warning per site that is not provisioned, so that `kubectl describe tenant` tells
/// what changed without an Event per object.
async fn publish_changes(
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
pub(crate) async fn publish(
    context: &Context,
    tenant: &Tenant,
    type_: EventType,
    reason: &str,
    note: String,
) {
    crate::runtime::events::publish(context, tenant, type_, reason, "Provision", note).await;
}

/// One (site, state) pair per namespace: a tenant has one namespace per environment on each site.
fn record_namespace_gauges(context: &Context, tenant: &Tenant, entries: &[TenantSiteStatus]) {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::*;

    fn entry(site: &str, state: ProvisioningState) -> TenantSiteStatus {
        TenantSiteStatus {
            site: site.to_owned(),
            state,
            message: None,
        }
    }

    fn reason(status: &TenantStatus, type_: ConditionType) -> (String, String) {
        let found = status
            .conditions
            .iter()
            .find(|condition| type_.is(condition))
            .unwrap();
        (found.status.clone(), found.reason.clone())
    }

    #[test]
    fn every_site_provisioned_is_ready_and_complete() {
        let entries = vec![
            entry("national", ProvisioningState::Provisioned),
            entry("state-dc", ProvisioningState::Provisioned),
        ];
        let (status, complete) = reported_status(&[], entries, 2, Some(3));
        assert!(complete);
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(
            reason(&status, ConditionType::Ready),
            ("True".to_owned(), "Provisioned".to_owned())
        );
        assert_eq!(
            reason(&status, ConditionType::Degraded),
            ("False".to_owned(), "AllSitesProvisioned".to_owned())
        );
    }

    #[test]
    fn a_conflict_is_named_before_anything_pending_and_is_retried() {
        let entries = vec![
            entry("national", ProvisioningState::Pending),
            entry("state-dc", ProvisioningState::Conflict),
        ];
        let (status, complete) = reported_status(&[], entries, 2, None);
        assert!(!complete);
        assert_eq!(
            reason(&status, ConditionType::Degraded),
            ("True".to_owned(), "NamespaceConflict".to_owned())
        );
        let degraded = &status.conditions[1].message;
        assert!(
            degraded.contains("state-dc") && !degraded.contains("national"),
            "{degraded}"
        );
    }

    #[test]
    fn a_removal_awaiting_confirmation_is_degraded_but_complete() {
        let entries = vec![
            entry("public-cloud", ProvisioningState::RemovalPending),
            entry("state-dc", ProvisioningState::Provisioned),
        ];
        let (status, complete) = reported_status(&[], entries, 1, None);
        assert!(complete, "nothing to retry: a person decides");
        assert_eq!(
            reason(&status, ConditionType::Ready),
            ("True".to_owned(), "Provisioned".to_owned())
        );
        assert_eq!(
            reason(&status, ConditionType::Degraded),
            ("True".to_owned(), "RemovalPending".to_owned())
        );
    }

    fn tenant(name: &str, short_code: &str, created: &str) -> Tenant {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "Tenant",
            "metadata": {"name": name, "uid": format!("uid-{name}"), "creationTimestamp": created},
            "spec": {"displayName": name, "shortCode": short_code, "highestClassification": "restricted",
                     "environments": [{"name": "prod"}], "quota": {"cpuMillicores": 1, "memoryMebibytes": 1}}
        }))
        .unwrap()
    }

    #[test]
    fn a_reused_short_code_or_no_classification_holds_the_tenant() {
        let earlier = tenant("ministry-of-health", "minsa", "2026-01-01T00:00:00Z");
        let later = tenant("ministerio-de-salud", "minsa", "2026-06-01T00:00:00Z");
        let judged = Snapshot::new(Objects::default());
        let held = admissible(&later, [&earlier, &later], &judged).unwrap_err();
        assert_eq!(held.reason, "NameConflict");
        assert!(
            held.message.contains("ministry-of-health"),
            "{}",
            held.message
        );
        let held = admissible(&earlier, [&earlier, &later], &judged).unwrap_err();
        assert_eq!(
            held.reason, "NoClassifications",
            "the earlier tenant is not in conflict, but nothing can be judged"
        );
    }

    #[test]
    fn no_site_at_all_is_not_ready() {
        let (status, complete) = reported_status(&[], Vec::new(), 0, None);
        assert!(complete);
        assert_eq!(
            reason(&status, ConditionType::Ready),
            ("False".to_owned(), "NoSite".to_owned())
        );
    }
}
