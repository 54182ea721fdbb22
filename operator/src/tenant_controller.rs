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
use soberana_core::placement::Snapshot;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::{
    DeletionPolicy, ProvisioningState, Tenant, TenantSiteStatus, TenantStatus,
};
use soberana_core::tenancy::{TenantObject, desired_objects, labels, sites_for_tenant};

use crate::caches::cached;
use crate::conditions::condition;
use crate::context::Context;
use crate::error::{Category, Error};
use crate::status_writer::write_status;

/// The field manager of everything this controller writes.
pub const FIELD_MANAGER: &str = "soberana-tenant-controller";
/// Holds a deleted Tenant until every site is cleaned up.
pub const FINALIZER: &str = "soberana.io/tenant-cleanup";
/// How soon a site that was not provisioned is tried again.
const RETRY_PENDING: std::time::Duration = std::time::Duration::from_secs(15);

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

async fn provision(tenant: &Tenant, context: &Context) -> Result<Action, Error> {
    let name = tenant.name_any();
    let sites = cached(&context.caches.sites);
    let classifications = cached(&context.caches.classifications);
    let snapshot =
        Snapshot::new(&sites, &classifications, &[], &[], &[]).map_err(|error| Error::Invalid {
            object: format!("Tenant {name}"),
            message: error.to_string(),
        })?;
    let targets: BTreeSet<String> = sites_for_tenant(&tenant.spec, &snapshot)
        .into_iter()
        .collect();
    let objects = desired_objects(&name, &tenant.spec, &context.settings.ingress_namespace);
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
                        apply_on_site(site, name, tenant, objects, visited, context).await;
                    if outcome.state == ProvisioningState::Provisioned {
                        context.repaired(name, site_name);
                    }
                    outcome
                }
                None => pending(site_name, "the Site is gone".to_owned()),
            }
        }
    });
    let removals = previous
        .keys()
        .filter(|site| !targets.contains(*site))
        .map(|site_name| {
            let site = by_name.get(site_name).copied();
            async move {
                let result = match site {
                    Some(site) => {
                        remove_from_site(site, name, tenant.spec.deletion_policy, context).await
                    }
                    // A deleted Site cannot be cleaned; nothing is left to track there.
                    None => Ok(()),
                };
                (site_name.clone(), result)
            }
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
                message: Some(format!("removal pending: {error}")),
            }),
        }
    }
    entries.sort_by(|left, right| left.site.cmp(&right.site));
    publish_changes(context, tenant, &previous, &outcomes, up_to_date).await;
    record_namespace_gauges(context, tenant, &entries);

    let incomplete: Vec<String> = entries
        .iter()
        .filter(|entry| entry.state != ProvisioningState::Provisioned)
        .map(|entry| entry.site.clone())
        .collect();
    let existing = tenant.status.clone().unwrap_or_default();
    let generation = tenant.metadata.generation;
    let ready = if targets.is_empty() {
        condition(
            &existing.conditions,
            "Ready",
            false,
            "NoSite",
            "no site may host this tenant's classifications",
            generation,
        )
    } else if incomplete.is_empty() {
        condition(
            &existing.conditions,
            "Ready",
            true,
            "Provisioned",
            format!("provisioned on {} sites", targets.len()),
            generation,
        )
    } else {
        condition(
            &existing.conditions,
            "Ready",
            false,
            "SitesPending",
            "some sites are not provisioned; see status.sites",
            generation,
        )
    };
    let degraded = condition(
        &existing.conditions,
        "Degraded",
        !incomplete.is_empty(),
        if incomplete.is_empty() {
            "AllSitesProvisioned"
        } else {
            "SitesPending"
        },
        if incomplete.is_empty() {
            "every site is provisioned".to_owned()
        } else {
            format!("not provisioned on {}", incomplete.join(", "))
        },
        generation,
    );
    let status = TenantStatus {
        conditions: vec![ready, degraded],
        observed_generation: generation,
        sites: entries,
    };
    if tenant.status.as_ref() != Some(&status) {
        write_status::<Tenant, _>(&context.client, name, &status, FIELD_MANAGER).await?;
    }
    Ok(if incomplete.is_empty() {
        Action::await_change()
    } else {
        Action::requeue(RETRY_PENDING)
    })
}

/// Applies every object of the tenant on one site and, on a site it was on before, removes the
/// namespaces of environments the tenant no longer has.
async fn apply_on_site(
    site: &Site,
    tenant_name: &str,
    tenant: &Tenant,
    objects: &[TenantObject],
    visited: bool,
    context: &Context,
) -> SiteOutcome {
    let site_name = site.name_any();
    let client = match context.connections.client(site, &context.metrics).await {
        Ok(client) => client,
        Err(error) => return pending(&site_name, error.0),
    };
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
                    message: Some(error.to_string()),
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
        tenant_name,
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

fn namespaced<K>(client: &Client, object: &K) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    Api::namespaced(client.clone(), &object.namespace().unwrap_or_default())
}

/// Removes the tenant from a site it may no longer use.
async fn remove_from_site(
    site: &Site,
    tenant_name: &str,
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
    remove_namespaces(&client, &site_name, tenant_name, policy, &BTreeSet::new()).await
}

/// Deletes (or, under `Retain`, unlabels) the tenant's namespaces on a site except `keep`.
async fn remove_namespaces(
    client: &Client,
    site: &str,
    tenant_name: &str,
    policy: DeletionPolicy,
    keep: &BTreeSet<String>,
) -> Result<(), Error> {
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
    let name = tenant.name_any();
    let sites = cached(&context.caches.sites);
    let provisioned: BTreeSet<String> = tenant
        .status
        .iter()
        .flat_map(|status| status.sites.iter().map(|entry| entry.site.clone()))
        .collect();
    let removals = sites
        .iter()
        .filter(|site| provisioned.contains(&site.name_any()))
        .map(|site| remove_from_site(site, &name, tenant.spec.deletion_policy, context));
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

fn pending(site: &str, message: String) -> SiteOutcome {
    SiteOutcome {
        site: site.to_owned(),
        state: ProvisioningState::Pending,
        message: Some(message),
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
            ProvisioningState::Failed | ProvisioningState::Pending => {
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
    crate::events::publish(context, tenant, type_, reason, "Provision", note).await;
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
            };
            std::iter::repeat_n((entry.site.clone(), state), environments)
        })
        .collect();
    context.record_tenant_sites(&tenant.name_any(), states);
}
