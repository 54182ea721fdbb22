//! The Workload controller: decides where each Workload runs with the placement engine, puts its
//! Deployment and Service there (labelled with its classification, so each site's admission
//! policies check it), follows the rollout, and moves it when a site stays down longer than the
//! grace period or a policy change makes a site ineligible — only ever to eligible sites. The
//! decision, the per-site rollout and the phase are in the Workload's status.

mod apply;
mod decide;
mod report;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::Event as FinalizerEvent;
use kube::{Api, ResourceExt};
use soberana_core::placement::{Decision, Objects, Snapshot, evaluate};
use soberana_core::propagation::{member_namespace, member_objects, replace};
use soberana_core::resources::site::Site;
use soberana_core::resources::workload::{Workload, WorkloadStatus};

use super::finalized::finalized;
use crate::members::workload_sites::FIELD_MANAGER;
use crate::runtime::caches::cached;
use crate::runtime::context::Context;
use crate::runtime::error::Error;
use crate::runtime::events::publish;
use crate::runtime::status_writer::write_namespaced_status;
use apply::{apply_to_sites, leave};
use decide::{consequences, invalid, requeue_after, site_health, status_of};
use report::{record_decisions, record_metrics};

/// Removes the workload's copies from member sites before the Workload goes.
pub const FINALIZER: &str = "soberana.io/workload-cleanup";

/// Places, applies and watches one Workload; cleans its sites up when it is deleted.
pub async fn reconcile(workload: Arc<Workload>, context: Arc<Context>) -> Result<Action, Error> {
    let namespace = workload.namespace().unwrap_or_default();
    let api: Api<Workload> = Api::namespaced(context.client.clone(), &namespace);
    finalized(&api, FINALIZER, workload, |event| async {
        match event {
            FinalizerEvent::Apply(workload) => place(&workload, &context).await,
            FinalizerEvent::Cleanup(workload) => clean_up(&workload, &context).await,
        }
    })
    .await
}

/// What one pass found, before it is written.
struct Outcome {
    pub status: WorkloadStatus,
    pub requeue: Duration,
    pub events: Vec<(EventType, &'static str, String)>,
}

async fn place(workload: &Workload, context: &Context) -> Result<Action, Error> {
    let outcome = match decide_and_apply(workload, context).await {
        Ok(outcome) => outcome,
        Err(problem) => invalid(workload, &problem.to_string()),
    };
    let previous = workload.status.clone().unwrap_or_default();
    for (type_, reason, note) in &outcome.events {
        publish(context, workload, *type_, reason, "Place", note.clone()).await;
    }
    record_decisions(context, workload, &outcome).await;
    record_metrics(context, workload, &previous, &outcome.status);
    if outcome.status != previous {
        write_namespaced_status::<Workload, _>(
            &context.client,
            &workload.namespace().unwrap_or_default(),
            &workload.name_any(),
            &outcome.status,
            FIELD_MANAGER,
        )
        .await?;
    }
    Ok(Action::requeue(outcome.requeue))
}

/// Why a Workload cannot be acted on as written: reported on it (`Placed=False`, `Invalid`),
/// not retried until it changes.
#[derive(Debug, thiserror::Error)]
enum Invalid {
    #[error("spec.tenant {0:?} is not a known Tenant")]
    UnknownTenant(String),
    #[error(transparent)]
    TemplateTooLarge(#[from] soberana_core::resources::workload::TemplateTooLarge),
    #[error(transparent)]
    MemberObjects(#[from] soberana_core::propagation::MemberObjectError),
    #[error(transparent)]
    Snapshot(#[from] soberana_core::placement::SnapshotError),
    #[error(transparent)]
    Evaluation(#[from] soberana_core::placement::EvaluationError),
}

/// What a reconcile starts from: the workload's namespace and objects on members, the sites,
/// and the engine's decision.
struct Observed {
    namespace: String,
    objects: Vec<serde_json::Value>,
    sites: Vec<Site>,
    decision: Decision,
}

/// Observe: the cached objects, the member namespace and objects, and the engine's decision.
fn observe(workload: &Workload, context: &Context) -> Result<Observed, Invalid> {
    let spec = &workload.spec;
    // Before anything reads the template: the cache keeps none over the limit.
    spec.template_within_limit()?;
    let tenants = cached(context.caches.tenants.store());
    let tenant = tenants
        .iter()
        .find(|tenant| tenant.name_any() == spec.tenant)
        .ok_or_else(|| Invalid::UnknownTenant(spec.tenant.clone()))?;
    let namespace = member_namespace(workload, &tenant.spec)?;
    let objects = member_objects(workload, &namespace)?;
    let sites = cached(context.caches.sites.store());
    let snapshot = Snapshot::new(Objects {
        sites: &sites,
        classifications: &cached(context.caches.classifications.store()),
        rules: &cached(context.caches.rules.store()),
        tenants: &tenants,
        ..Objects::default()
    })?;
    let decision = evaluate(&snapshot, workload)?;
    Ok(Observed {
        namespace,
        objects,
        sites,
        decision,
    })
}

/// Observe → decide (pure: which sites, which Events, the failover record) → apply (each
/// target site, and leaving old ones) → report (the status).
async fn decide_and_apply(workload: &Workload, context: &Context) -> Result<Outcome, Invalid> {
    let Observed {
        namespace,
        objects,
        sites,
        decision,
    } = observe(workload, context)?;
    let spec = &workload.spec;
    let previous = workload.status.clone().unwrap_or_default();
    let grace = spec.failover.grace_period_seconds;
    let now = Timestamp::now();
    let health = |site: &str| site_health(&sites, site, grace, now);
    let replacement = replace(&previous.chosen_sites, &decision, grace, health);
    let (events, last_failover) = consequences(&previous, &decision, &replacement, now);
    let target: Vec<String> = replacement.sites().to_vec();
    let entries = apply_to_sites(
        context,
        workload,
        &sites,
        &previous,
        &target,
        last_failover.as_ref(),
        (&namespace, &objects),
        health,
    )
    .await;
    let status = status_of(
        workload,
        &previous,
        &decision,
        &replacement,
        entries,
        last_failover,
        &objects,
    );
    let requeue = requeue_after(
        &status,
        &target,
        &sites,
        grace,
        now,
        context.settings.probe_interval,
    );
    Ok(Outcome {
        status,
        requeue,
        events,
    })
}

/// Removes the workload from every site it was applied on. A site that does not answer keeps
/// its copy (with a Warning Event) rather than blocking the deletion.
async fn clean_up(workload: &Workload, context: &Context) -> Result<Action, Error> {
    let status = workload.status.clone().unwrap_or_default();
    let namespace = workload.namespace().unwrap_or_default();
    let name = workload.name_any();
    let sites = cached(context.caches.sites.store());
    for entry in &status.sites {
        if let Some(left) = leave(context, &sites, &entry.site, &namespace, &name).await {
            let note = format!(
                "the copy on site {} was left in place: {}",
                entry.site,
                left.message.unwrap_or_default()
            );
            publish(
                context,
                workload,
                EventType::Warning,
                "CopyLeft",
                "Delete",
                note,
            )
            .await;
        }
    }
    let tenant = workload.spec.tenant.as_str();
    let full_name = format!("{namespace}/{name}");
    record_metrics(context, workload, &status, &WorkloadStatus::default());
    let _ = context
        .metrics
        .workload_stranded
        .remove_label_values(&[tenant, &full_name]);
    let _ = context
        .metrics
        .workload_unplaceable
        .remove_label_values(&[tenant, &full_name]);
    let _ = context
        .metrics
        .workload_availability_target
        .remove_label_values(&[tenant, &full_name]);
    Ok(Action::await_change())
}
