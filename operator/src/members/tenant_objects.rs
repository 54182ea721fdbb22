//! Writing a tenant's objects on a member cluster, kind by kind: server-side apply (provisioning)
//! and whole replacement (repairing drift, where fields someone else added must go).

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use soberana_core::tenancy::TenantObject;

use crate::members::whole_replace::replace_whole;

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

fn namespaced<K>(client: &Client, object: &K) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    Api::namespaced(client.clone(), &object.namespace().unwrap_or_default())
}
