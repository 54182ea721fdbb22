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

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef};
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
use crate::runtime::shared_watch::follow;

/// Runs the Site, Tenant, residency, Workload and DataExchange controllers until `shutdown` turns
/// true; in-flight reconciles finish first.
///
/// `writers` fill `context.caches` from one watch per kind, in tasks of their own, and the
/// controllers start once every cache holds its first list. Every controller reconciles objects
/// from those shared stores and is started by their change feeds, so each object is in memory
/// once. (The feeds never wait on a slow controller, so a reconcile never waits on a store.)
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
        follow(
            Api::<Site>::all(client.clone()),
            sites,
            until_true(shutdown.clone()),
        ),
        follow(
            Api::<Tenant>::all(client.clone()),
            tenants,
            until_true(shutdown.clone()),
        ),
        follow(
            Api::<DataClassification>::all(client.clone()),
            classifications,
            until_true(shutdown.clone()),
        ),
        follow(
            Api::<PlacementRule>::all(client.clone()),
            rules,
            until_true(shutdown.clone()),
        ),
        follow(
            Api::<Workload>::all(client.clone()),
            workloads,
            until_true(shutdown.clone()),
        ),
        follow(
            Api::<Secret>::namespaced(client, &context.settings.site_secrets_namespace),
            secrets,
            until_true(shutdown.clone()),
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

async fn until_true(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|value| *value).await;
}

async fn run_sites(
    context: Arc<Context>,
    config: kube::runtime::controller::Config,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let caches = &context.caches;
    // Spec changes, deletion and the finalizer (added before the first probe) start a
    // reconcile: the controller's own status writes must not, and the probe interval brings
    // each site back anyway.
    let sites = caches.sites.applied_changes(
        predicates::generation
            .combine(being_deleted)
            .combine(predicates::finalizers),
    );
    let site_store = caches.sites.store().clone();
    Controller::for_shared_stream(sites, caches.sites.store().clone())
        .with_config(config)
        // A changed kubeconfig Secret re-probes the sites that use it at once.
        .watches_shared_stream(caches.secrets.any_change(), move |secret| {
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
    let caches = &context.caches;
    let reader = caches.tenants.store().clone();
    // Spec changes and deletion start a reconcile; status and finalizer writes do not (the
    // reconcile that adds the finalizer provisions in the same pass).
    let tenants = caches
        .tenants
        .applied_changes(predicates::generation.combine(being_deleted));
    let mut controller = Controller::for_shared_stream(tenants, reader.clone()).with_config(config);
    // Tenants found missing objects on a site (see `drift`) are reconciled again.
    if let Some(repairs) = context.take_repair_requests() {
        controller = controller.reconcile_on(tokio_stream_from(repairs));
    }
    // Sites and classifications decide where tenants go: a spec change to either revisits every
    // tenant (status-only changes are filtered out, so probes do not).
    controller
        .watches_shared_stream(
            caches.sites.triggers(predicates::generation),
            every_object(reader.clone()),
        )
        .watches_shared_stream(
            caches.classifications.triggers(predicates::generation),
            every_object(reader),
        )
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
            context.clone(),
        )
        .for_each(|_| async {})
        .await;
}

async fn run_residency(
    context: Arc<Context>,
    config: kube::runtime::controller::Config,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let caches = &context.caches;
    let reader = caches.sites.store().clone();
    // A site's facts (spec) and any classification change recompile its policies; its status
    // (written by the probes and by this controller) does not.
    let sites = caches.sites.applied_changes(predicates::generation);
    let mut controller = Controller::for_shared_stream(sites, reader.clone()).with_config(config);
    // A policy or binding changed or deleted on a member brings its site back at once.
    if let Some(changes) = context.policy_watches.take_changes() {
        controller = controller.reconcile_on(tokio_stream_from(changes));
    }
    controller
        .watches_shared_stream(
            caches.classifications.triggers(predicates::generation),
            every_object(reader),
        )
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
            context.clone(),
        )
        .for_each(|_| async {})
        .await;
}

async fn run_workloads(
    context: Arc<Context>,
    config: kube::runtime::controller::Config,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let caches = &context.caches;
    let reader = caches.workloads.store().clone();
    // Spec changes, deletion and the finalizer (added before the first placement) start a
    // reconcile; the controller's own status writes do not.
    let workloads = caches.workloads.applied_changes(
        predicates::generation
            .combine(being_deleted)
            .combine(predicates::finalizers),
    );
    // Any Site change, status included (a site going down starts the grace period), and spec
    // changes of the policy revisit every workload.
    Controller::for_shared_stream(workloads, reader.clone())
        .with_config(config)
        .watches_shared_stream(caches.sites.any_change(), every_object(reader.clone()))
        .watches_shared_stream(
            caches.classifications.triggers(predicates::generation),
            every_object(reader.clone()),
        )
        .watches_shared_stream(
            caches.rules.triggers(predicates::generation),
            every_object(reader.clone()),
        )
        .watches_shared_stream(
            caches.tenants.triggers(predicates::generation),
            every_object(reader),
        )
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
            context.clone(),
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
    let caches = &context.caches;
    // Agreements are read by this controller only: its own store.
    let (reader, writer) = reflector::store::<DataExchange>();
    // Spec changes, deletion and the finalizer start a reconcile; status writes do not.
    let exchanges = watcher(Api::<DataExchange>::all(client), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(
            predicates::generation
                .combine(being_deleted)
                .combine(predicates::finalizers),
            Default::default(),
        );
    // A Workload placed, moved or gone changes where its tenant's agreements open (status
    // included: placement is in the status); policy and tenancy changes may refuse them. The
    // feed tells of a change once it is in the store, so the reconcile it starts reads it.
    let involving = reader.clone();
    Controller::for_stream(exchanges, reader.clone())
        .with_config(config)
        .watches_shared_stream(caches.workloads.any_change(), move |workload| {
            exchange::involving(&involving, &workload.spec.tenant)
        })
        .watches_shared_stream(
            caches.sites.triggers(predicates::generation),
            every_object(reader.clone()),
        )
        .watches_shared_stream(
            caches.classifications.triggers(predicates::generation),
            every_object(reader.clone()),
        )
        .watches_shared_stream(
            caches.rules.triggers(predicates::generation),
            every_object(reader.clone()),
        )
        .watches_shared_stream(
            caches.tenants.triggers(predicates::generation),
            every_object(reader),
        )
        .graceful_shutdown_on(shutdown)
        .run(
            |agreement, context| {
                instrumented(
                    "exchange",
                    context.clone(),
                    exchange::reconcile(agreement, context),
                )
            },
            error_policy::<DataExchange>,
            context.clone(),
        )
        .for_each(|_| async {})
        .await;
}

/// Regenerates the SLO rules whenever a Site's or DataClassification's spec or any Workload or
/// Tenant changes (a burst of changes is one regeneration); a failed apply is retried after a delay
/// fitting its kind, or at the next change.
async fn run_slo(context: Arc<Context>, shutdown: impl Future<Output = ()> + Send + 'static) {
    let caches = &context.caches;
    let last = Arc::new(slo::LastApplied::default());
    // The feeds tell of a change once it is in the store the rules are read from.
    let mut triggers = futures::stream::select_all([
        caches.workloads.any_change().map(|_| ()).boxed(),
        caches.tenants.any_change().map(|_| ()).boxed(),
        caches
            .sites
            .triggers(predicates::generation)
            .map(|_| ())
            .boxed(),
        caches
            .classifications
            .triggers(predicates::generation)
            .map(|_| ())
            .boxed(),
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
        let reconcile = slo::reconcile(context.clone(), last.clone());
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
