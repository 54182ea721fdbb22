//! Decide, for an agreement, beyond core's judgement: the status it means once the paths were
//! applied, the transition to announce and record, and when to look again. Pure, time passed in.
//! Nothing is said to be closed that a site did not confirm closed: a site that did not answer
//! or kept a policy it should have lost is listed in `stillOpenOn`, and the Event says so.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::EventType;
use soberana_core::exchange::{APPROVAL_NOT_HONOURED, APPROVALS_UNPROVEN, ExchangeDecision};
use soberana_core::resources::data_exchange::{DataExchangeStatus, ExchangeState};

use super::apply::{Applied, SiteResult};
use crate::conditions::{ConditionType, condition};
use crate::runtime::retry_backoff::RetryBackoff;

/// Looked at again at least this often, whatever else happens: a path someone deleted or edited
/// on a member is put back within this time.
const RESYNC: Duration = Duration::from_secs(60);

/// `Degraded` reason when a policy carrying the agreement's label was left alone.
pub(super) const FOREIGN_OBJECTS: &str = "ForeignObjectsLeftAlone";

/// A change worth an Event and a ledger record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Transition {
    pub event_type: EventType,
    /// `Activated`, `Refused`, `Expired`, `Revoked`, `Suspended` (back to Pending),
    /// `ApprovalsUnproven` or `ApprovalNotHonoured` (waiting because of an approval),
    /// `PathsMoved`, `PathsClosed` (the sites confirmed what was still open is closed) or
    /// `PathsStillOpen` (which sites have not confirmed it changed).
    pub reason: &'static str,
    pub note: String,
}

/// What the sites' answers mean for the status: where the path is open, where it should be
/// closed but is not confirmed closed, what failed and what was left alone.
#[derive(Debug, Default)]
struct Answers {
    open_on: Vec<String>,
    still_open_on: Vec<String>,
    failures: Vec<String>,
    foreign: Vec<String>,
}

fn answers(
    decision: &ExchangeDecision,
    applied: &Applied,
    previous: &DataExchangeStatus,
) -> Answers {
    let decided = decision.open_on();
    let was_open = |site: &str| {
        previous.open_on.iter().any(|open| open == site)
            || previous.still_open_on.iter().any(|open| open == site)
    };
    let mut found = Answers::default();
    for outcome in &applied.sites {
        let site = &outcome.site;
        let wanted_here = decided.contains(site);
        match &outcome.result {
            SiteResult::Answered(report) => {
                if report.opened && report.still_open.is_empty() {
                    found.open_on.push(site.clone());
                }
                if !wanted_here && !report.still_open.is_empty() {
                    found.still_open_on.push(site.clone());
                }
                for problem in report.still_open.iter().chain(&report.not_opened) {
                    found.failures.push(format!("site {site}: {problem}"));
                }
                for left in &report.foreign {
                    found.foreign.push(format!("site {site}: {left}"));
                }
            }
            // A site that did not answer keeps what it last confirmed: open where the path was.
            SiteResult::Unanswered(problem) => {
                if was_open(site) {
                    let list = if wanted_here {
                        &mut found.open_on
                    } else {
                        &mut found.still_open_on
                    };
                    list.push(site.clone());
                }
                found.failures.push(format!("site {site}: {problem}"));
            }
            SiteResult::NotConnected if was_open(site) => {
                found.still_open_on.push(site.clone());
                found.failures.push(format!(
                    "site {site}: the Site has no connection, so the path opened there cannot be closed or confirmed closed; give it back its connection"
                ));
            }
            SiteResult::NotConnected => {}
        }
    }
    found.open_on.sort();
    found.open_on.dedup();
    found.still_open_on.sort();
    found.still_open_on.dedup();
    found
}

/// The status after this pass: the decision, where the path is open (the decided sites that
/// took it), where it is not yet confirmed closed, a `Ready` condition saying whether it is
/// fully in force (or fully closed), and `Degraded` naming what was left alone.
pub(super) fn status(
    decision: &ExchangeDecision,
    applied: &Applied,
    previous: &DataExchangeStatus,
    generation: Option<i64>,
) -> DataExchangeStatus {
    let found = answers(decision, applied, previous);
    let ready = decision.state == ExchangeState::Active && found.failures.is_empty();
    let (reason, message) = if !found.failures.is_empty() {
        ("PathsNotApplied", found.failures.join("; "))
    } else if ready {
        ("InForce", in_force_message(&found.open_on, decision))
    } else {
        (
            decision.hold.unwrap_or(decision.state.as_str()),
            decision.reasons.join("; "),
        )
    };
    let (degraded_reason, degraded_message) = if found.foreign.is_empty() {
        (
            "NothingLeftAlone",
            "every policy carrying the agreement's label is provably its own".to_owned(),
        )
    } else {
        (
            FOREIGN_OBJECTS,
            format!(
                "left alone, not provably this agreement's: {}",
                found.foreign.join("; ")
            ),
        )
    };
    DataExchangeStatus {
        conditions: vec![
            condition(
                &previous.conditions,
                ConditionType::Ready,
                ready,
                reason,
                message,
                generation,
            ),
            condition(
                &previous.conditions,
                ConditionType::Degraded,
                !found.foreign.is_empty(),
                degraded_reason,
                degraded_message,
                generation,
            ),
        ],
        observed_generation: generation,
        state: Some(decision.state),
        reasons: decision.reasons.clone(),
        open_on: found.open_on,
        still_open_on: found.still_open_on,
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

/// Whether every path is closed as far as the sites confirmed, or which sites still have one.
fn closure(status: &DataExchangeStatus) -> String {
    if status.still_open_on.is_empty() {
        "every path is closed".to_owned()
    } else {
        format!(
            "the path is not yet closed on [{}] (the site has not confirmed it; see the Ready condition)",
            status.still_open_on.join(", ")
        )
    }
}

/// What changed since `previous`: a new state, the open sites of an active agreement (the
/// provider or consumers moved), or the sites still open of a closing one.
pub(super) fn transition(
    previous: &DataExchangeStatus,
    status: &DataExchangeStatus,
) -> Option<Transition> {
    let state = status.state?;
    let previous_state = previous.state;
    let reasons = status.reasons.join("; ");
    let closed = status.still_open_on.is_empty();
    let closing_type = if closed {
        EventType::Normal
    } else {
        EventType::Warning
    };
    if previous_state == Some(state) {
        return same_state(previous, status, state, reasons, closing_type);
    }
    let (event_type, reason, note) = match state {
        ExchangeState::Active => (closing_type, "Activated", moved_note(status)),
        ExchangeState::Refused if closed => (
            EventType::Warning,
            "Refused",
            format!("refused, nothing is open: {reasons}"),
        ),
        ExchangeState::Refused => (
            EventType::Warning,
            "Refused",
            format!("refused: {reasons}; {}", closure(status)),
        ),
        ExchangeState::Expired => (
            closing_type,
            "Expired",
            format!("{reasons}; {}", closure(status)),
        ),
        ExchangeState::Revoked => (
            closing_type,
            "Revoked",
            format!("{reasons}; {}", closure(status)),
        ),
        ExchangeState::Pending if previous_state == Some(ExchangeState::Active) => (
            EventType::Warning,
            "Suspended",
            format!("no longer in force, {}: {reasons}", closure(status)),
        ),
        ExchangeState::Pending => match hold_of(status) {
            Some(held) => (EventType::Warning, held, reasons),
            None => (EventType::Normal, "Pending", reasons),
        },
    };
    Some(Transition {
        event_type,
        reason,
        note,
    })
}

/// What changed while the state stayed: an active agreement's open sites, a waiting one's
/// approval reason, or a closing one's sites still open.
fn same_state(
    previous: &DataExchangeStatus,
    status: &DataExchangeStatus,
    state: ExchangeState,
    reasons: String,
    closing_type: EventType,
) -> Option<Transition> {
    let closed = status.still_open_on.is_empty();
    if state == ExchangeState::Active {
        return (previous.open_on != status.open_on
            || previous.still_open_on != status.still_open_on)
            .then(|| Transition {
                event_type: closing_type,
                reason: "PathsMoved",
                note: moved_note(status),
            });
    }
    if state == ExchangeState::Pending {
        let held = hold_of(status);
        if held.is_some() && held != hold_of(previous) {
            return Some(Transition {
                event_type: EventType::Warning,
                reason: held.unwrap_or("Pending"),
                note: reasons,
            });
        }
    }
    if previous.still_open_on == status.still_open_on {
        return None;
    }
    Some(if closed {
        Transition {
            event_type: EventType::Normal,
            reason: "PathsClosed",
            note: format!(
                "every site confirmed the path closed ({} was still open)",
                previous.still_open_on.join(", ")
            ),
        }
    } else {
        Transition {
            event_type: EventType::Warning,
            reason: "PathsStillOpen",
            note: closure(status),
        }
    })
}

/// The approval reason a `Pending` status gives (its `Ready` condition's), if that is why it
/// waits.
fn hold_of(status: &DataExchangeStatus) -> Option<&'static str> {
    let ready = status
        .conditions
        .iter()
        .find(|condition| ConditionType::Ready.is(condition))?;
    [APPROVALS_UNPROVEN, APPROVAL_NOT_HONOURED]
        .into_iter()
        .find(|reason| ready.reason == *reason)
}

fn moved_note(status: &DataExchangeStatus) -> String {
    let mut note = format!(
        "in force; the path is open on [{}]",
        status.open_on.join(", ")
    );
    if !status.still_open_on.is_empty() {
        note.push_str(&format!(
            "; it is not yet closed on [{}], where it should no longer be",
            status.still_open_on.join(", ")
        ));
    }
    note
}

/// The Warning to publish when the policies left alone changed (a new one was found): the
/// `Degraded` condition's message, which names them.
pub(super) fn left_alone_notice(
    previous: &DataExchangeStatus,
    status: &DataExchangeStatus,
) -> Option<String> {
    let degraded = |status: &DataExchangeStatus| {
        status
            .conditions
            .iter()
            .find(|condition| ConditionType::Degraded.is(condition))
            .filter(|condition| condition.reason == FOREIGN_OBJECTS)
            .map(|condition| condition.message.clone())
    };
    let now = degraded(status)?;
    (degraded(previous).as_ref() != Some(&now)).then_some(now)
}

/// The decision without its paths on `leaving` (Sites being deleted): they close there.
pub(super) fn without_leaving_sites(
    mut decision: ExchangeDecision,
    leaving: &[String],
) -> ExchangeDecision {
    decision.paths.retain(|path| !leaving.contains(&path.site));
    decision
}

/// Whether a path of the agreement may be open: in force, or not yet confirmed closed.
pub(super) fn may_be_open(status: &DataExchangeStatus) -> bool {
    status.state == Some(ExchangeState::Active) || !status.still_open_on.is_empty()
}

/// The wait before a pass that failed on a site is retried (`None`: nothing failed, and the
/// agreement's waits start over).
pub(super) fn retry_wait(
    backoff: &RetryBackoff,
    key: &str,
    applied: &Applied,
    now: std::time::Instant,
) -> Option<Duration> {
    if applied.has_failures() {
        Some(backoff.failed_again(key, now))
    } else {
        backoff.succeeded(key);
        None
    }
}

/// When to look again: at the validity's next boundary, after `retry` when a site failed (the
/// backoff's wait, growing while the member keeps answering errors), and at least every few
/// minutes.
pub(super) fn requeue_after(
    decision: &ExchangeDecision,
    retry: Option<Duration>,
    now: Timestamp,
) -> Duration {
    let mut after = RESYNC;
    if let Some(retry) = retry {
        after = after.min(retry);
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
    use crate::controllers::exchange::apply::{SiteOutcome, SiteReport};
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
            hold: None,
        }
    }

    fn answered(site: &str, report: SiteReport) -> SiteOutcome {
        SiteOutcome {
            site: site.to_owned(),
            result: SiteResult::Answered(report),
        }
    }

    fn opened(site: &str) -> SiteOutcome {
        answered(
            site,
            SiteReport {
                opened: true,
                ..SiteReport::default()
            },
        )
    }

    fn closed(site: &str) -> SiteOutcome {
        answered(site, SiteReport::default())
    }

    fn unanswered(site: &str, problem: &str) -> SiteOutcome {
        SiteOutcome {
            site: site.to_owned(),
            result: SiteResult::Unanswered(problem.to_owned()),
        }
    }

    fn applied(sites: Vec<SiteOutcome>) -> Applied {
        Applied { sites }
    }

    fn judged(
        state: ExchangeState,
        sites: &[&str],
        outcomes: Vec<SiteOutcome>,
        previous: &DataExchangeStatus,
    ) -> DataExchangeStatus {
        status(
            &decision(state, sites),
            &applied(outcomes),
            previous,
            Some(3),
        )
    }

    #[test]
    fn an_active_agreement_is_ready_only_where_every_site_took_the_path() {
        let all = judged(
            ExchangeState::Active,
            &["a", "b"],
            vec![opened("a"), opened("b")],
            &DataExchangeStatus::default(),
        );
        assert_eq!(all.open_on, ["a", "b"]);
        assert_eq!(all.conditions[0].status, "True");
        assert_eq!(
            all.conditions[0].message,
            "in force; the path is open on a, b"
        );

        let partly = judged(
            ExchangeState::Active,
            &["a", "b"],
            vec![opened("a"), unanswered("b", "unreachable")],
            &all,
        );
        assert_eq!(partly.open_on, ["a", "b"], "b did not say otherwise");
        assert_eq!(partly.conditions[0].status, "False");
        assert_eq!(partly.conditions[0].reason, "PathsNotApplied");
        assert_eq!(partly.conditions[0].message, "site b: unreachable");
    }

    #[test]
    fn a_revocation_a_site_did_not_confirm_is_reported_as_still_open_until_it_does() {
        let active = judged(
            ExchangeState::Active,
            &["a", "b"],
            vec![opened("a"), opened("b")],
            &DataExchangeStatus::default(),
        );
        let stuck = answered(
            "b",
            SiteReport {
                still_open: vec![
                    "NetworkPolicy rc-prod/x: deleting it failed: forbidden".to_owned(),
                ],
                ..SiteReport::default()
            },
        );
        let partly = judged(
            ExchangeState::Revoked,
            &[],
            vec![closed("a"), stuck],
            &active,
        );
        assert!(partly.open_on.is_empty());
        assert_eq!(partly.still_open_on, ["b"]);
        assert_eq!(partly.conditions[0].reason, "PathsNotApplied");
        assert!(partly.conditions[0].message.contains("rc-prod/x"));
        let event = transition(&active, &partly).unwrap();
        assert_eq!(
            (event.event_type, event.reason),
            (EventType::Warning, "Revoked")
        );
        assert!(
            !event.note.contains("every path is closed"),
            "{}",
            event.note
        );
        assert!(
            event.note.contains("not yet closed on [b]"),
            "{}",
            event.note
        );
        assert!(may_be_open(&partly));

        // Still down: nothing new to say. Then the site confirms.
        let still = judged(
            ExchangeState::Revoked,
            &[],
            vec![closed("a"), unanswered("b", "down")],
            &partly,
        );
        assert_eq!(still.still_open_on, ["b"]);
        assert_eq!(transition(&partly, &still), None);
        let done = judged(
            ExchangeState::Revoked,
            &[],
            vec![closed("a"), closed("b")],
            &still,
        );
        assert!(done.still_open_on.is_empty());
        let event = transition(&still, &done).unwrap();
        assert_eq!(
            (event.event_type, event.reason),
            (EventType::Normal, "PathsClosed")
        );
        assert!(!may_be_open(&done));
    }

    #[test]
    fn a_site_without_a_connection_where_the_path_was_open_is_not_called_closed() {
        let active = judged(
            ExchangeState::Active,
            &["a"],
            vec![opened("a")],
            &DataExchangeStatus::default(),
        );
        let disconnected = SiteOutcome {
            site: "a".to_owned(),
            result: SiteResult::NotConnected,
        };
        let expired = judged(
            ExchangeState::Expired,
            &[],
            vec![disconnected.clone()],
            &active,
        );
        assert_eq!(expired.still_open_on, ["a"]);
        assert!(expired.conditions[0].message.contains("no connection"));
        let never = judged(
            ExchangeState::Expired,
            &[],
            vec![disconnected],
            &DataExchangeStatus::default(),
        );
        assert!(never.still_open_on.is_empty());
    }

    #[test]
    fn a_policy_left_alone_is_named_once_in_degraded_and_a_warning() {
        let decoy = answered(
            "a",
            SiteReport {
                foreign: vec![
                    "NetworkPolicy aaa/x (namespace aaa is not a namespace of Tenant r or c)"
                        .to_owned(),
                ],
                ..SiteReport::default()
            },
        );
        let revoked = judged(
            ExchangeState::Revoked,
            &[],
            vec![decoy.clone()],
            &DataExchangeStatus::default(),
        );
        assert!(
            revoked.still_open_on.is_empty(),
            "a decoy is not the agreement's path"
        );
        let degraded = &revoked.conditions[1];
        assert_eq!(
            (
                degraded.type_.as_str(),
                degraded.status.as_str(),
                degraded.reason.as_str()
            ),
            ("Degraded", "True", FOREIGN_OBJECTS)
        );
        assert!(
            degraded.message.contains("site a: NetworkPolicy aaa/x"),
            "{}",
            degraded.message
        );
        let notice = left_alone_notice(&DataExchangeStatus::default(), &revoked).unwrap();
        assert!(notice.contains("aaa/x"));
        let again = judged(ExchangeState::Revoked, &[], vec![decoy], &revoked);
        assert_eq!(left_alone_notice(&revoked, &again), None);
    }

    #[test]
    fn each_state_change_is_one_transition_and_a_moved_path_is_one_too() {
        let none = DataExchangeStatus {
            state: Some(ExchangeState::Pending),
            ..DataExchangeStatus::default()
        };
        let active = judged(ExchangeState::Active, &["a"], vec![opened("a")], &none);
        let activated = transition(&none, &active).unwrap();
        assert_eq!(
            (activated.reason, activated.note.as_str()),
            ("Activated", "in force; the path is open on [a]")
        );
        assert_eq!(transition(&active, &active), None);
        let elsewhere = DataExchangeStatus {
            open_on: vec!["b".to_owned()],
            ..active.clone()
        };
        assert_eq!(
            transition(&elsewhere, &active).unwrap().reason,
            "PathsMoved"
        );

        let refused = judged(ExchangeState::Refused, &[], vec![closed("a")], &active);
        let event = transition(&active, &refused).unwrap();
        assert_eq!(
            (event.event_type, event.reason),
            (EventType::Warning, "Refused")
        );
        assert!(refused.open_on.is_empty());

        let pending = judged(ExchangeState::Pending, &[], vec![closed("a")], &active);
        assert_eq!(transition(&active, &pending).unwrap().reason, "Suspended");
        assert_eq!(
            transition(&DataExchangeStatus::default(), &pending)
                .unwrap()
                .reason,
            "Pending"
        );
    }

    #[test]
    fn an_approval_that_holds_the_agreement_is_the_reason_and_a_warning_naming_it() {
        let pending = DataExchangeStatus {
            state: Some(ExchangeState::Pending),
            ..DataExchangeStatus::default()
        };
        let mut held = decision(ExchangeState::Pending, &[]);
        held.reasons = vec![
            "spec.approvals.provider: user \"nobody\" is not an owner of Tenant notary".to_owned(),
        ];
        held.hold = Some(APPROVAL_NOT_HONOURED);
        let waiting = status(&held, &applied(vec![closed("a")]), &pending, Some(2));
        let ready = &waiting.conditions[0];
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", APPROVAL_NOT_HONOURED)
        );
        assert!(ready.message.contains("\"nobody\""));
        // Already pending (awaiting the approval), the approval not honoured is still announced.
        let event = transition(&pending, &waiting).unwrap();
        assert_eq!(
            (event.event_type, event.reason),
            (EventType::Warning, APPROVAL_NOT_HONOURED)
        );
        assert!(event.note.contains("\"nobody\""));
        assert_eq!(transition(&waiting, &waiting), None, "announced once");

        let active = judged(
            ExchangeState::Active,
            &["a"],
            vec![opened("a")],
            &DataExchangeStatus::default(),
        );
        let mut unproven = decision(ExchangeState::Pending, &[]);
        unproven.hold = Some(APPROVALS_UNPROVEN);
        let stopped = status(&unproven, &applied(vec![closed("a")]), &active, Some(2));
        assert_eq!(stopped.conditions[0].reason, APPROVALS_UNPROVEN);
        assert!(stopped.open_on.is_empty());
        assert_eq!(transition(&active, &stopped).unwrap().reason, "Suspended");
    }

    #[test]
    fn no_path_opens_on_a_site_being_deleted() {
        let decided = decision(ExchangeState::Active, &["a", "b"]);
        let kept = without_leaving_sites(decided, &["b".to_owned()]);
        assert_eq!(kept.open_on(), ["a"]);
        assert_eq!(kept.state, ExchangeState::Active);
    }

    #[test]
    fn it_looks_again_just_after_the_validity_boundary_and_after_the_backoff_on_a_failure() {
        let now: Timestamp = "2026-12-31T23:59:50Z".parse().unwrap();
        let decided = decision(ExchangeState::Active, &["a"]);
        assert_eq!(requeue_after(&decided, None, now), Duration::from_secs(11));
        // The boundary comes first even while a failed site backs off.
        assert_eq!(
            requeue_after(&decided, Some(Duration::from_secs(80)), now),
            Duration::from_secs(11)
        );
        let later: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        assert_eq!(requeue_after(&decided, None, later), RESYNC);
        assert_eq!(
            requeue_after(&decided, Some(Duration::from_secs(40)), later),
            Duration::from_secs(40)
        );
    }

    #[test]
    fn passes_failing_on_a_member_are_retried_after_growing_waits() {
        let backoff = RetryBackoff::new(Duration::from_secs(10), RESYNC);
        let decided = decision(ExchangeState::Active, &["a"]);
        let later: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let mut at = std::time::Instant::now();
        let mut waits = Vec::new();
        for _ in 0..6 {
            let outcome = applied(vec![unanswered("a", "down")]);
            let wait = requeue_after(&decided, retry_wait(&backoff, "x", &outcome, at), later);
            waits.push(wait.as_secs());
            at += wait;
        }
        assert_eq!(waits, [10, 20, 40, 60, 60, 60]);
        assert_eq!(
            retry_wait(&backoff, "x", &applied(vec![opened("a")]), at),
            None
        );
        let outcome = applied(vec![unanswered("a", "down")]);
        assert_eq!(
            retry_wait(&backoff, "x", &outcome, at),
            Some(Duration::from_secs(10)),
            "a pass that succeeded starts the waits over"
        );
    }
}
