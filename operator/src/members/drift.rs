//! Finding what was removed or edited on a member cluster behind Soberana's back (a deleted
//! NetworkPolicy, quota or namespace; a quota raised, a NetworkPolicy opened, the owners'
//! binding widened), so that the tenant is put right there again. The check only reads
//! (metadata-only lists of Soberana's labelled objects), so a site without drift costs no write.
//! An edit is recognised by its author rather than by comparing contents: `managedFields` names
//! every writer of an object's fields, and a fence written by anyone but the Tenant controller has
//! been edited. (Comparing contents would have to undo the API server's own defaulting first.)
//! Namespaces are the exception: others' labels on them are legitimate (a team label), so only
//! the labels and annotation that decide security (the tenant's labels, its classification
//! ceiling and default, the Pod Security level, the tenant UID) are compared with what the Tenant
//! says, and put back when they differ.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use soberana_core::resources::tenant::{ProvisioningState, Tenant};
use soberana_core::tenancy::{TenantIdentity, TenantObject, desired_objects, labels};

use crate::controllers::tenant::FIELD_MANAGER;
use crate::members::paged_list::for_each_live;
use crate::members::tenant_objects::{apply_object, replace_object};
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
    /// The labels and annotations of each Soberana namespace, by name.
    pub namespaces: BTreeMap<String, NamespaceMarks>,
}

/// A namespace's labels and annotations as the member has them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NamespaceMarks {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// Labels that decide security which a Tenant may leave unset: present without the Tenant
/// asking, they are removed.
const REMOVED_UNLESS_WANTED: [&str; 2] = [
    labels::DEFAULT_CLASSIFICATION,
    "pod-security.kubernetes.io/enforce-version",
];

/// How a tenant namespace's security-deciding labels and annotation differ from what the Tenant
/// says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SecurityDrift {
    /// Keys whose value differs from (or is missing against) the Tenant's.
    pub changed: Vec<String>,
    /// Keys the Tenant does not ask for, present anyway.
    pub added: Vec<String>,
}

impl SecurityDrift {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty()
    }
}

/// Compares a tenant namespace as the member has it with `desired`. `None` when the namespace
/// carries another Tenant's UID: it is not this tenant's to restore.
pub fn security_drift(desired: &Namespace, live: &NamespaceMarks) -> Option<SecurityDrift> {
    let wanted_labels = desired.labels();
    let wanted_uid = desired.annotations().get(labels::TENANT_UID);
    let live_uid = live.annotations.get(labels::TENANT_UID);
    if live_uid.is_some() && live_uid != wanted_uid {
        return None;
    }
    let mut drift = SecurityDrift::default();
    for (key, value) in wanted_labels {
        if live.labels.get(key) != Some(value) {
            drift.changed.push(key.clone());
        }
    }
    if live_uid.is_none() && wanted_uid.is_some() {
        drift.changed.push(labels::TENANT_UID.to_owned());
    }
    for key in REMOVED_UNLESS_WANTED {
        if live.labels.contains_key(key) && !wanted_labels.contains_key(key) {
            drift.added.push(key.to_owned());
        }
    }
    Some(drift)
}

/// Lists Soberana's objects on the site (metadata only, in pages).
pub async fn present_objects(client: &Client) -> Result<SiteObjects, kube::Error> {
    let mut found = SiteObjects::default();
    // Namespaces carry others' labels legitimately (a team label): their presence counts, and
    // the security-deciding labels are compared with the Tenant's (`security_drift`).
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
        if metadata.namespace.is_none() {
            found.namespaces.insert(
                name,
                NamespaceMarks {
                    labels: metadata.labels.unwrap_or_default(),
                    annotations: metadata.annotations.unwrap_or_default(),
                },
            );
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
    let tenants = context.caches.tenants.store().state();
    let found = match present_objects(client).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%site, %error, "could not check the site for missing tenant objects");
            return;
        }
    };
    restore_edited(client, site, context, &tenants, &found.edited).await;
    restore_namespace_security(client, site, context, &tenants, &found.namespaces).await;
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
        announce_restored(context, site, tenants, &tenant, &restored).await;
    }
}

/// Logs what was put back for `tenant` on the site and says so in a Warning Event
/// `ObjectsEdited` on the Tenant; nothing when nothing was.
async fn announce_restored(
    context: &Context,
    site: &str,
    tenants: &[std::sync::Arc<Tenant>],
    tenant: &str,
    restored: &[String],
) {
    if restored.is_empty() {
        return;
    }
    tracing::warn!(%site, %tenant, restored = %restored.join(", "), "tenant objects were changed by someone else; restored");
    let Some(object) = tenants
        .iter()
        .find(|candidate| candidate.name_any() == tenant)
    else {
        return;
    };
    let note = format!(
        "site {site}: {} edited by someone else; restored",
        summary(restored)
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

/// Puts back the security-deciding labels and annotation of every tenant namespace on the site
/// that differ from what its Tenant says (a lowered Pod Security level, a raised ceiling, a
/// stripped tenant UID), with a Warning Event per tenant naming them. A namespace carrying
/// another Tenant's UID is left alone.
async fn restore_namespace_security(
    client: &Client,
    site: &str,
    context: &Context,
    tenants: &[std::sync::Arc<Tenant>],
    namespaces: &BTreeMap<String, NamespaceMarks>,
) {
    let matching = tenant_objects_matching(
        site,
        tenants,
        &context.settings.ingress_namespace,
        |object| {
            object
                .strip_prefix("Namespace ")
                .is_some_and(|name| namespaces.contains_key(name))
        },
    );
    for (tenant, objects) in matching {
        let mut restored = Vec::new();
        for object in &objects {
            let TenantObject::Namespace(desired) = object else {
                continue;
            };
            let name = desired.name_any();
            let Some(live) = namespaces.get(&name) else {
                continue;
            };
            let Some(drift) = security_drift(desired, live) else {
                tracing::warn!(%site, %tenant, namespace = %name, "a tenant namespace carries another Tenant's UID; not restoring its labels");
                continue;
            };
            if drift.is_empty() {
                continue;
            }
            match restore_namespace(client, object, &name, &drift.added).await {
                Ok(()) => restored.push(format!(
                    "{} ({})",
                    object.describe(),
                    [drift.changed, drift.added].concat().join(", ")
                )),
                Err(error) => {
                    tracing::warn!(%site, %tenant, namespace = %name, %error, "could not restore a tenant namespace's security labels");
                }
            }
        }
        announce_restored(context, site, tenants, &tenant, &restored).await;
    }
}

/// Applies the namespace's labels and annotation as the Tenant says, then removes the
/// security-deciding labels it does not ask for (an apply would leave another writer's keys).
async fn restore_namespace(
    client: &Client,
    object: &TenantObject,
    name: &str,
    added: &[String],
) -> Result<(), kube::Error> {
    apply_object(client, object, FIELD_MANAGER).await?;
    if added.is_empty() {
        return Ok(());
    }
    let removed: serde_json::Map<String, Value> =
        added.iter().map(|key| (key.clone(), Value::Null)).collect();
    Api::<Namespace>::all(client.clone())
        .patch(
            name,
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"metadata": {"labels": removed}})),
        )
        .await?;
    Ok(())
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

    fn desired_namespace() -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some("minsa-prod".to_owned()),
                labels: Some(BTreeMap::from([
                    (labels::TENANT.to_owned(), "health".to_owned()),
                    (
                        labels::POD_SECURITY_ENFORCE.to_owned(),
                        "restricted".to_owned(),
                    ),
                ])),
                annotations: Some(BTreeMap::from([(
                    labels::TENANT_UID.to_owned(),
                    "uid-1".to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        }
    }

    fn marks(labels: &[(&str, &str)], uid: Option<&str>) -> NamespaceMarks {
        NamespaceMarks {
            labels: labels
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
            annotations: uid
                .map(|uid| BTreeMap::from([(labels::TENANT_UID.to_owned(), uid.to_owned())]))
                .unwrap_or_default(),
        }
    }

    #[test]
    fn a_lowered_pod_security_level_or_a_stripped_uid_is_drift() {
        let desired = desired_namespace();
        let intact = marks(
            &[
                (labels::TENANT, "health"),
                (labels::POD_SECURITY_ENFORCE, "restricted"),
                ("team", "payments"),
            ],
            Some("uid-1"),
        );
        assert_eq!(
            security_drift(&desired, &intact),
            Some(SecurityDrift::default())
        );
        let lowered = marks(
            &[
                (labels::TENANT, "health"),
                (labels::POD_SECURITY_ENFORCE, "privileged"),
                ("pod-security.kubernetes.io/enforce-version", "v1.0"),
            ],
            None,
        );
        assert_eq!(
            security_drift(&desired, &lowered),
            Some(SecurityDrift {
                changed: vec![
                    labels::POD_SECURITY_ENFORCE.to_owned(),
                    labels::TENANT_UID.to_owned()
                ],
                added: vec!["pod-security.kubernetes.io/enforce-version".to_owned()],
            })
        );
    }

    #[test]
    fn another_tenants_namespace_is_not_restored() {
        let foreign = marks(&[(labels::TENANT, "health")], Some("uid-2"));
        assert_eq!(security_drift(&desired_namespace(), &foreign), None);
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
