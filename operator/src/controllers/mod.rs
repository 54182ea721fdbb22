//! Runs the Site, Tenant, residency, Workload and DataExchange controllers until shutdown, with each reconcile measured (count by
//! result, duration, errors by category) and failures retried after a delay fitting their kind.

pub mod exchange;
mod finalized;
pub mod residency;
pub mod site;
pub mod slo;
pub mod tenant;
pub mod workload;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, store::Writer};
use kube::runtime::{Predicate, WatchStreamExt, predicates, watcher};
use kube::{Api, Resource, ResourceExt};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::data_exchange::DataExchange;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;
use tokio::sync::watch;

use crate::runtime::caches::CacheWriters;
use crate::runtime::context::Context;
use crate::runtime::error::Error;

/// Runs the Site, Tenant, residency, Workload and DataExchange controllers until `shutdown` turns
/// true;
/// in-flight reconciles finish first.
///
/// `writers` fill `context.caches` from watches running in tasks of their own, and the
/// controllers start once every cache holds its first list. Reconciles read the caches without
/// waiting; each controller has its own store for the objects it reconciles. (A reconcile that
/// waited on a store filled by a controller's own streams could stall: a controller stops
/// polling its streams while its reconcile slots are busy.)
pub async fn run(context: Arc<Context>, writers: CacheWriters, shutdown: watch::Receiver<bool>) {
    let config = kube::runtime::controller::Config::default()
        .concurrency(context.settings.reconcile_concurrency);
    let CacheWriters {
        sites,
        tenants,
        classifications,
        rules,
        workloads,
        secrets,
    } = writers;
    let client = context.client.clone();
    let caches = [
        fill(Api::<Site>::all(client.clone()), sites, shutdown.clone()),
        fill(
            Api::<Tenant>::all(client.clone()),
            tenants,
            shutdown.clone(),
        ),
        fill(
            Api::<DataClassification>::all(client.clone()),
            classifications,
            shutdown.clone(),
        ),
        fill(
            Api::<PlacementRule>::all(client.clone()),
            rules,
            shutdown.clone(),
        ),
        fill(
            Api::<Workload>::all(client.clone()),
            workloads,
            shutdown.clone(),
        ),
        fill(
            Api::<Secret>::namespaced(client, &context.settings.site_secrets_namespace),
            secrets,
            shutdown.clone(),
        ),
    ];
    tokio::select! {
        () = context.caches.wait_until_ready() => {}
        () = until_true(shutdown.clone()) => return,
    }
    tracing::info!(caches = ?context.caches, "caches filled; starting the controllers");
    futures::join!(
        run_sites(
            context.clone(),
            config.clone(),
            until_true(shutdown.clone())
        ),
        run_tenants(
            context.clone(),
            config.clone(),
            until_true(shutdown.clone())
        ),
        run_residency(
            context.clone(),
            config.clone(),
            until_true(shutdown.clone())
        ),
        run_workloads(
            context.clone(),
            config.clone(),
            until_true(shutdown.clone())
        ),
        run_exchanges(context.clone(), config, until_true(shutdown.clone())),
        run_slo(context, until_true(shutdown))
    );
    for cache in caches {
        let _ = cache.await;
    }
}

/// Keeps `writer`'s store in line with `api` until shutdown, in a task of its own.
fn fill<K>(
    api: Api<K>,
    writer: Writer<K>,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()>
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    soberana_runtime::watch_cache::fill(api, writer, until_true(shutdown), || {})
}

/// The objects of `api` whose spec changed or that were deleted (status-only writes filtered
/// out), as a trigger stream for another controller. Deletions count: deleting every
/// DataClassification must reach the tenants as surely as editing one.
fn spec_changes<K>(api: Api<K>) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    let mut generations: std::collections::HashMap<(Option<String>, String), Option<i64>> =
        std::collections::HashMap::new();
    watcher(api, watcher::Config::default())
        .default_backoff()
        .try_filter_map(move |event| {
            let changed = match event {
                watcher::Event::Apply(object) | watcher::Event::InitApply(object) => {
                    let key = (object.namespace(), object.name_any());
                    let generation = object.meta().generation;
                    (generations.insert(key, generation) != Some(generation)).then_some(object)
                }
                watcher::Event::Delete(object) => {
                    generations.remove(&(object.namespace(), object.name_any()));
                    Some(object)
                }
                watcher::Event::Init | watcher::Event::InitDone => None,
            };
            futures::future::ready(Ok(changed))
        })
}

async fn until_true(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|value| *value).await;
}

async fn run_sites(
    context: Arc<Context>,
    config: kube::runtime::controller::Config,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = context.client.clone();
    let (reader, writer) = reflector::store::<Site>();
    // Spec changes, deletion and the finalizer (added before the first probe) start a
    // reconcile: the controller's own status writes must not, and the probe interval brings
    // each site back anyway.
    let sites = watcher(Api::<Site>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(
            predicates::generation
                .combine(being_deleted)
                .combine(predicates::finalizers),
            Default::default(),
        );
    let secrets = watcher(
        Api::<Secret>::namespaced(client, &context.settings.site_secrets_namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();
    let site_store = reader.clone();
    Controller::for_stream(sites, reader)
        .with_config(config)
        // A changed kubeconfig Secret re-probes the sites that use it at once.
        .watches_stream(secrets, move |secret| {
            let name = secret.name_any();
            site_store
                .state()
                .into_iter()
                .filter(|site| {
                    site.spec
                        .connection
                        .as_ref()
                        .is_some_and(|connection| connection.secret_name == name)
                })
                .map(|site| ObjectRef::from_obj(&*site))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(shutdown)
        .run(
            |site, context| instrumented("site", context.clone(), site::reconcile(site, context)),
            error_policy::<Site>,
            context.clone(),
        )
        .for_each(|_| async {})
        .await;
}

async fn run_tenants(
    context: Arc<Context>,
    config: kube::runtime::controller::Config,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = context.client.clone();
    let (reader, writer) = reflector::store::<Tenant>();
    // Spec changes and deletion start a reconcile; status and finalizer writes do not (the
    // reconcile that adds the finalizer provisions in the same pass).
    let tenants = watcher(
        Api::<Tenant>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(writer)
    .applied_objects()
    .predicate_filter(
        predicates::generation.combine(being_deleted),
        Default::default(),
    );
    // Sites and classifications decide where tenants go: a spec change to either revisits every
    // tenant (status-only changes are filtered out, so probes do not).
    let sites = spec_changes(Api::<Site>::all(client.clone()));
    let classifications = spec_changes(Api::<DataClassification>::all(client));
    let mut controller = Controller::for_stream(tenants, reader.clone()).with_config(config);
    // Tenants found missing objects on a site (see `drift`) are reconciled again.
    if let Some(repairs) = context.take_repair_requests() {
        controller = controller.reconcile_on(tokio_stream_from(repairs));
    }
    controller
        .watches_stream(sites, every_object(reader.clone()))
        .watches_stream(classifications, every_object(reader.clone()))
        .graceful_shutdown_on(shutdown)
        .run(
            |tenant, context| {
                instrumented(
                    "tenant",
                    context.clone(),
                    tenant::reconcile(tenant, context),
                )
            },
            error_policy::<Tenant>,
            context,
        )
        .for_each(|_| async {})
        .await;
}

async fn run_residency(
    context: Arc<Context>,
    config: kube::runtime::controller::Config,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = context.client.clone();
    let (reader, writer) = reflector::store::<Site>();
    // A site's facts (spec) and any classification change recompile its policies; its status
    // (written by the probes and by this controller) does not.
    let sites = watcher(Api::<Site>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(predicates::generation, Default::default());
    let classifications = spec_changes(Api::<DataClassification>::all(client));
    let mut controller = Controller::for_stream(sites, reader.clone()).with_config(config);
    // A policy or binding changed or deleted on a member brings its site back at once.
    if let Some(changes) = context.policy_watches.take_changes() {
        controller = controller.reconcile_on(tokio_stream_from(changes));
    }
    controller
        .watches_stream(classifications, every_object(reader))
        .graceful_shutdown_on(shutdown)
        .run(
            |site, context| {
                instrumented(
                    "residency",
                    context.clone(),
                    residency::reconcile(site, context),
                )
            },
            error_policy::<Site>,
            context,
        )
        .for_each(|_| async {})
        .await;
}

async fn run_workloads(
    context: Arc<Context>,
    config: kube::runtime::controller::Config,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = context.client.clone();
    let (reader, writer) = reflector::store::<Workload>();
    // Spec changes, deletion and the finalizer (added before the first placement) start a
    // reconcile; the controller's own status writes do not.
    let workloads = finalized_changes(Api::<Workload>::all(client.clone()), writer);
    // Any Site change, status included (a site going down starts the grace period), and spec
    // changes of the policy revisit every workload.
    let sites = watcher(Api::<Site>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .touched_objects();
    let classifications = spec_changes(Api::<DataClassification>::all(client.clone()));
    let rules = spec_changes(Api::<PlacementRule>::all(client.clone()));
    let tenants = spec_changes(Api::<Tenant>::all(client));
    Controller::for_stream(workloads, reader.clone())
        .with_config(config)
        .watches_stream(sites, every_object(reader.clone()))
        .watches_stream(classifications, every_object(reader.clone()))
        .watches_stream(rules, every_object(reader.clone()))
        .watches_stream(tenants, every_object(reader))
        .graceful_shutdown_on(shutdown)
        .run(
            |workload, context| {
                instrumented(
                    "workload",
                    context.clone(),
                    workload::reconcile(workload, context),
                )
            },
            error_policy::<Workload>,
            context,
        )
        .for_each(|_| async {})
        .await;
}

async fn run_exchanges(
    context: Arc<Context>,
    config: kube::runtime::controller::Config,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = context.client.clone();
    let (reader, writer) = reflector::store::<DataExchange>();
    // Spec changes, deletion and the finalizer start a reconcile; status writes do not.
    let exchanges = finalized_changes(Api::<DataExchange>::all(client.clone()), writer);
    // A Workload placed, moved or gone changes where its tenant's agreements open (status
    // included: placement is in the status); policy and tenancy changes may refuse them. The
    // stream fills its own store first, so the reconcile it triggers reads the change.
    let (placements, placements_writer) = reflector::store::<Workload>();
    let workloads = watcher(
        Api::<Workload>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(placements_writer)
    .touched_objects();
    let sites = spec_changes(Api::<Site>::all(client.clone()));
    let classifications = spec_changes(Api::<DataClassification>::all(client.clone()));
    let rules = spec_changes(Api::<PlacementRule>::all(client.clone()));
    let tenants = spec_changes(Api::<Tenant>::all(client));
    let involving = reader.clone();
    Controller::for_stream(exchanges, reader.clone())
        .with_config(config)
        .watches_stream(workloads, move |workload: Workload| {
            exchange::involving(&involving, &workload.spec.tenant)
        })
        .watches_stream(sites, every_object(reader.clone()))
        .watches_stream(classifications, every_object(reader.clone()))
        .watches_stream(rules, every_object(reader.clone()))
        .watches_stream(tenants, every_object(reader))
        .graceful_shutdown_on(shutdown)
        .run(
            move |agreement, context| {
                let placements = placements.clone();
                instrumented(
                    "exchange",
                    context.clone(),
                    exchange::reconcile(agreement, context, placements),
                )
            },
            error_policy::<DataExchange>,
            context,
        )
        .for_each(|_| async {})
        .await;
}

/// The objects of `api` (kept in `writer`'s store) whose spec, deletion or finalizers changed:
/// what starts a reconcile of a controller that works behind a finalizer (its own status writes
/// do not).
fn finalized_changes<K>(
    api: Api<K>,
    writer: Writer<K>,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(
            predicates::generation
                .combine(being_deleted)
                .combine(predicates::finalizers),
            Default::default(),
        )
}

/// Regenerates the SLO rules whenever a Site's or DataClassification's spec or any Workload or
/// Tenant changes (a burst of changes is one regeneration); a failed apply is retried after a delay
/// fitting its kind, or at the next change.
async fn run_slo(context: Arc<Context>, shutdown: impl Future<Output = ()> + Send + 'static) {
    let client = context.client.clone();
    // The rules read the store this stream fills, so a change is in the store before the
    // trigger it causes is seen (the shared cache is filled by another watch, which may lag).
    let (workloads, writer) = reflector::store::<Workload>();
    let last = Arc::new(slo::LastApplied::default());
    let workload_changes = watcher(
        Api::<Workload>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(writer)
    .map(|_| ())
    .boxed();
    // The Tenants decide which Workloads' objectives count (a Workload's tenant must hold its
    // namespace); their own store, for the same reason as the Workloads'.
    let (tenants, tenant_writer) = reflector::store::<Tenant>();
    let tenant_changes = watcher(
        Api::<Tenant>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(tenant_writer)
    .map(|_| ())
    .boxed();
    let site_changes = spec_changes(Api::<Site>::all(client.clone()))
        .map(|_| ())
        .boxed();
    let classification_changes = spec_changes(Api::<DataClassification>::all(client))
        .map(|_| ())
        .boxed();
    let mut triggers = futures::stream::select_all([
        workload_changes,
        tenant_changes,
        site_changes,
        classification_changes,
    ])
    .ready_chunks(1024);
    let mut next_look: Option<std::time::Duration> = None;
    tokio::pin!(shutdown);
    loop {
        let delay = next_look;
        let look_due = async move {
            match delay {
                Some(delay) => tokio::time::sleep(delay).await,
                None => futures::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut shutdown => return,
            batch = triggers.next() => if batch.is_none() { return },
            () = look_due => {}
        }
        // Rules written before every Workload is known would drop their objectives for a
        // moment. (Waiting here would stall: the store fills only while `triggers` is polled.)
        if workloads.wait_until_ready().now_or_never().is_none()
            || tenants.wait_until_ready().now_or_never().is_none()
        {
            continue;
        }
        let reconcile = slo::reconcile(
            context.clone(),
            workloads.clone(),
            tenants.clone(),
            last.clone(),
        );
        next_look = match instrumented("slo", context.clone(), reconcile).await {
            // Held rules are looked at again soon (the object in the way may go).
            Ok(_) if last.holding() => Some(slo::HELD_RETRY),
            // Looked at again now and then: the Prometheus Operator's API may come or go
            // without any object changing (nothing is written when nothing changed).
            Ok(_) => Some(slo::RESYNC),
            Err(error) => {
                let category = error.category();
                tracing::warn!(category = category.label(), %error, "could not apply the SLO rules; will retry");
                Some(category.retry_after())
            }
        };
    }
}

/// A trigger mapper that revisits every object in `store`, whatever changed.
fn every_object<K, T>(
    store: reflector::Store<K>,
) -> impl Fn(T) -> Vec<ObjectRef<K>> + Send + Sync + 'static
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    move |_| {
        store
            .state()
            .iter()
            .map(|object| ObjectRef::from_obj(&**object))
            .collect()
    }
}

fn tokio_stream_from<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |context| receiver.poll_recv(context))
}

/// Whether deletion has started; a change here must reach the finalizer.
fn being_deleted<K: Resource>(object: &K) -> Option<u64> {
    Some(u64::from(object.meta().deletion_timestamp.is_some()))
}

/// Counts and times a reconcile by controller and result.
async fn instrumented(
    controller: &'static str,
    context: Arc<Context>,
    reconcile: impl Future<Output = Result<Action, Error>>,
) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile.await;
    let metrics = &context.metrics;
    metrics
        .reconcile_duration
        .with_label_values(&[controller])
        .observe(started.elapsed().as_secs_f64());
    let outcome = match &result {
        Ok(_) => "success",
        Err(error) => {
            metrics
                .reconcile_errors
                .with_label_values(&[controller, error.category().label()])
                .inc();
            "error"
        }
    };
    metrics
        .reconciles
        .with_label_values(&[controller, outcome])
        .inc();
    result
}

fn error_policy<K: Resource<DynamicType = ()>>(
    object: Arc<K>,
    error: &Error,
    _context: Arc<Context>,
) -> Action {
    let category = error.category();
    tracing::warn!(
        kind = %K::kind(&()),
        name = %object.meta().name.clone().unwrap_or_default(),
        category = category.label(),
        %error,
        "reconcile failed; will retry",
    );
    Action::requeue(category.retry_after())
}
