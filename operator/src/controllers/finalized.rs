//! A reconcile behind a finalizer, shared by the controllers whose objects leave something on
//! member sites (Workloads, DataExchanges): kube's finalizer helper, with its errors turned into
//! the operator's own (the reconcile's error as it was; a finalizer failure naming the object).

use std::future::Future;
use std::sync::Arc;

use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event, finalizer};
use kube::{Api, Resource, ResourceExt};

use crate::runtime::error::Error;

/// Runs `reconcile` with `name` added before the first apply and removed after the cleanup.
pub async fn finalized<K, Reconcile, Done>(
    api: &Api<K>,
    name: &str,
    object: Arc<K>,
    reconcile: Reconcile,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    Reconcile: FnOnce(Event<K>) -> Done,
    Done: Future<Output = Result<Action, Error>>,
{
    let described = match object.namespace() {
        Some(namespace) => format!("{} {namespace}/{}", K::kind(&()), object.name_any()),
        None => format!("{} {}", K::kind(&()), object.name_any()),
    };
    finalizer(api, name, object, reconcile)
        .await
        .map_err(|error| match error {
            kube::runtime::finalizer::Error::ApplyFailed(error)
            | kube::runtime::finalizer::Error::CleanupFailed(error) => error,
            other => Error::Finalizer {
                object: described,
                message: other.to_string(),
            },
        })
}
