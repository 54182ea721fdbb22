//! Decide, for a Workload: what a replacement calls for (Events, the failover record), each
//! site's health against the grace period, when to look again, and the status a pass leads to.
//! Pure: time is passed in.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::events::EventType;
use soberana_core::placement::Decision;
use soberana_core::propagation::{Replacement, SiteHealth};
use soberana_core::resources::site::Site;
use soberana_core::resources::workload::{
    FailoverRecord, Workload, WorkloadPhase, WorkloadSiteState, WorkloadSiteStatus, WorkloadStatus,
};

use super::Outcome;
use crate::conditions::{ConditionType, condition};

/// Reasons kept per rejected site in the status.
const REASONS_PER_SITE: usize = 10;
/// How often a workload still rolling out is looked at again.
const ROLLOUT_POLL: Duration = Duration::from_secs(5);

/// A Workload that cannot be placed as written: `Pending` with the problem, until it changes.
pub(super) fn invalid(workload: &Workload, problem: &str) -> Outcome {
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

/// The Events a replacement calls for and the failover record it leaves (the previous one
/// unless it failed over now). Pure: an Event for a stranded or unplaceable workload is sent
/// once, not on every reconcile.
pub(super) fn consequences(
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

/// A site's health as the Site controller last saw it, against the workload's grace period.
pub(super) fn site_health(
    sites: &[Site],
    name: &str,
    grace_seconds: u32,
    now: Timestamp,
) -> SiteHealth {
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

/// Report: the status one pass leads to — the phase, `Ready`, `Placed` and `Degraded`, the
/// decision (reasons bounded per site) and each site's rollout.
#[allow(
    clippy::too_many_arguments,
    reason = "one status from everything the pass found"
)]
pub(super) fn status_of(
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
    let phase = phase_of(
        previous,
        replacement,
        &sites,
        last_failover.as_ref(),
        objects.is_empty(),
    );
    let conditions = vec![
        ready_condition(existing, phase, generation),
        placed_condition(existing, decision, replacement, generation),
        degraded_condition(existing, replacement, &sites, generation),
    ];
    WorkloadStatus {
        conditions,
        observed_generation: generation,
        phase: Some(phase),
        chosen_sites: target.to_vec(),
        decision: Some(decision.bounded(REASONS_PER_SITE)),
        sites,
        last_failover,
    }
}

/// Unplaceable; merely placed when there is nothing to deploy; running when every target site
/// runs it; failing over while the copies a failover moved to roll out; else deploying.
fn phase_of(
    previous: &WorkloadStatus,
    replacement: &Replacement,
    sites: &[WorkloadSiteStatus],
    last_failover: Option<&FailoverRecord>,
    nothing_to_deploy: bool,
) -> WorkloadPhase {
    let target = replacement.sites();
    let running = sites
        .iter()
        .filter(|entry| target.contains(&entry.site))
        .all(|entry| entry.state == WorkloadSiteState::Running);
    let failing_over = last_failover
        .is_some_and(|record| record.to.iter().any(|site| target.contains(site)))
        && (matches!(replacement, Replacement::FailOver { .. })
            || previous.phase == Some(WorkloadPhase::FailingOver));
    match replacement {
        Replacement::Unplaceable => WorkloadPhase::Unplaceable,
        _ if nothing_to_deploy => WorkloadPhase::Placed,
        _ if running && !target.is_empty() => WorkloadPhase::Running,
        _ if failing_over => WorkloadPhase::FailingOver,
        _ => WorkloadPhase::Deploying,
    }
}

fn ready_condition(
    existing: &[Condition],
    phase: WorkloadPhase,
    generation: Option<i64>,
) -> Condition {
    if phase == WorkloadPhase::Running {
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
    }
}

fn placed_condition(
    existing: &[Condition],
    decision: &Decision,
    replacement: &Replacement,
    generation: Option<i64>,
) -> Condition {
    match replacement {
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
            format!("runs on {}", replacement.sites().join(", ")),
            generation,
        ),
    }
}

/// Stranded first; then each target site that neither serves nor is on its way to.
fn degraded_condition(
    existing: &[Condition],
    replacement: &Replacement,
    sites: &[WorkloadSiteStatus],
    generation: Option<i64>,
) -> Condition {
    let target = replacement.sites();
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
    match replacement {
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
            // No room on a site's nodes is for the data centre's operators to fix, not a
            // site being down: say which.
            if sites.iter().any(|entry| {
                target.contains(&entry.site) && entry.state == WorkloadSiteState::Unschedulable
            }) {
                "Unschedulable"
            } else {
                "SiteUnavailable"
            },
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
pub(super) fn requeue_after(
    status: &WorkloadStatus,
    target: &[String],
    sites: &[Site],
    grace: u32,
    now: Timestamp,
    probe_interval: Duration,
) -> Duration {
    let mut wait = probe_interval;
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
