//! One watch per kind, shared by every controller and reconcile: a single copy of each object in
//! memory (the store), and a feed of which objects changed for the controllers that react to
//! them. Each controller used to watch — and keep — every Workload, Tenant and Site again.
//!
//! Unlike kube's own shared reflector, the feed reports deletions (deleting a classification
//! must reach the tenants), and a subscriber that falls behind never blocks the watch: it is
//! handed every object again instead (each controller collapses repeats).

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{Predicate, WatchStreamExt, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

/// Changes a subscriber may fall behind by before it is handed every object again.
const BACKLOG: usize = 4096;

/// One change, as subscribers hear it: the object as now stored, or as it was when deleted.
#[derive(Debug)]
pub enum Change<K> {
    Applied(Arc<K>),
    Deleted(Arc<K>),
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Self::Applied(object) => Self::Applied(object.clone()),
            Self::Deleted(object) => Self::Deleted(object.clone()),
        }
    }
}

/// What the feed carries: which object changed (read from the store when heard, so the feed
/// keeps no old versions of large objects alive), or a deleted object as it was.
enum Published<K: Resource<DynamicType = ()> + Clone + 'static> {
    Applied(ObjectRef<K>),
    Deleted(Arc<K>),
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Clone for Published<K> {
    fn clone(&self) -> Self {
        match self {
            Self::Applied(key) => Self::Applied(key.clone()),
            Self::Deleted(object) => Self::Deleted(object.clone()),
        }
    }
}

impl<K> Change<K> {
    pub fn object(&self) -> &Arc<K> {
        match self {
            Self::Applied(object) | Self::Deleted(object) => object,
        }
    }
}

/// The read side: the one store of the kind, and its change feed.
pub struct Shared<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    changes: broadcast::Sender<Published<K>>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Clone for Shared<K> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            changes: self.changes.clone(),
        }
    }
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> std::fmt::Debug for Shared<K> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Shared")
            .field("objects", &self.store.state().len())
            .field("subscribers", &self.changes.receiver_count())
            .finish()
    }
}

/// The write side, driven by the kind's one watch.
pub struct Feed<K: Resource<DynamicType = ()> + Clone + 'static> {
    writer: Writer<K>,
    changes: broadcast::Sender<Published<K>>,
    /// What the list in progress has returned so far: what is missing from it at its end was
    /// deleted while the watch was away.
    listed: HashSet<ObjectRef<K>>,
    /// What is done to each object before it is kept (e.g. dropping what must not stay in
    /// memory).
    prepare: fn(&mut K),
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> std::fmt::Debug for Feed<K> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Feed").finish_non_exhaustive()
    }
}

/// An empty shared store of `K` and the feed that fills it; `prepare` runs on each object
/// before it is kept.
pub fn shared<K>(prepare: fn(&mut K)) -> (Shared<K>, Feed<K>)
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let (store, writer) = reflector::store();
    let (changes, _) = broadcast::channel(BACKLOG);
    (
        Shared {
            store,
            changes: changes.clone(),
        },
        Feed {
            writer,
            changes,
            listed: HashSet::new(),
            prepare,
        },
    )
}

/// Keeps nothing out: the `prepare` of kinds stored as they are.
pub fn as_is<K>(_: &mut K) {}

impl<K> Shared<K>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    /// The one store of the kind.
    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// Every change from now on, starting with every object already stored (as applied).
    pub fn changes(&self) -> impl futures::Stream<Item = Change<K>> + Send + 'static {
        let receiver = self.changes.subscribe();
        let pending: VecDeque<Change<K>> = self
            .store
            .state()
            .into_iter()
            .map(Change::Applied)
            .collect();
        futures::stream::unfold(
            (receiver, self.store.clone(), pending),
            |(mut receiver, store, mut pending)| async move {
                loop {
                    if let Some(change) = pending.pop_front() {
                        return Some((change, (receiver, store, pending)));
                    }
                    match receiver.recv().await {
                        Ok(Published::Applied(key)) => {
                            // Gone since: its deletion follows.
                            if let Some(object) = store.get(&key) {
                                return Some((Change::Applied(object), (receiver, store, pending)));
                            }
                        }
                        Ok(Published::Deleted(object)) => {
                            return Some((Change::Deleted(object), (receiver, store, pending)));
                        }
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::debug!(
                                kind = %K::kind(&()),
                                missed,
                                "a subscriber fell behind; handing it every object again"
                            );
                            pending.extend(store.state().into_iter().map(Change::Applied));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        )
    }

    /// The stored objects whose `predicate` value changed (or that are new), as a controller's
    /// own trigger stream: its own status writes, filtered out by the predicate, start nothing.
    pub fn applied_changes(
        &self,
        predicate: impl Predicate<K> + Send + 'static,
    ) -> impl futures::Stream<Item = Arc<K>> + Send + 'static {
        self.filtered(predicate, false)
    }

    /// Objects whose `predicate` value changed, new ones and deleted ones: a trigger for another
    /// controller.
    pub fn triggers(
        &self,
        predicate: impl Predicate<K> + Send + 'static,
    ) -> impl futures::Stream<Item = Arc<K>> + Send + 'static {
        self.filtered(predicate, true)
    }

    fn filtered(
        &self,
        predicate: impl Predicate<K> + Send + 'static,
        with_deletions: bool,
    ) -> impl futures::Stream<Item = Arc<K>> + Send + 'static {
        let mut seen = Seen::new(predicate);
        self.changes().filter_map(move |change| {
            let passed = match change {
                Change::Applied(object) => seen.changed(&object).then_some(object),
                Change::Deleted(object) => {
                    seen.forget(&object);
                    with_deletions.then_some(object)
                }
            };
            futures::future::ready(passed)
        })
    }

    /// Every change, status included, deleted objects too.
    pub fn any_change(&self) -> impl futures::Stream<Item = Arc<K>> + Send + 'static {
        self.changes().map(|change| change.object().clone())
    }
}

/// The last predicate value seen per object.
struct Seen<K: Resource<DynamicType = ()> + Clone + 'static, P> {
    predicate: P,
    values: HashMap<ObjectRef<K>, u64>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static, P: Predicate<K>> Seen<K, P> {
    fn new(predicate: P) -> Self {
        Self {
            predicate,
            values: HashMap::new(),
        }
    }

    /// Whether `object`'s value differs from the last one seen (an object the predicate says
    /// nothing about always counts as changed, as with kube's `predicate_filter`).
    fn changed(&mut self, object: &K) -> bool {
        match self.predicate.hash_property(object) {
            Some(value) => self.values.insert(ObjectRef::from_obj(object), value) != Some(value),
            None => true,
        }
    }

    fn forget(&mut self, object: &K) {
        self.values.remove(&ObjectRef::from_obj(object));
    }
}

impl<K> Feed<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    /// Applies one watch event to the store and returns what subscribers are told: the object
    /// as stored, or as it was when deleted; at the end of a (re)list, what the list no longer
    /// holds as deleted and everything it holds as applied.
    pub fn apply(&mut self, event: watcher::Event<K>) -> Vec<Change<K>> {
        let store = self.writer.as_reader();
        match event {
            watcher::Event::Apply(mut object) => {
                (self.prepare)(&mut object);
                let key = ObjectRef::from_obj(&object);
                self.writer
                    .apply_watcher_event(&watcher::Event::Apply(object));
                store.get(&key).map(Change::Applied).into_iter().collect()
            }
            watcher::Event::Delete(mut object) => {
                (self.prepare)(&mut object);
                let key = ObjectRef::from_obj(&object);
                let last = store.get(&key).unwrap_or_else(|| Arc::new(object.clone()));
                self.writer
                    .apply_watcher_event(&watcher::Event::Delete(object));
                vec![Change::Deleted(last)]
            }
            watcher::Event::Init => {
                self.listed.clear();
                self.writer.apply_watcher_event(&watcher::Event::Init);
                Vec::new()
            }
            watcher::Event::InitApply(mut object) => {
                (self.prepare)(&mut object);
                self.listed.insert(ObjectRef::from_obj(&object));
                self.writer
                    .apply_watcher_event(&watcher::Event::InitApply(object));
                Vec::new()
            }
            watcher::Event::InitDone => {
                let before = store.state();
                self.writer.apply_watcher_event(&watcher::Event::InitDone);
                let listed = std::mem::take(&mut self.listed);
                let gone = before
                    .into_iter()
                    .filter(|object| !listed.contains(&ObjectRef::from_obj(&**object)))
                    .map(Change::Deleted);
                gone.chain(store.state().into_iter().map(Change::Applied))
                    .collect()
            }
        }
    }

    /// Applies `event` and tells every subscriber what changed.
    fn apply_and_publish(&mut self, event: watcher::Event<K>) {
        for change in self.apply(event) {
            let published = match change {
                Change::Applied(object) => Published::Applied(ObjectRef::from_obj(&*object)),
                Change::Deleted(object) => Published::Deleted(object),
            };
            // No subscriber yet is fine: a new one starts from the store.
            let _ = self.changes.send(published);
        }
    }
}

/// Objects per page of a watch's (re)list. Each page is in memory whole, as text and as
/// objects, before `prepare` trims them: kube's default of 500 pages of Workloads near the
/// API server's object size limit would hold hundreds of MiB at once.
const LIST_PAGE: u32 = 50;

/// Keeps `feed`'s store in line with `api` in a task of its own until `until` resolves.
pub fn follow<K>(
    api: Api<K>,
    mut feed: Feed<K>,
    until: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    tokio::spawn(
        watcher(api, watcher::Config::default().page_size(LIST_PAGE))
            .default_backoff()
            .take_until(until)
            .for_each(move |event| {
                match event {
                    Ok(event) => feed.apply_and_publish(event),
                    Err(error) => {
                        tracing::debug!(kind = %K::kind(&()), %error, "watch interrupted; resuming")
                    }
                }
                futures::future::ready(())
            }),
    )
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    use super::*;

    fn config_map(name: &str, generation: i64) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("ns".to_owned()),
                generation: Some(generation),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    fn names(changes: &[Change<ConfigMap>]) -> Vec<String> {
        changes
            .iter()
            .map(|change| {
                let verb = match change {
                    Change::Applied(_) => "applied",
                    Change::Deleted(_) => "deleted",
                };
                format!("{verb} {}", change.object().metadata.name.clone().unwrap())
            })
            .collect()
    }

    fn listed(feed: &mut Feed<ConfigMap>, objects: &[ConfigMap]) -> Vec<Change<ConfigMap>> {
        feed.apply(watcher::Event::Init);
        for object in objects {
            feed.apply(watcher::Event::InitApply(object.clone()));
        }
        feed.apply(watcher::Event::InitDone)
    }

    #[test]
    fn a_relist_reports_what_vanished_while_the_watch_was_away() {
        let (shared, mut feed) = shared::<ConfigMap>(as_is);
        let first = listed(&mut feed, &[config_map("a", 1), config_map("b", 1)]);
        let mut first = names(&first);
        first.sort();
        assert_eq!(first, ["applied a", "applied b"]);
        let again = listed(&mut feed, &[config_map("b", 2)]);
        assert_eq!(names(&again), ["deleted a", "applied b"]);
        assert_eq!(shared.store().state().len(), 1);
    }

    #[test]
    fn a_deletion_is_told_with_the_last_stored_state() {
        let (_, mut feed) = shared::<ConfigMap>(as_is);
        listed(&mut feed, &[config_map("a", 3)]);
        let changes = feed.apply(watcher::Event::Delete(config_map("a", 1)));
        assert_eq!(names(&changes), ["deleted a"]);
        assert_eq!(changes[0].object().metadata.generation, Some(3));
    }

    #[test]
    fn what_prepare_drops_never_reaches_the_store() {
        fn without_data(object: &mut ConfigMap) {
            object.data = None;
        }
        let (shared, mut feed) = shared::<ConfigMap>(without_data);
        let mut big = config_map("a", 1);
        big.data = Some([("k".to_owned(), "v".repeat(1000))].into());
        listed(&mut feed, &[big.clone()]);
        feed.apply(watcher::Event::Apply(big));
        assert!(
            shared
                .store()
                .state()
                .iter()
                .all(|object| object.data.is_none())
        );
    }

    #[tokio::test]
    async fn a_subscriber_hears_the_stored_objects_then_changes_and_deletions() {
        let (shared, mut feed) = shared::<ConfigMap>(as_is);
        listed(&mut feed, &[config_map("a", 1)]);
        let mut triggers = Box::pin(shared.triggers(kube::runtime::predicates::generation));
        feed.apply_and_publish(watcher::Event::Apply(config_map("a", 1)));
        feed.apply_and_publish(watcher::Event::Apply(config_map("b", 1)));
        feed.apply_and_publish(watcher::Event::Apply(config_map("b", 2)));
        feed.apply_and_publish(watcher::Event::Delete(config_map("a", 1)));
        let mut heard = Vec::new();
        for _ in 0..3 {
            let object = triggers.next().await.unwrap();
            heard.push(format!(
                "{} {}",
                object.metadata.name.clone().unwrap(),
                object.metadata.generation.unwrap()
            ));
        }
        // A change is read from the store when heard: `b` is heard at its latest generation
        // (once: the same generation again is filtered out), and `a`, deleted by then, only
        // through its deletion, with its last state.
        assert_eq!(heard, ["a 1", "b 2", "a 1"]);
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_handed_every_object_again() {
        let (shared, mut feed) = shared::<ConfigMap>(as_is);
        listed(&mut feed, &[]);
        let mut changes = Box::pin(shared.changes());
        for generation in 0..(BACKLOG as i64 + 10) {
            feed.apply_and_publish(watcher::Event::Apply(config_map("a", generation)));
        }
        let first = changes.next().await.unwrap();
        assert_eq!(first.object().metadata.generation, Some(BACKLOG as i64 + 9));
    }
}
