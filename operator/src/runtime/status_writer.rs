//! Writing a Soberana object's status with server-side apply under the controller's field
//! manager; callers write only when the status changed.

use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde_json::json;

use crate::runtime::error::Error;

/// Applies `status` as the whole status of the cluster-scoped object `name` of kind `K`.
pub async fn write_status<K, S>(
    client: &Client,
    name: &str,
    status: &S,
    field_manager: &str,
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::ClusterResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    S: Serialize,
{
    apply_status(Api::<K>::all(client.clone()), name, status, field_manager).await
}

/// Applies `status` as the whole status of the object `namespace/name` of kind `K`.
pub async fn write_namespaced_status<K, S>(
    client: &Client,
    namespace: &str,
    name: &str,
    status: &S,
    field_manager: &str,
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    S: Serialize,
{
    let api = Api::<K>::namespaced(client.clone(), namespace);
    apply_status(api, name, status, field_manager).await
}

async fn apply_status<K, S>(
    api: Api<K>,
    name: &str,
    status: &S,
    field_manager: &str,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(field_manager).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(drop)
    .map_err(|source| Error::WriteStatus {
        object: format!("{} {name}", K::kind(&())),
        source,
    })
}
