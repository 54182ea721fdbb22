//! Finding what was removed from a member cluster behind Soberana's back (a deleted
//! NetworkPolicy, quota or namespace), so that the tenant is provisioned there again. The check
//! only reads (metadata-only lists of Soberana's labelled objects), so a site without drift costs
//! no write.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::ListParams;
use kube::runtime::events::EventType;
use kube::{Api, Client, Resource, ResourceExt};
use soberana_core::resources::tenant::{ProvisioningState, Tenant};
use soberana_core::tenancy::{TenantIdentity, desired_objects, labels};

use crate::context::Context;
use crate::tenant_controller::publish;

/// Objects per list request.
const PAGE_SIZE: u32 = 500;

/// Every object on the site that carries Soberana's `managed-by` label, described as
/// `TenantObject::describe` describes the desired ones ("Kind namespace/name").
pub async fn present_objects(client: &Client) -> Result<BTreeSet<String>, kube::Error> {
    let mut present = BTreeSet::new();
    collect::<Namespace>(client, &mut present).await?;
    collect::<ResourceQuota>(client, &mut present).await?;
    collect::<LimitRange>(client, &mut present).await?;
    collect::<NetworkPolicy>(client, &mut present).await?;
    collect::<RoleBinding>(client, &mut present).await?;
    Ok(present)
}

async fn collect<K>(client: &Client, present: &mut BTreeSet<String>) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let selector = format!("{}={}", labels::MANAGED_BY, labels::MANAGER);
    let api = Api::<K>::all(client.clone());
    let kind = K::kind(&());
    // Pages keep the memory of a check bounded however many tenants a site carries.
    let mut parameters = ListParams::default().labels(&selector).limit(PAGE_SIZE);
    loop {
        let list = api.list_metadata(&parameters).await?;
        for object in list.items {
            // A namespace being deleted is as good as gone: applying into it would fail.
            if object.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let name = object.name_any();
            present.insert(match object.metadata.namespace {
                Some(namespace) => format!("{kind} {namespace}/{name}"),
                None => format!("{kind} {name}"),
            });
        }
        match list.metadata.continue_ {
            Some(token) if !token.is_empty() => parameters = parameters.continue_token(&token),
            _ => break,
        }
    }
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
            let missing: Vec<String> = desired_objects(&identity, &tenant.spec, ingress_namespace)
                .iter()
                .map(|object| object.describe())
                .filter(|object| !present.contains(object))
                .collect();
            (!missing.is_empty()).then_some((name, missing))
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
    let present = match present_objects(client).await {
        Ok(present) => present,
        Err(error) => {
            tracing::warn!(%site, %error, "could not check the site for missing tenant objects");
            return;
        }
    };
    for (tenant, missing) in damaged_tenants(
        site,
        &tenants,
        &present,
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
            publish(context, object, EventType::Warning, "ObjectsMissing", note).await;
        }
        context.request_repair(&tenant, site);
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
    use super::*;

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
