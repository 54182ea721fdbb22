//! Objects of one kind kept in memory by a watch on an API server, so that what reads them on
//! every reconcile or call costs no list: one way to fill such a cache, and to read it.

use std::fmt::Debug;
use std::future::Future;

use futures::StreamExt;
use kube::runtime::reflector::{Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// Keeps `writer`'s store in line with `api` in a task of its own, until `until` resolves (never,
/// for a cache that lives as long as the process). `on_change` runs after each change is in the
/// store, e.g. to count versions of what is derived from it.
pub fn fill<K>(
    api: Api<K>,
    writer: Writer<K>,
    until: impl Future<Output = ()> + Send + 'static,
    mut on_change: impl FnMut() + Send + 'static,
) -> tokio::task::JoinHandle<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    tokio::spawn(
        watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(writer)
            .take_until(until)
            .for_each(move |_| {
                on_change();
                async {}
            }),
    )
}

/// The objects in a cache, cloned out of it.
pub fn cached<K>(store: &Store<K>) -> Vec<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store
        .state()
        .iter()
        .map(|object| (**object).clone())
        .collect()
}
