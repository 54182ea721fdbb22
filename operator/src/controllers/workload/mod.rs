//! The Workload controller: decides where each Workload runs with the placement engine, puts its
//! Deployment and Service there (labelled with its classification, so each site's admission
//! policies check it), follows the rollout, and moves it when a site stays down longer than the
//! grace period or a policy change makes a site ineligible — only ever to eligible sites. The
//! decision, the per-site rollout and the phase are in the Workload's status.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Api, ResourceExt};
use soberana_core::placement::{Decision, Objects, Snapshot, evaluate};
use soberana_core::propagation::{
    Replacement, SiteHealth, member_namespace, member_objects, replace,
};
use soberana_core::resources::availability::Availability;
use soberana_core::resources::site::Site;
use soberana_core::resources::workload::{
    FailoverRecord, StaleCopies, Workload, WorkloadPhase, WorkloadSiteState, WorkloadSiteStatus,
    WorkloadStatus,
};

use crate::conditions::ConditionType;
use crate::conditions::{bounded_message, condition};
use crate::members::workload_sites::{
    FIELD_MANAGER, apply_objects, remove_objects, rollout, up_to_date,
};
use crate::runtime::caches::cached;
use crate::runtime::context::Context;
use crate::runtime::error::Error;
use crate::runtime::events::publish;
use crate::runtime::status_writer::write_namespaced_status;

/// Removes the workload's copies from member sites before the Workload goes.
pub const FINALIZER: &str = "soberana.io/workload-cleanup";
/// Reasons kept per rejected site in the status.
const REASONS_PER_SITE: usize = 10;
/// How often a workload still rolling out is looked at again.
const ROLLOUT_POLL: Duration = Duration::from_secs(5);

/// Places, applies and watches one Workload; cleans its sites up when it is deleted.
pub async fn reconcile(workload: Arc<Workload>, context: Arc<Context>) -> Result<Action, Error> {
    let namespace = workload.namespace().unwrap_or_default();
    let api: Api<Workload> = Api::namespaced(context.client.clone(), &namespace);
    let object = format!("Workload {namespace}/{}", workload.name_any());
    finalizer(&api, FINALIZER, workload, |event| async {
        match event {
            FinalizerEvent::Apply(workload) => place(&workload, &context).await,
            FinalizerEvent::Cleanup(workload) => clean_up(&workload, &context).await,
        }
    })
    .await
    .map_err(|error| match error {
        kube::runtime::finalizer::Error::ApplyFailed(error)
        | kube::runtime::finalizer::Error::CleanupFailed(error) => error,
        other => Error::Finalizer {
            object,
            message: other.to_string(),
        },
    })
}

/// What one pass found, before it is written.
struct Outcome {
    status: WorkloadStatus,
    requeue: Duration,
    events: Vec<(EventType, &'static str, String)>,
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

/// Appends each placement decision of this pass (placed, moved, failed over, stranded,
/// unplaceable) to the decision ledger, when the operator has one. A ledger that does not answer
/// is logged, not fatal: the decision is in the status and Events anyway.
async fn record_decisions(context: &Context, workload: &Workload, outcome: &Outcome) {
    let Some(ledger) = &context.ledger else {
        return;
    };
    const DECISIONS: [&str; 5] = ["Placed", "FailedOver", "Moved", "Stranded", "Unplaceable"];
    let subject = format!(
        "{}/{}",
        workload.namespace().unwrap_or_default(),
        workload.name_any()
    );
    for (_, reason, note) in outcome
        .events
        .iter()
        .filter(|(_, reason, _)| DECISIONS.contains(reason))
    {
        let payload = serde_json::json!({
            "decision": reason,
            "note": note,
            "chosenSites": outcome.status.chosen_sites,
            "classification": workload.spec.classification,
        });
        let record = soberana_core::ledger::NewRecord {
            kind: soberana_core::ledger::RecordKind::Placement,
            time: Timestamp::now().to_string(),
            actor: "soberana-operator".to_owned(),
            subject: subject.clone(),
            payload_json: payload.to_string(),
        };
        if let Err(error) = ledger.append(record).await {
            tracing::warn!(workload = %subject, %error, "could not append the decision to the ledger");
        }
    }
}

/// A Workload that cannot be placed as written: `Pending` with the problem, until it changes.
fn invalid(workload: &Workload, problem: &str) -> Outcome {
    let previous = workload.status.clone().unwrap_or_default();
    let generation = workload.metadata.generation;
    let placed = condition(
        &previous.conditions,
        ConditionType::Placed,
        false,
        "Invalid",
        problem,
        generation,
    );
    let mut events = Vec::new();
    if previous
        .conditions
        .iter()
        .all(|existing| !ConditionType::Placed.is(existing) || existing.message != problem)
    {
        events.push((EventType::Warning, "Invalid", problem.to_owned()));
    }
    Outcome {
        status: WorkloadStatus {
            conditions: vec![placed],
            observed_generation: generation,
            phase: Some(WorkloadPhase::Pending),
            ..previous
        },
        requeue: Duration::from_secs(300),
        events,
    }
}

/// Why a Workload cannot be acted on as written: reported on it (`Placed=False`, `Invalid`),
/// not retried until it changes.
#[derive(Debug, thiserror::Error)]
enum Invalid {
    #[error("spec.tenant {0:?} is not a known Tenant")]
    UnknownTenant(String),
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
    let tenants = cached(&context.caches.tenants);
    let tenant = tenants
        .iter()
        .find(|tenant| tenant.name_any() == spec.tenant)
        .ok_or_else(|| Invalid::UnknownTenant(spec.tenant.clone()))?;
    let namespace = member_namespace(workload, &tenant.spec)?;
    let objects = member_objects(workload, &namespace)?;
    let sites = cached(&context.caches.sites);
    let snapshot = Snapshot::new(Objects {
        sites: &sites,
        classifications: &cached(&context.caches.classifications),
        rules: &cached(&context.caches.rules),
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
    let requeue = requeue_after(&status, &target, &sites, grace, now, context);
    Ok(Outcome {
        status,
        requeue,
        events,
    })
}

/// The Events a replacement calls for and the failover record it leaves (the previous one
/// unless it failed over now). Pure: an Event for a stranded or unplaceable workload is sent
/// once, not on every reconcile.
fn consequences(
    previous: &WorkloadStatus,
    decision: &Decision,
    replacement: &Replacement,
    now: Timestamp,
) -> (
    Vec<(EventType, &'static str, String)>,
    Option<FailoverRecord>,
) {
    let mut events = Vec::new();
    let mut last_failover = previous.last_failover.clone();
    match replacement {
        Replacement::Place { sites } => events.push((
            EventType::Normal,
            "Placed",
            format!("placed on {}", sites.join(", ")),
        )),
        Replacement::FailOver { from, to, reason } => {
            events.push((
                EventType::Warning,
                "FailedOver",
                format!(
                    "moved from {} to {}: {reason}",
                    from.join(", "),
                    to.join(", ")
                ),
            ));
            last_failover = Some(FailoverRecord {
                from: from.clone(),
                to: to.clone(),
                reason: reason.clone(),
                time: Time(now),
            });
        }
        Replacement::Move { from, to, reason } => events.push((
            EventType::Normal,
            "Moved",
            format!(
                "moved from {} to {}: {reason}",
                from.join(", "),
                to.join(", ")
            ),
        )),
        Replacement::Stranded { reason, .. } => {
            let already = previous.conditions.iter().any(|existing| {
                ConditionType::Degraded.is(existing)
                    && existing.status == "True"
                    && existing.message == *reason
            });
            if !already {
                events.push((EventType::Warning, "Stranded", reason.clone()));
            }
        }
        Replacement::Unplaceable => {
            if previous.phase != Some(WorkloadPhase::Unplaceable) {
                let message = decision
                    .unplaceable
                    .as_ref()
                    .map_or_else(String::new, |unplaceable| unplaceable.message.clone());
                events.push((EventType::Warning, "Unplaceable", message));
            }
        }
        Replacement::Keep { .. } => {}
    }
    (events, last_failover)
}

/// Apply: the copies on each target site, and what becomes of copies elsewhere (kept after a
/// failover when asked, else removed), sorted by site.
#[allow(
    clippy::too_many_arguments,
    reason = "the reconcile's observed facts, passed rather than re-read"
)]
async fn apply_to_sites(
    context: &Context,
    workload: &Workload,
    sites: &[Site],
    previous: &WorkloadStatus,
    target: &[String],
    last_failover: Option<&FailoverRecord>,
    (namespace, objects): (&str, &[serde_json::Value]),
    health: impl Fn(&str) -> SiteHealth,
) -> Vec<WorkloadSiteStatus> {
    let name = workload.name_any();
    let mut entries = Vec::new();
    for site_name in target {
        entries.push(
            run_on(
                context,
                sites,
                site_name,
                namespace,
                &name,
                objects,
                health(site_name),
            )
            .await,
        );
    }
    let kept_after_failover: BTreeSet<&String> =
        match (&workload.spec.failover.stale_copies, last_failover) {
            (StaleCopies::Keep, Some(record)) => record.from.iter().collect(),
            _ => BTreeSet::new(),
        };
    for old in &previous.sites {
        if target.contains(&old.site) {
            continue;
        }
        if kept_after_failover.contains(&old.site) {
            entries.push(stale(
                &old.site,
                "kept after failover (spec.failover.staleCopies: Keep)",
            ));
            continue;
        }
        if let Some(entry) = leave(context, sites, &old.site, namespace, &name).await {
            entries.push(entry);
        }
    }
    entries.sort_by(|left, right| left.site.cmp(&right.site));
    entries
}

/// The workload on a target site: applied if the site answers, with its rollout.
async fn run_on(
    context: &Context,
    sites: &[Site],
    site_name: &str,
    namespace: &str,
    name: &str,
    objects: &[serde_json::Value],
    health: SiteHealth,
) -> WorkloadSiteStatus {
    let entry = |state: WorkloadSiteState,
                 rollout: crate::members::workload_sites::Rollout,
                 message: Option<String>| {
        WorkloadSiteStatus {
            site: site_name.to_owned(),
            state,
            desired_replicas: rollout.desired,
            available_replicas: rollout.available,
            // Messages may quote a member API server's answer.
            message: message.map(|text| bounded_message(&text)),
        }
    };
    if objects.is_empty() {
        return entry(
            WorkloadSiteState::Placed,
            Default::default(),
            Some("the Workload has no template: nothing to deploy".to_owned()),
        );
    }
    let Some(site) = sites.iter().find(|site| site.name_any() == site_name) else {
        return entry(
            WorkloadSiteState::Unreachable,
            Default::default(),
            Some("the Site no longer exists".to_owned()),
        );
    };
    if health != SiteHealth::Ready {
        return entry(
            WorkloadSiteState::Unreachable,
            Default::default(),
            Some(format!("site {site_name} is not Ready")),
        );
    }
    let client = match context.connections.client(site, &context.metrics).await {
        Ok(client) => client,
        Err(error) => {
            return entry(
                WorkloadSiteState::Unreachable,
                Default::default(),
                Some(error.0),
            );
        }
    };
    // Applied only when the copy differs: a running workload costs reads, not writes.
    let current = up_to_date(&client, objects).await.unwrap_or(false);
    if !current && let Err(error) = apply_objects(&client, site_name, objects).await {
        return entry(
            WorkloadSiteState::Failed,
            Default::default(),
            Some(error.to_string()),
        );
    }
    match rollout(&client, site_name, namespace, name).await {
        Ok(Some(found)) if found.available >= found.desired => {
            entry(WorkloadSiteState::Running, found, None)
        }
        Ok(Some(found)) => entry(
            WorkloadSiteState::Deploying,
            found,
            Some(format!(
                "{} of {} replicas available",
                found.available, found.desired
            )),
        ),
        Ok(None) => entry(
            WorkloadSiteState::Deploying,
            Default::default(),
            Some("the Deployment is not there yet".to_owned()),
        ),
        Err(error) => entry(
            WorkloadSiteState::Unreachable,
            Default::default(),
            Some(error.to_string()),
        ),
    }
}

/// Removes the workload from a site it left; the entry stays (as `Stale`) until that worked.
async fn leave(
    context: &Context,
    sites: &[Site],
    site_name: &str,
    namespace: &str,
    name: &str,
) -> Option<WorkloadSiteStatus> {
    let site = sites.iter().find(|site| site.name_any() == site_name)?;
    let client = match context.connections.client(site, &context.metrics).await {
        Ok(client) => client,
        Err(error) => return Some(stale(site_name, &format!("removal waits: {}", error.0))),
    };
    match remove_objects(&client, site_name, namespace, name).await {
        Ok(()) => None,
        Err(error) => Some(stale(
            site_name,
            &format!("removal waits for the site: {error}"),
        )),
    }
}

fn stale(site: &str, message: &str) -> WorkloadSiteStatus {
    WorkloadSiteStatus {
        site: site.to_owned(),
        state: WorkloadSiteState::Stale,
        desired_replicas: 0,
        available_replicas: 0,
        message: Some(bounded_message(message)),
    }
}

/// A site's health as the Site controller last saw it, against the workload's grace period.
fn site_health(sites: &[Site], name: &str, grace_seconds: u32, now: Timestamp) -> SiteHealth {
    let Some(ready) = sites
        .iter()
        .find(|site| site.name_any() == name)
        .and_then(|site| site.status.as_ref())
        .and_then(|status| {
            status
                .conditions
                .iter()
                .find(|condition| ConditionType::Ready.is(condition))
        })
    else {
        return SiteHealth::Ready;
    };
    if ready.status == "True" {
        return SiteHealth::Ready;
    }
    let down_for = now.duration_since(ready.last_transition_time.0);
    if down_for.as_secs() >= i64::from(grace_seconds) {
        SiteHealth::DownBeyondGrace
    } else {
        SiteHealth::DownWithinGrace
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "one status from everything the pass found"
)]
fn status_of(
    workload: &Workload,
    previous: &WorkloadStatus,
    decision: &Decision,
    replacement: &Replacement,
    sites: Vec<WorkloadSiteStatus>,
    last_failover: Option<FailoverRecord>,
    objects: &[serde_json::Value],
) -> WorkloadStatus {
    let generation = workload.metadata.generation;
    let existing = &previous.conditions;
    let target = replacement.sites();
    let running = sites
        .iter()
        .filter(|entry| target.contains(&entry.site))
        .all(|entry| entry.state == WorkloadSiteState::Running);
    let failing_over = last_failover
        .as_ref()
        .is_some_and(|record| record.to.iter().any(|site| target.contains(site)))
        && (matches!(replacement, Replacement::FailOver { .. })
            || previous.phase == Some(WorkloadPhase::FailingOver));
    let phase = match replacement {
        Replacement::Unplaceable => WorkloadPhase::Unplaceable,
        _ if objects.is_empty() => WorkloadPhase::Placed,
        _ if running && !target.is_empty() => WorkloadPhase::Running,
        _ if failing_over => WorkloadPhase::FailingOver,
        _ => WorkloadPhase::Deploying,
    };
    let placed = match replacement {
        Replacement::Unplaceable => condition(
            existing,
            ConditionType::Placed,
            false,
            decision
                .unplaceable
                .as_ref()
                .map_or("Unplaceable", |unplaceable| unplaceable.code.as_str()),
            decision
                .unplaceable
                .as_ref()
                .map_or_else(String::new, |unplaceable| {
                    format!(
                        "{}; see status.decision.rejected for every site's reasons",
                        unplaceable.message
                    )
                }),
            generation,
        ),
        _ => condition(
            existing,
            ConditionType::Placed,
            true,
            "Placed",
            format!("runs on {}", target.join(", ")),
            generation,
        ),
    };
    let unhealthy: Vec<String> = sites
        .iter()
        .filter(|entry| {
            target.contains(&entry.site)
                && ![
                    WorkloadSiteState::Running,
                    WorkloadSiteState::Deploying,
                    WorkloadSiteState::Placed,
                ]
                .contains(&entry.state)
        })
        .map(|entry| {
            format!(
                "{}: {}",
                entry.site,
                entry
                    .message
                    .clone()
                    .unwrap_or_else(|| entry.state.as_str().to_owned())
            )
        })
        .collect();
    let degraded = match replacement {
        Replacement::Stranded { reason, .. } => condition(
            existing,
            ConditionType::Degraded,
            true,
            "Stranded",
            reason.clone(),
            generation,
        ),
        _ if !unhealthy.is_empty() => condition(
            existing,
            ConditionType::Degraded,
            true,
            "SiteUnavailable",
            unhealthy.join("; "),
            generation,
        ),
        _ => condition(
            existing,
            ConditionType::Degraded,
            false,
            "AllSitesServing",
            "every chosen site serves the workload",
            generation,
        ),
    };
    let ready = if phase == WorkloadPhase::Running {
        condition(
            existing,
            ConditionType::Ready,
            true,
            "Running",
            "every replica is available on every chosen site",
            generation,
        )
    } else {
        condition(
            existing,
            ConditionType::Ready,
            false,
            phase_name(phase),
            format!("phase {}", phase_name(phase)),
            generation,
        )
    };
    WorkloadStatus {
        conditions: vec![ready, placed, degraded],
        observed_generation: generation,
        phase: Some(phase),
        chosen_sites: target.to_vec(),
        decision: Some(decision.bounded(REASONS_PER_SITE)),
        sites,
        last_failover,
    }
}

fn phase_name(phase: WorkloadPhase) -> &'static str {
    match phase {
        WorkloadPhase::Pending => "Pending",
        WorkloadPhase::Placed => "Placed",
        WorkloadPhase::Deploying => "Deploying",
        WorkloadPhase::Running => "Running",
        WorkloadPhase::Unplaceable => "Unplaceable",
        WorkloadPhase::FailingOver => "FailingOver",
    }
}

/// Soon while a chosen site is down within its grace period (to fail over on time) or the
/// rollout is under way; at the probe interval otherwise.
fn requeue_after(
    status: &WorkloadStatus,
    target: &[String],
    sites: &[Site],
    grace: u32,
    now: Timestamp,
    context: &Context,
) -> Duration {
    let mut wait = context.settings.probe_interval;
    for site in target {
        if site_health(sites, site, grace, now) == SiteHealth::DownWithinGrace {
            wait = wait.min(Duration::from_secs(1));
        }
    }
    if status.phase != Some(WorkloadPhase::Running) {
        wait = wait.min(ROLLOUT_POLL);
    }
    wait
}

/// The availability gauges: replicas per site, availability, the target, and whether the
/// workload is stranded on a site it should leave.
fn record_metrics(
    context: &Context,
    workload: &Workload,
    previous: &WorkloadStatus,
    status: &WorkloadStatus,
) {
    let metrics = &context.metrics;
    let tenant = workload.spec.tenant.as_str();
    let name = format!(
        "{}/{}",
        workload.namespace().unwrap_or_default(),
        workload.name_any()
    );
    let current: BTreeMap<&str, &WorkloadSiteStatus> = status
        .sites
        .iter()
        .map(|entry| (entry.site.as_str(), entry))
        .collect();
    for old in &previous.sites {
        if !current.contains_key(old.site.as_str()) {
            let _ = metrics
                .workload_available
                .remove_label_values(&[tenant, &name, &old.site]);
            for state in ["desired", "available"] {
                let _ = metrics
                    .workload_replicas
                    .remove_label_values(&[tenant, &name, &old.site, state]);
            }
        }
    }
    for (site, entry) in current {
        let available = entry.state == WorkloadSiteState::Running;
        metrics
            .workload_available
            .with_label_values(&[tenant, &name, site])
            .set(i64::from(available));
        metrics
            .workload_replicas
            .with_label_values(&[tenant, &name, site, "desired"])
            .set(i64::from(entry.desired_replicas));
        metrics
            .workload_replicas
            .with_label_values(&[tenant, &name, site, "available"])
            .set(i64::from(entry.available_replicas));
    }
    if let Some(target) = workload
        .spec
        .availability_target
        .as_deref()
        .and_then(Availability::parse_percent)
    {
        metrics
            .workload_availability_target
            .with_label_values(&[tenant, &name])
            .set(f64::from(target.parts_per_million()) / 1_000_000.0);
    }
    let stranded = status.conditions.iter().any(|condition: &Condition| {
        ConditionType::Degraded.is(condition) && condition.reason == "Stranded"
    });
    metrics
        .workload_stranded
        .with_label_values(&[tenant, &name])
        .set(i64::from(stranded));
}

/// Removes the workload from every site it was applied on. A site that does not answer keeps
/// its copy (with a Warning Event) rather than blocking the deletion.
async fn clean_up(workload: &Workload, context: &Context) -> Result<Action, Error> {
    let status = workload.status.clone().unwrap_or_default();
    let namespace = workload.namespace().unwrap_or_default();
    let name = workload.name_any();
    let sites = cached(&context.caches.sites);
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
        .workload_availability_target
        .remove_label_values(&[tenant, &full_name]);
    Ok(Action::await_change())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use soberana_core::placement::Outcome as Placement;

    use super::*;

    fn decision() -> Decision {
        Decision {
            workload: "minsa-prod/citas".to_owned(),
            outcome: Placement::Placed,
            chosen_sites: vec!["state-dc".to_owned()],
            required_sites: serde_json::from_value(
                serde_json::json!({"minimum": 1, "maximum": 1, "across": "Sites"}),
            )
            .unwrap(),
            eligible: Vec::new(),
            rejected: Vec::new(),
            matched_rules: Vec::new(),
            unplaceable: None,
        }
    }

    #[test]
    fn a_failover_warns_and_is_recorded_with_its_time() {
        let now = Timestamp::now();
        let failover = Replacement::FailOver {
            from: vec!["national".to_owned()],
            to: vec!["state-dc".to_owned()],
            reason: "national unreachable for 300 s".to_owned(),
        };
        let (events, record) =
            consequences(&WorkloadStatus::default(), &decision(), &failover, now);
        assert_eq!(events.len(), 1);
        assert_eq!(
            (events[0].0, events[0].1),
            (EventType::Warning, "FailedOver")
        );
        assert!(
            events[0].2.contains("moved from national to state-dc"),
            "{events:?}"
        );
        let record = record.unwrap();
        assert_eq!(
            (record.from, record.to, record.time),
            (
                vec!["national".to_owned()],
                vec!["state-dc".to_owned()],
                Time(now)
            )
        );
    }

    #[test]
    fn a_stranded_workload_is_announced_once() {
        let stranded = Replacement::Stranded {
            sites: vec!["national".to_owned()],
            reason: "no eligible site can take it".to_owned(),
        };
        let now = Timestamp::now();
        let (first, _) = consequences(&WorkloadStatus::default(), &decision(), &stranded, now);
        assert_eq!(first.len(), 1);
        let already = WorkloadStatus {
            conditions: vec![condition(
                &[],
                ConditionType::Degraded,
                true,
                "Stranded",
                "no eligible site can take it",
                None,
            )],
            ..WorkloadStatus::default()
        };
        let (again, record) = consequences(&already, &decision(), &stranded, now);
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(record, None, "a stranded workload did not fail over");
    }
}
