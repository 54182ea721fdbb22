//! Apply, for a Tenant: provisioning each target site and leaving each site it departs, all sites
//! at once, so that a site that is down holds up no other. Each site's result is an outcome to
//! report, never an early return.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::{
    DeletionPolicy, ProvisioningState, Tenant, TenantSiteStatus,
};
use soberana_core::tenancy::{
    NamespaceOwnership, TenantIdentity, TenantObject, desired_objects, labels,
};

use super::FIELD_MANAGER;
use super::decide::{SiteOutcome, pending};
use crate::conditions::bounded_message;
use crate::members::tenant_objects::apply_object;
use crate::runtime::context::Context;
use crate::runtime::error::{Category, Error};

/// Provisions the tenant on every target site. A site already provisioned at this generation,
/// and not marked for repair, is not written again.
pub(super) async fn provision_sites(
    tenant: &Tenant,
    identity: &TenantIdentity,
    targets: &BTreeSet<String>,
    previous: &BTreeMap<String, TenantSiteStatus>,
    sites: &BTreeMap<String, &Site>,
    context: &Context,
) -> Vec<SiteOutcome> {
    let objects = desired_objects(identity, &tenant.spec, &context.settings.ingress_namespace);
    let up_to_date = tenant
        .status
        .as_ref()
        .and_then(|status| status.observed_generation)
        == tenant.metadata.generation;
    let name = identity.name.as_str();
    let objects = &objects;
    join_all(targets.iter().map(|site_name| async move {
        let already = up_to_date
            && previous
                .get(site_name)
                .is_some_and(|entry| entry.state == ProvisioningState::Provisioned)
            && !context.needs_repair(name, site_name);
        if already {
            return SiteOutcome {
                site: site_name.clone(),
                state: ProvisioningState::Provisioned,
                message: None,
            };
        }
        let Some(site) = sites.get(site_name).copied() else {
            return pending(site_name, "the Site is gone".to_owned());
        };
        let visited = previous.contains_key(site_name);
        let outcome = apply_on_site(site, identity, tenant, objects, visited, context).await;
        if outcome.state == ProvisioningState::Provisioned {
            context.repaired(name, site_name);
        }
        outcome
    }))
    .await
}

/// Removes the tenant from every site it leaves; each site's result, by name.
pub(super) async fn leave_sites(
    tenant: &Tenant,
    identity: &TenantIdentity,
    leave: &[String],
    sites: &BTreeMap<String, &Site>,
    context: &Context,
) -> Vec<(String, Result<(), Error>)> {
    let removals = leave
        .iter()
        .filter_map(|name| sites.get(name).copied())
        .map(|site| async move {
            let result =
                remove_from_site(site, identity, tenant.spec.deletion_policy, context).await;
            (site.name_any(), result)
        });
    join_all(removals).await
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

/// Removes the tenant from a site it may no longer use.
pub(super) async fn remove_from_site(
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
            // Applying the namespace with only what must stay gives up the labels we own. The
            // Pod Security level and the tenant UID stay: the member's confinement refuses
            // lowering the one or removing the other, and the data kept there is still the
            // tenant's.
            DeletionPolicy::Retain => {
                let bare = retained_namespace(&namespace);
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

/// What a retained namespace keeps of Soberana's fields: its name, its Pod Security level and
/// the UID of the Tenant its data belongs to.
fn retained_namespace(namespace: &Namespace) -> serde_json::Value {
    let mut metadata = json!({"name": namespace.name_any()});
    if let Some(level) = namespace.labels().get(labels::POD_SECURITY_ENFORCE) {
        metadata["labels"] = json!({labels::POD_SECURITY_ENFORCE: level});
    }
    if let Some(uid) = namespace.annotations().get(labels::TENANT_UID) {
        metadata["annotations"] = json!({labels::TENANT_UID: uid});
    }
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
}
