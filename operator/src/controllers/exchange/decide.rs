//! Decide, for an agreement, beyond core's judgement: the status it means once the paths were
//! applied, the transition to announce and record, and when to look again. Pure, time passed in.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::EventType;
use soberana_core::exchange::ExchangeDecision;
use soberana_core::resources::data_exchange::{DataExchangeStatus, ExchangeState};

use super::apply::Applied;
use crate::conditions::{ConditionType, condition};

/// Looked at again at least this often, whatever else happens: a path someone deleted or edited
/// on a member is put back within this time.
const RESYNC: Duration = Duration::from_secs(60);
/// Soon after a site failed to open or close a path.
const RETRY: Duration = Duration::from_secs(10);

/// A change worth an Event and a ledger record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Transition {
    pub event_type: EventType,
    /// `Activated`, `Refused`, `Expired`, `Revoked`, `Suspended` (back to Pending) or
    /// `PathsMoved`.
    pub reason: &'static str,
    pub note: String,
}

/// The status after this pass: the decision, where the path is open (the decided sites that
/// took it), and a `Ready` condition saying whether it is fully in force.
pub(super) fn status(
    decision: &ExchangeDecision,
    applied: &Applied,
    previous: &DataExchangeStatus,
    generation: Option<i64>,
) -> DataExchangeStatus {
    let open_on: Vec<String> = decision
        .open_on()
        .into_iter()
        .filter(|site| applied.opened.contains(site))
        .collect();
    let failures: Vec<String> = applied
        .failures
        .iter()
        .map(|(site, problem)| format!("site {site}: {problem}"))
        .collect();
    let ready = decision.state == ExchangeState::Active && failures.is_empty();
    let (reason, message) = if !failures.is_empty() {
        ("PathsNotApplied", failures.join("; "))
    } else if ready {
        ("InForce", in_force_message(&open_on, decision))
    } else {
        (decision.state.as_str(), decision.reasons.join("; "))
    };
    DataExchangeStatus {
        conditions: vec![condition(
            &previous.conditions,
            ConditionType::Ready,
            ready,
            reason,
            message,
            generation,
        )],
        observed_generation: generation,
        state: Some(decision.state),
        reasons: decision.reasons.clone(),
        open_on,
        cross_site: decision.cross_site.clone(),
    }
}

fn in_force_message(open_on: &[String], decision: &ExchangeDecision) -> String {
    let mut message = if open_on.is_empty() {
        "in force; no site runs both ends yet, so no path is open".to_owned()
    } else {
        format!("in force; the path is open on {}", open_on.join(", "))
    };
    for path in &decision.cross_site {
        message.push_str(&format!(
            "; provider on {} and consumers on {} need the site-to-site path (not opened)",
            path.provider_site,
            path.consumer_sites.join(", ")
        ));
    }
    message
}

/// What changed since `previous_state` and `previous_open`: a new state, or the open sites of
/// an active agreement (the provider or consumers moved).
pub(super) fn transition(
    previous_state: Option<ExchangeState>,
    previous_open: &[String],
    status: &DataExchangeStatus,
) -> Option<Transition> {
    let state = status.state?;
    let reasons = status.reasons.join("; ");
    if previous_state == Some(state) {
        return (state == ExchangeState::Active && previous_open != status.open_on).then(|| {
            Transition {
                event_type: EventType::Normal,
                reason: "PathsMoved",
                note: format!("the path is now open on [{}]", status.open_on.join(", ")),
            }
        });
    }
    let (event_type, reason, note) = match state {
        ExchangeState::Active => (
            EventType::Normal,
            "Activated",
            format!(
                "in force; the path is open on [{}]",
                status.open_on.join(", ")
            ),
        ),
        ExchangeState::Refused => (
            EventType::Warning,
            "Refused",
            format!("refused, nothing is open: {reasons}"),
        ),
        ExchangeState::Expired => (
            EventType::Normal,
            "Expired",
            format!("{reasons}; every path is closed"),
        ),
        ExchangeState::Revoked => (
            EventType::Normal,
            "Revoked",
            format!("{reasons}; every path is closed"),
        ),
        ExchangeState::Pending if previous_state == Some(ExchangeState::Active) => (
            EventType::Warning,
            "Suspended",
            format!("no longer in force, every path is closed: {reasons}"),
        ),
        ExchangeState::Pending => (EventType::Normal, "Pending", reasons),
    };
    Some(Transition {
        event_type,
        reason,
        note,
    })
}

/// When to look again: at the validity's next boundary, soon after a failed site, and at least
/// every few minutes.
pub(super) fn requeue_after(
    decision: &ExchangeDecision,
    applied: &Applied,
    now: Timestamp,
) -> Duration {
    let mut after = RESYNC;
    if !applied.failures.is_empty() {
        after = after.min(RETRY);
    }
    if let Some(next) = decision.next_change {
        let until = now.duration_until(next).unsigned_abs();
        // One second past the boundary, so that the next look is on the other side of it.
        after = after.min(until + Duration::from_secs(1));
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;
    use soberana_core::exchange::SitePath;

    fn decision(state: ExchangeState, sites: &[&str]) -> ExchangeDecision {
        ExchangeDecision {
            state,
            reasons: if state == ExchangeState::Active {
                Vec::new()
            } else {
                vec!["why".to_owned()]
            },
            paths: sites
                .iter()
                .map(|site| SitePath {
                    site: (*site).to_owned(),
                    provider_namespace: "rc-prod".to_owned(),
                    provider_workload: "identidad".to_owned(),
                    consumer_namespaces: vec!["minsa-prod".to_owned()],
                })
                .collect(),
            cross_site: Vec::new(),
            next_change: Some("2027-01-01T00:00:00Z".parse().unwrap()),
        }
    }

    fn applied(opened: &[&str], failures: &[(&str, &str)]) -> Applied {
        Applied {
            opened: opened.iter().map(|site| (*site).to_owned()).collect(),
            failures: failures
                .iter()
                .map(|(site, problem)| ((*site).to_owned(), (*problem).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn an_active_agreement_is_ready_only_where_every_site_took_the_path() {
        let decided = decision(ExchangeState::Active, &["a", "b"]);
        let all = status(
            &decided,
            &applied(&["a", "b"], &[]),
            &DataExchangeStatus::default(),
            Some(3),
        );
        assert_eq!(all.open_on, ["a", "b"]);
        assert_eq!(all.conditions[0].status, "True");
        assert_eq!(
            all.conditions[0].message,
            "in force; the path is open on a, b"
        );

        let partly = status(
            &decided,
            &applied(&["a"], &[("b", "unreachable")]),
            &all,
            Some(3),
        );
        assert_eq!(partly.open_on, ["a"]);
        assert_eq!(partly.conditions[0].status, "False");
        assert_eq!(partly.conditions[0].reason, "PathsNotApplied");
        assert_eq!(partly.conditions[0].message, "site b: unreachable");
    }

    #[test]
    fn each_state_change_is_one_transition_and_a_moved_path_is_one_too() {
        let active = status(
            &decision(ExchangeState::Active, &["a"]),
            &applied(&["a"], &[]),
            &DataExchangeStatus::default(),
            None,
        );
        let activated = transition(Some(ExchangeState::Pending), &[], &active).unwrap();
        assert_eq!(
            (activated.reason, activated.note.as_str()),
            ("Activated", "in force; the path is open on [a]")
        );
        assert_eq!(
            transition(Some(ExchangeState::Active), &["a".to_owned()], &active),
            None
        );
        let moved = transition(Some(ExchangeState::Active), &["b".to_owned()], &active).unwrap();
        assert_eq!(moved.reason, "PathsMoved");

        let refused = status(
            &decision(ExchangeState::Refused, &[]),
            &applied(&[], &[]),
            &active,
            None,
        );
        let event = transition(Some(ExchangeState::Active), &["a".to_owned()], &refused).unwrap();
        assert_eq!(
            (event.event_type, event.reason),
            (EventType::Warning, "Refused")
        );
        assert!(refused.open_on.is_empty());

        let pending = status(
            &decision(ExchangeState::Pending, &[]),
            &applied(&[], &[]),
            &active,
            None,
        );
        assert_eq!(
            transition(Some(ExchangeState::Active), &[], &pending)
                .unwrap()
                .reason,
            "Suspended"
        );
        assert_eq!(transition(None, &[], &pending).unwrap().reason, "Pending");
    }

    #[test]
    fn it_looks_again_just_after_the_validity_boundary_and_soon_after_a_failure() {
        let now: Timestamp = "2026-12-31T23:59:50Z".parse().unwrap();
        let decided = decision(ExchangeState::Active, &["a"]);
        assert_eq!(
            requeue_after(&decided, &applied(&["a"], &[]), now),
            Duration::from_secs(11)
        );
        let later: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            requeue_after(&decided, &applied(&["a"], &[]), later),
            RESYNC
        );
        assert_eq!(
            requeue_after(&decided, &applied(&[], &[("a", "down")]), later),
            RETRY
        );
    }
}
