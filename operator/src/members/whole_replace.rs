//! Putting an object back exactly as Soberana wants it. A server-side apply only sets the fields
//! Soberana lists and keeps what another writer added (a binding's `namespaceSelector`, an extra
//! quota key); restoring something edited behind Soberana's back therefore replaces it whole.

use kube::api::PostParams;
use kube::{Api, Resource};

/// Replaces the live `object` (same name) with `object`, as `field_manager`, at the live
/// resourceVersion: a concurrent change fails with a conflict and is judged again next time.
pub async fn replace_whole<K>(
    api: &Api<K>,
    object: &K,
    field_manager: &str,
) -> Result<K, kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let live = api.get(&name).await?;
    let mut replacement = object.clone();
    replacement.meta_mut().resource_version = live.meta().resource_version.clone();
    let parameters = PostParams {
        field_manager: Some(field_manager.to_owned()),
        ..PostParams::default()
    };
    api.replace(&name, &parameters, &replacement).await
}
