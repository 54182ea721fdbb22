//! Finding what was removed or edited on a member cluster behind Soberana's back (a deleted
//! NetworkPolicy, quota or namespace; a quota raised, a NetworkPolicy opened, the owners'
//! binding widened), so that the tenant is put right there again. The check only reads
//! (metadata-only lists of Soberana's labelled objects), so a site without drift costs no write.
//! An edit is recognised by its author rather than by comparing contents: `managedFields` names
//! every writer of an object's fields, and a fence written by anyone but the Tenant controller has
//! been edited. (Comparing contents would have to undo the API server's own defaulting first.)

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::events::EventType;
use kube::{Client, Resource, ResourceExt};
use soberana_core::resources::tenant::{ProvisioningState, Tenant};
use soberana_core::tenancy::{TenantIdentity, TenantObject, desired_objects, labels};

use crate::controllers::tenant::FIELD_MANAGER;
use crate::members::paged_list::for_each_live;
use crate::members::tenant_objects::replace_object;
use crate::runtime::context::Context;
use crate::runtime::events::publish;

/// Drift is part of keeping a tenant provisioned: its Events carry the Tenant controller's action.
const PROVISION: &str = "Provision";

/// What a check found on a site: every object carrying Soberana's `managed-by` label, and those
/// of them that are fences someone else has written to, each described as
/// `TenantObject::describe` describes the desired ones ("Kind namespace/name").
#[derive(Debug, Default)]
pub struct SiteObjects {
    pub present: BTreeSet<String>,
    pub edited: BTreeSet<String>,
}

/// Lists Soberana's objects on the site (metadata only, in pages).
pub async fn present_objects(client: &Client) -> Result<SiteObjects, kube::Error> {
    let mut found = SiteObjects::default();
    // Namespaces carry others' labels legitimately (a team label): only their presence counts.
    collect::<Namespace>(client, &mut found, false).await?;
    collect::<ResourceQuota>(client, &mut found, true).await?;
    collect::<LimitRange>(client, &mut found, true).await?;
    collect::<NetworkPolicy>(client, &mut found, true).await?;
    collect::<RoleBinding>(client, &mut found, true).await?;
    Ok(found)
}

/// Whether a writer other than the Tenant controller owns any of the object's fields (status
/// written through its subresource, such as a quota's usage, does not count).
pub fn edited_by_others(metadata: &ObjectMeta) -> bool {
    metadata.managed_fields.iter().flatten().any(|entry| {
        entry.manager.as_deref() != Some(FIELD_MANAGER)
            && entry.subresource.as_deref().unwrap_or_default().is_empty()
    })
}

async fn collect<K>(
    client: &Client,
    found: &mut SiteObjects,
    fence: bool,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let selector = format!("{}={}", labels::MANAGED_BY, labels::MANAGER);
    let kind = K::kind(&());
    for_each_live::<K>(client, Some(&selector), |metadata| {
        let name = metadata.name.clone().unwrap_or_default();
        let described = match &metadata.namespace {
            Some(namespace) => format!("{kind} {namespace}/{name}"),
            None => format!("{kind} {name}"),
        };
        if fence && edited_by_others(&metadata) {
            found.edited.insert(described.clone());
        }
        found.present.insert(described);
    })
    .await?;
    Ok(())
}

/// The tenants provisioned on `site` for their current generation that miss any of their
/// objects there. `tenants` must be read before `present` was listed, so that a tenant
/// provisioned in between is not mistaken for a damaged one.
pub fn damaged_tenants(
    site: &str,
    tenants: &[std::sync::Arc<Tenant>],
    present: &BTreeSet<String>,
    ingress_namespace: &str,
) -> Vec<(String, Vec<String>)> {
    tenant_objects_matching(site, tenants, ingress_namespace, |object| {
        !present.contains(object)
    })
    .into_iter()
    .map(|(tenant, objects)| (tenant, objects.iter().map(TenantObject::describe).collect()))
    .collect()
}

/// For each tenant provisioned on `site` for its current generation, its desired objects that
/// `selected` picks by description; tenants with none are left out.
fn tenant_objects_matching(
    site: &str,
    tenants: &[std::sync::Arc<Tenant>],
    ingress_namespace: &str,
    selected: impl Fn(&str) -> bool,
) -> Vec<(String, Vec<TenantObject>)> {
    tenants
        .iter()
        .filter(|tenant| {
            tenant.meta().deletion_timestamp.is_none()
                && tenant.status.as_ref().is_some_and(|status| {
                    status.observed_generation == tenant.metadata.generation
                        && status.sites.iter().any(|entry| {
                            entry.site == site && entry.state == ProvisioningState::Provisioned
                        })
                })
        })
        .filter_map(|tenant| {
            let name = tenant.name_any();
            let identity = TenantIdentity {
                name: name.clone(),
                uid: tenant.uid().unwrap_or_default(),
            };
            let matching: Vec<TenantObject> =
                desired_objects(&identity, &tenant.spec, ingress_namespace)
                    .into_iter()
                    .filter(|object| selected(&object.describe()))
                    .collect();
            (!matching.is_empty()).then_some((name, matching))
        })
        .collect()
}

/// Checks `site` for tenants missing objects; each gets a Warning Event and is applied again.
/// Runs at most every `--drift-check-interval`; a failed check is logged and tried again then.
pub async fn repair_if_damaged(client: &Client, site: &str, context: &Context) {
    if !context.drift_check_due(site) {
        return;
    }
    let tenants = context.caches.tenants.state();
    let found = match present_objects(client).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%site, %error, "could not check the site for missing tenant objects");
            return;
        }
    };
    restore_edited(client, site, context, &tenants, &found.edited).await;
    for (tenant, missing) in damaged_tenants(
        site,
        &tenants,
        &found.present,
        &context.settings.ingress_namespace,
    ) {
        if context.needs_repair(&tenant, site) {
            continue;
        }
        tracing::warn!(%site, %tenant, missing = %missing.join(", "), "tenant objects are missing; applying them again");
        if let Some(object) = tenants
            .iter()
            .find(|candidate| candidate.name_any() == tenant)
        {
            let note = format!("site {site}: {} missing; applying again", summary(&missing));
            publish(
                context,
                &**object,
                EventType::Warning,
                "ObjectsMissing",
                PROVISION,
                note,
            )
            .await;
        }
        context.request_repair(&tenant, site);
    }
}

/// Replaces every edited fence with what the tenant's spec says, whole (a server-side apply
/// would keep fields the other writer added, such as an extra quota key), with a Warning Event
/// per tenant naming them.
async fn restore_edited(
    client: &Client,
    site: &str,
    context: &Context,
    tenants: &[std::sync::Arc<Tenant>],
    edited: &BTreeSet<String>,
) {
    if edited.is_empty() {
        return;
    }
    let matching = tenant_objects_matching(
        site,
        tenants,
        &context.settings.ingress_namespace,
        |object| edited.contains(object),
    );
    for (tenant, objects) in matching {
        let mut restored = Vec::new();
        for object in &objects {
            match replace_object(client, object, FIELD_MANAGER).await {
                Ok(()) => restored.push(object.describe()),
                Err(error) => {
                    tracing::warn!(%site, %tenant, object = %object.describe(), %error, "could not restore an edited tenant object");
                }
            }
        }
        if restored.is_empty() {
            continue;
        }
        tracing::warn!(%site, %tenant, restored = %restored.join(", "), "tenant objects were edited by someone else; restored");
        if let Some(object) = tenants
            .iter()
            .find(|candidate| candidate.name_any() == tenant)
        {
            let note = format!(
                "site {site}: {} edited by someone else; restored",
                summary(&restored)
            );
            publish(
                context,
                &**object,
                EventType::Warning,
                "ObjectsEdited",
                PROVISION,
                note,
            )
            .await;
        }
    }
}

/// The first few missing objects and how many more, short enough for an Event.
fn summary(missing: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut text = missing
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if missing.len() > SHOWN {
        text.push_str(&format!(" and {} more", missing.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

    use super::*;

    fn written_by(entries: &[(&str, Option<&str>)]) -> ObjectMeta {
        ObjectMeta {
            managed_fields: Some(
                entries
                    .iter()
                    .map(|(manager, subresource)| ManagedFieldsEntry {
                        manager: Some((*manager).to_owned()),
                        subresource: subresource.map(str::to_owned),
                        ..ManagedFieldsEntry::default()
                    })
                    .collect(),
            ),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn a_fence_written_by_anyone_else_is_edited() {
        assert!(!edited_by_others(&written_by(&[(FIELD_MANAGER, None)])));
        // The quota controller writes usage through the status subresource: not an edit.
        assert!(!edited_by_others(&written_by(&[
            (FIELD_MANAGER, None),
            ("kube-controller-manager", Some("status"))
        ])));
        assert!(edited_by_others(&written_by(&[
            (FIELD_MANAGER, None),
            ("kubectl-edit", None)
        ])));
        assert!(edited_by_others(&written_by(&[(
            "kubectl-client-side-apply",
            Some("")
        )])));
    }

    #[test]
    fn long_lists_are_summarised() {
        let missing: Vec<String> = (1..=6)
            .map(|index| format!("NetworkPolicy ns/p{index}"))
            .collect();
        assert_eq!(
            summary(&missing),
            "NetworkPolicy ns/p1, NetworkPolicy ns/p2, NetworkPolicy ns/p3, NetworkPolicy ns/p4 and 2 more"
        );
        assert_eq!(summary(&missing[..1]), "NetworkPolicy ns/p1");
    }
}
