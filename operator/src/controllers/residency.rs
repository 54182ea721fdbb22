//! The residency enforcement controller: for every Site, compiles the DataClassifications and the
//! site's facts into admission policies, keeps them in force in the site's cluster, scans the
//! site's existing objects for violations (periodically, and at once after a policy change), and
//! reports both on the Site: `status.residency`, the `ResidencyEnforced` and `ResidencyCompliant`
//! conditions, Events, and the `soberana_residency_violations` gauges.
//!
//! The policies keep working when Soberana is down: they live in each cluster's API server.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use soberana_core::residency::{
    CompiledPolicies, SiteResidency, compile, foreign_blocking_policies,
};
use soberana_core::resources::site::{ResidencyStatus, Site, SiteStatus};

use crate::conditions::ConditionType;
use crate::conditions::condition;
use crate::members::residency_policies::{Enforcement, FIELD_MANAGER, confirm_in_force, enforce};
use crate::members::violation_scan::{ScanReport, UNLABELLED, scan};
use crate::runtime::caches::cached;
use crate::runtime::context::Context;
use crate::runtime::error::Error;
use crate::runtime::events::publish;
use crate::runtime::status_writer::write_status;

/// Condition: the compiled policies of the current revision are in force in the site's cluster.
const ENFORCED: ConditionType = ConditionType::ResidencyEnforced;
/// Condition: the last scan found no existing object breaking residency.
const COMPLIANT: ConditionType = ConditionType::ResidencyCompliant;
/// Condition: an admission policy Soberana did not put on the site may refuse its writes there.
const DEGRADED: ConditionType = ConditionType::Degraded;
/// Offenders named in an Event.
const OFFENDERS_IN_EVENT: usize = 3;

/// Brings the site's residency policies in force, scans when due, and reports.
pub async fn reconcile(site: Arc<Site>, context: Arc<Context>) -> Result<Action, Error> {
    let name = site.name_any();
    let existing = site.status.clone().unwrap_or_default();
    let previous = existing.residency.clone().unwrap_or_default();
    let classifications = cached(context.caches.classifications.store());
    let residency =
        SiteResidency::new(&site, &classifications).map_err(|error| Error::Invalid {
            object: format!("Site {name}"),
            message: format!("cannot compile its residency policies: {error}"),
        })?;
    let compiled = compile(&residency, &context.settings.member_identity);
    let retry = Action::requeue(context.settings.probe_interval);

    let client = match context.connections.client(&site, &context.metrics).await {
        Ok(client) => client,
        Err(error) => {
            context.policy_watches.forget(&name);
            report_pending(&context, &site, &compiled, error.reason(), &error.0).await?;
            return Ok(retry);
        }
    };
    let connection = context.connections.version(&name).unwrap_or_default();
    context.policy_watches.ensure(&name, &connection, &client);
    // A member that keeps answering errors is tried again after a growing wait, however often
    // its watches or other changes wake this reconcile meanwhile.
    if let Some(wait) = context.residency_backoff.remaining(&name, Instant::now()) {
        return Ok(Action::requeue(wait));
    }
    let same_revision = previous.policy_revision.as_deref() == Some(compiled.revision.as_str());
    let mut restored = false;
    let mut status = previous.clone();
    match enforce(&client, &name, &compiled).await {
        Err(error) => return apply_failed(&context, &site, &compiled, error).await,
        Ok(Enforcement::InForce) => {
            if !same_revision {
                status.applied_time = Some(Time(Timestamp::now()));
            }
        }
        Ok(Enforcement::Applied { applied, removed }) => {
            // Nothing in the policy changed: someone deleted or edited them on the member.
            restored = same_revision;
            announce_applied(&context, &site, &compiled, &applied, &removed, restored).await;
            status.applied_time = Some(Time(Timestamp::now()));
            // What was admitted under the old rules is judged under the new ones at once.
            context.residency_scans.reset(&name);
        }
    }
    // A new revision, and a restored one, count as enforced only once the API server shows it.
    if !same_revision || restored {
        match confirm_in_force(&client, &name, &compiled.revision).await {
            Ok(true) => {}
            Ok(false) => {
                let problem = "the API server does not enforce it yet";
                report_pending(&context, &site, &compiled, "NotYetEnforced", problem).await?;
                return Ok(Action::requeue(Duration::from_secs(2)));
            }
            Err(error) => return apply_failed(&context, &site, &compiled, error).await,
        }
    }
    status.policy_revision = Some(compiled.revision.clone());
    status.allowed_classifications = compiled.allowed.clone();
    let enforced = in_force(&existing, &compiled, site.metadata.generation);
    let (scanned, next) =
        scan_if_due(&context, &client, &name, &residency, &compiled, &mut status).await;
    let degraded = judge_foreign_policies(&client, &site, &compiled, &existing).await;
    report(
        &context,
        &site,
        &existing,
        &status,
        enforced,
        scanned.as_ref(),
        degraded,
    )
    .await?;
    Ok(Action::requeue(next))
}

/// `ResidencyEnforced=True`, naming the revision in force and what the site may host.
fn in_force(
    existing: &SiteStatus,
    compiled: &CompiledPolicies,
    generation: Option<i64>,
) -> Condition {
    condition(
        &existing.conditions,
        ENFORCED,
        true,
        "InForce",
        format!(
            "admission policies revision {} are in force in the site's cluster; it may host {}",
            compiled.revision,
            hosts(compiled)
        ),
        generation,
    )
}

/// `Degraded` as the site's admission policies show it now; the condition already reported
/// while they cannot be listed.
async fn judge_foreign_policies(
    client: &kube::Client,
    site: &Site,
    compiled: &CompiledPolicies,
    existing: &SiteStatus,
) -> Option<Condition> {
    match foreign_policies(client, compiled).await {
        Ok(foreign) => Some(degraded_condition(
            existing,
            &foreign,
            site.metadata.generation,
        )),
        Err(error) => {
            tracing::warn!(site = %site.name_any(), %error, "could not list the site's admission policies; will retry");
            existing_degraded(existing)
        }
    }
}

/// The admission policies on the site that neither Soberana compiled nor the member chart
/// installed, bound with `Deny`, and matching a write Soberana makes there.
async fn foreign_policies(
    client: &kube::Client,
    compiled: &CompiledPolicies,
) -> Result<Vec<String>, kube::Error> {
    let policies = Api::<ValidatingAdmissionPolicy>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let bindings = Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let own: BTreeSet<&str> = compiled
        .objects
        .iter()
        .map(|object| object.name())
        .collect();
    Ok(foreign_blocking_policies(
        &policies.items,
        &bindings.items,
        &own,
    ))
}

/// `Degraded`: true while a foreign policy may refuse Soberana's writes on the site, naming it.
fn degraded_condition(
    existing: &SiteStatus,
    foreign: &[String],
    generation: Option<i64>,
) -> Condition {
    let (reason, message) = if foreign.is_empty() {
        (
            "NoForeignPolicies",
            "no admission policy but Soberana's may refuse its writes on the site".to_owned(),
        )
    } else {
        (
            "ForeignAdmissionPolicies",
            format!(
                "admission policies Soberana did not put on the site may refuse its writes there (bound with Deny, matching what it writes): {}; exclude Soberana's member identity from them, or remove them",
                foreign.join(", ")
            ),
        )
    };
    condition(
        &existing.conditions,
        DEGRADED,
        !foreign.is_empty(),
        reason,
        message,
        generation,
    )
}

/// The `Degraded` condition the Site already reports, kept while it cannot be judged afresh.
fn existing_degraded(existing: &SiteStatus) -> Option<Condition> {
    existing
        .conditions
        .iter()
        .find(|condition| DEGRADED.is(condition))
        .cloned()
}

/// Counts and announces policies just applied; a restoration (the same revision, deleted or
/// edited on the member) is announced as a warning too.
async fn announce_applied(
    context: &Context,
    site: &Site,
    compiled: &CompiledPolicies,
    applied: &[String],
    removed: &[String],
    restored: bool,
) {
    let name = site.name_any();
    context
        .metrics
        .residency_policy_applies
        .with_label_values(&[name.as_str()])
        .inc();
    tracing::info!(site = %name, revision = %compiled.revision, applied = %applied.join(", "), removed = %removed.join(", "), "residency policies applied");
    if restored {
        let note = format!(
            "residency policies revision {} were deleted or edited on the site and are restored: {}",
            compiled.revision,
            applied.join(", ")
        );
        tracing::warn!(site = %name, %note, "residency policies restored");
        publish(
            context,
            site,
            EventType::Warning,
            "PoliciesRestored",
            "Enforce",
            note,
        )
        .await;
    }
    let note = format!(
        "residency policies revision {} in force: the site may host {}{}",
        compiled.revision,
        hosts(compiled),
        if removed.is_empty() {
            String::new()
        } else {
            format!("; removed {}", removed.join(", "))
        }
    );
    publish(
        context,
        site,
        EventType::Normal,
        "PoliciesApplied",
        "Enforce",
        note,
    )
    .await;
}

/// Scans the site for objects breaking residency when a scan is due, recording the result in
/// `status` and the metrics; returns what the scan found and when to come back. The site's
/// policies are in force by now: the site answered, and its backoff starts over unless the scan
/// fails, which is retried after the next, longer wait.
async fn scan_if_due(
    context: &Context,
    client: &kube::Client,
    name: &str,
    residency: &SiteResidency,
    compiled: &CompiledPolicies,
    status: &mut soberana_core::resources::site::ResidencyStatus,
) -> (Option<ScanReport>, Duration) {
    let interval = context.settings.residency_scan_interval;
    if !context.residency_scans.due(name) {
        context.residency_backoff.succeeded(name);
        return (None, interval);
    }
    match scan(client, residency).await {
        Ok(found) => {
            context.residency_backoff.succeeded(name);
            record_scan(context, name, residency, &found, "success");
            status.scanned_revision = Some(compiled.revision.clone());
            status.violation_count = found.count;
            status.violations_by_classification = found.by_classification.clone();
            status.offenders = found.offenders.clone();
            (Some(found), interval)
        }
        Err(error) => {
            record_scan(context, name, residency, &ScanReport::default(), "failure");
            context.residency_scans.reset(name);
            let wait = context.residency_backoff.failed(name, Instant::now());
            tracing::warn!(site = %name, %error, ?wait, "residency scan failed; will retry");
            (None, wait)
        }
    }
}

/// Reports that applying `compiled` failed, and returns the error for the controller's retry.
async fn apply_failed(
    context: &Context,
    site: &Site,
    compiled: &CompiledPolicies,
    error: Error,
) -> Result<Action, Error> {
    let wait = context
        .residency_backoff
        .failed(&site.name_any(), Instant::now());
    tracing::debug!(site = %site.name_any(), ?wait, "residency policies not applied; backing off");
    report_pending(context, site, compiled, "ApplyFailed", &error.to_string()).await?;
    Err(error)
}

/// Reports that the compiled revision could not be brought in force (yet), naming the
/// revision that still is; the rest of the residency status stays as it was.
async fn report_pending(
    context: &Context,
    site: &Site,
    compiled: &CompiledPolicies,
    reason: &str,
    problem: &str,
) -> Result<(), Error> {
    // An unreachable site keeps enforcing what its API server holds; only a revision that could
    // not be applied or confirmed leaves the policy out of force.
    if matches!(reason, "NotYetEnforced" | "ApplyFailed") {
        record_enforced(context, site, false);
    }
    let existing = site.status.clone().unwrap_or_default();
    let previous = existing.residency.clone().unwrap_or_default();
    let in_force = existing
        .residency
        .as_ref()
        .and_then(|residency| residency.policy_revision.as_deref());
    let still = match in_force {
        Some(revision) if revision == compiled.revision => {
            format!("revision {revision} is in force there")
        }
        Some(revision) => format!(
            "revision {} waits; revision {revision} remains in force there",
            compiled.revision
        ),
        None => format!(
            "revision {} waits; no residency policy is in force there yet",
            compiled.revision
        ),
    };
    let up_to_date = in_force == Some(compiled.revision.as_str());
    let waiting = condition(
        &existing.conditions,
        ENFORCED,
        up_to_date,
        if up_to_date { "InForce" } else { reason },
        format!("{still} ({problem})"),
        site.metadata.generation,
    );
    let degraded = existing_degraded(&existing);
    report(context, site, &existing, &previous, waiting, None, degraded).await
}

/// Writes the residency part of the Site's status if it changed, with Events for changes
/// people act on.
async fn report(
    context: &Context,
    site: &Site,
    existing: &SiteStatus,
    residency_status: &ResidencyStatus,
    enforced: Condition,
    scanned: Option<&ScanReport>,
    degraded: Option<Condition>,
) -> Result<(), Error> {
    record_enforced(context, site, true);
    let previous = existing.residency.clone().unwrap_or_default();
    announce(
        context,
        site,
        existing,
        &enforced,
        scanned,
        residency_status,
    )
    .await;
    if let Some(degraded) = &degraded {
        announce_degraded(context, site, existing, degraded).await;
    }
    let mut conditions = vec![enforced];
    conditions.extend(compliance(
        existing,
        residency_status,
        site.metadata.generation,
    ));
    conditions.extend(degraded);
    if previous == *residency_status && already_reported(&existing.conditions, &conditions) {
        return Ok(());
    }
    let status = SiteStatus {
        conditions,
        residency: Some(residency_status.clone()),
        ..SiteStatus::default()
    };
    write_status::<Site, _>(&context.client, &site.name_any(), &status, FIELD_MANAGER).await
}

/// Events for what people act on: policies newly not in force (or for a new reason), and the
/// violation count found by a scan changing.
async fn announce(
    context: &Context,
    site: &Site,
    existing: &SiteStatus,
    enforced: &Condition,
    scanned: Option<&ScanReport>,
    residency_status: &ResidencyStatus,
) {
    let previous = existing.residency.clone().unwrap_or_default();
    let was_enforced = existing
        .conditions
        .iter()
        .find(|condition| ENFORCED.is(condition));
    if enforced.status == "False"
        && was_enforced.is_none_or(|before| before.reason != enforced.reason)
    {
        let note = enforced.message.clone();
        publish(
            context,
            site,
            EventType::Warning,
            "PoliciesPending",
            "Enforce",
            note,
        )
        .await;
    }
    let Some(found) = scanned else { return };
    if found.count == previous.violation_count {
        return;
    }
    if found.count > 0 {
        let note = violations_summary(residency_status);
        publish(
            context,
            site,
            EventType::Warning,
            "ResidencyViolations",
            "Scan",
            note,
        )
        .await;
    } else if previous.scanned_revision.is_some() {
        let note = "no existing object breaks the residency policies any more".to_owned();
        publish(
            context,
            site,
            EventType::Normal,
            "ResidencyCompliant",
            "Scan",
            note,
        )
        .await;
    }
}

/// A Warning Event when foreign policies are first found, or others are.
async fn announce_degraded(
    context: &Context,
    site: &Site,
    existing: &SiteStatus,
    degraded: &Condition,
) {
    let before = existing_degraded(existing);
    if degraded.status != "True"
        || before
            .is_some_and(|before| before.status == "True" && before.message == degraded.message)
    {
        return;
    }
    publish(
        context,
        site,
        EventType::Warning,
        "ForeignAdmissionPolicies",
        "Enforce",
        degraded.message.clone(),
    )
    .await;
}

/// `ResidencyCompliant`, once a scan has run: whether any existing object breaks the policies.
fn compliance(
    existing: &SiteStatus,
    residency_status: &ResidencyStatus,
    generation: Option<i64>,
) -> Option<Condition> {
    residency_status.scanned_revision.as_ref()?;
    let compliant = residency_status.violation_count == 0;
    let (reason, message) = if compliant {
        (
            "NoViolations",
            "no existing object breaks the residency policies".to_owned(),
        )
    } else {
        ("ViolationsFound", violations_summary(residency_status))
    };
    Some(condition(
        &existing.conditions,
        COMPLIANT,
        compliant,
        reason,
        message,
        generation,
    ))
}

/// Whether every wanted condition is already there as it would be written (but for its
/// transition time, which `condition` keeps anyway).
fn already_reported(current: &[Condition], wanted: &[Condition]) -> bool {
    wanted.iter().all(|wanted| {
        current.iter().any(|current| {
            current.type_ == wanted.type_
                && current.status == wanted.status
                && current.reason == wanted.reason
                && current.message == wanted.message
                && current.observed_generation == wanted.observed_generation
        })
    })
}

fn hosts(compiled: &CompiledPolicies) -> String {
    if compiled.allowed.is_empty() {
        "no classification".to_owned()
    } else {
        compiled.allowed.join(", ")
    }
}

/// "3 existing objects break residency (restricted: 2, unlabelled: 1), e.g. Deployment a/b: …"
fn violations_summary(status: &ResidencyStatus) -> String {
    let counts = status
        .violations_by_classification
        .iter()
        .map(|(classification, count)| format!("{classification}: {count}"))
        .collect::<Vec<_>>()
        .join(", ");
    let examples = status
        .offenders
        .iter()
        .take(OFFENDERS_IN_EVENT)
        .map(|offender| match &offender.namespace {
            Some(namespace) => format!(
                "{} {namespace}/{} ({})",
                offender.kind, offender.name, offender.reason
            ),
            None => format!("{} {} ({})", offender.kind, offender.name, offender.reason),
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{} existing object{} break{} residency ({counts}); first: {examples}",
        status.violation_count,
        if status.violation_count == 1 { "" } else { "s" },
        if status.violation_count == 1 { "s" } else { "" },
    )
}

/// `soberana_residency_policies_enforced`: whether the site's current policies are in force.
fn record_enforced(context: &Context, site: &Site, enforced: bool) {
    context
        .metrics
        .residency_policies_enforced
        .with_label_values(&[site.name_any().as_str()])
        .set(i64::from(enforced));
}

/// The scan metrics: result counter, timestamp, and a violations gauge for every known
/// classification (zero included, so that alerts see violations go away).
fn record_scan(
    context: &Context,
    site: &str,
    residency: &SiteResidency,
    found: &ScanReport,
    result: &str,
) {
    let metrics = &context.metrics;
    metrics
        .residency_scans
        .with_label_values(&[site, result])
        .inc();
    if result != "success" {
        return;
    }
    metrics
        .residency_last_scan
        .with_label_values(&[site])
        .set(Timestamp::now().as_second() as f64);
    let classifications = residency
        .ranks
        .keys()
        .map(String::as_str)
        .chain([UNLABELLED])
        .chain(found.by_classification.keys().map(String::as_str));
    for classification in classifications {
        let count = found
            .by_classification
            .get(classification)
            .copied()
            .unwrap_or(0);
        metrics
            .residency_violations
            .with_label_values(&[site, classification])
            .set(i64::from(count));
    }
}
