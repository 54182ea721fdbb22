//! What a change does to one workload: where it runs now and would run after, judged with the
//! operator's own rule for moving placed workloads (`propagation::replace`: sticky, moving only
//! off sites that may no longer host it, stranded where nothing else may), and every site whose
//! reasons changed.

use kube::ResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::collections::BTreeSet;

use crate::placement::{Decision, EvaluationError, Judgement, Outcome, Snapshot};
use crate::propagation::{Replacement, SiteHealth, replace};
use crate::resources::workload::Workload;

use super::site_changes::{SiteChange, Verdict, site_changes};
use super::sparse_decision::{eligible_names, sparse_decision};

/// How a workload's outcome would change.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// It would leave sites that may no longer host it, for other eligible ones.
    Moves,
    /// A site it runs on may no longer host it and no other site may: it would stay there,
    /// degraded (the operator never moves it to a site its policy forbids).
    Stranded,
    /// Placeable today; no site could take it after the change.
    Unplaceable,
    /// Unplaceable today; it would be placed.
    Placeable,
    /// Where it runs stays the same, but it loses or gains eligible sites.
    EligibilityChanges,
    /// It could be judged today; after the change it refers to something undefined.
    Unjudgeable,
    /// It could not be judged today (it refers to something undefined); the change defines it.
    Judgeable,
}

/// One workload whose outcome would change.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadImpact {
    /// `namespace/name`.
    pub workload: String,
    pub tenant: String,
    pub classification: String,
    pub change: ChangeKind,
    /// The sites it runs on now: by its status once the operator placed it (and then it moves as
    /// the operator moves placed workloads); without status (a manifest, a Workload just created),
    /// where today's policy places it. Empty when nowhere.
    pub from: Vec<String>,
    /// The sites it would run on after the change; empty when nowhere.
    pub to: Vec<String>,
    /// Why, in one sentence: the reason it moves or is stranded, why it cannot be placed, or why it
    /// cannot be judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Sites eligible today and not after the change.
    pub lost_sites: Vec<String>,
    /// Sites eligible after the change and not today.
    pub gained_sites: Vec<String>,
    /// Every site lost or gained, with the reasons the change adds or lifts there.
    pub sites: Vec<SiteChange>,
}

/// Compares a workload's decisions before and after the change; `None` when its outcome stays:
/// where it runs, whether it can be placed, and which sites may host it. (A site refused before
/// and after, for other reasons, changes no outcome.)
pub fn workload_impact(
    workload: &Workload,
    before: &Result<Decision, EvaluationError>,
    after: &Result<Decision, EvaluationError>,
) -> Option<WorkloadImpact> {
    let running = running_sites(workload);
    let impact = |change, from: Vec<String>, to: Vec<String>, why, sites: Vec<SiteChange>| {
        Some(WorkloadImpact {
            workload: format!(
                "{}/{}",
                workload.namespace().unwrap_or_default(),
                workload.name_any()
            ),
            tenant: workload.spec.tenant.clone(),
            classification: workload.spec.classification.clone(),
            change,
            from,
            to,
            why,
            lost_sites: sites_turning(&sites, &[Verdict::Eligible], Verdict::Rejected),
            gained_sites: sites_turning(
                &sites,
                &[Verdict::Rejected, Verdict::Absent],
                Verdict::Eligible,
            ),
            sites,
        })
    };
    let (before, after) = match (before, after) {
        (Ok(before), Ok(after)) => (before, after),
        (Err(_), Err(_)) => return None,
        (Ok(before), Err(error)) => {
            let from = placement(&running, before).sites().to_vec();
            let why = Some(error.to_string());
            return impact(
                ChangeKind::Unjudgeable,
                from,
                running.clone(),
                why,
                Vec::new(),
            );
        }
        (Err(error), Ok(after)) => {
            let to = placement(&running, after).sites().to_vec();
            let why = Some(format!("today: {error}"));
            return impact(ChangeKind::Judgeable, running.clone(), to, why, Vec::new());
        }
    };
    let was = placement(&running, before);
    let will = placement(&running, after);
    let sites = site_changes(before, after);
    let change = change_kind(before, after, (&was, &will), &sites)?;
    let why = why(after, &will);
    impact(
        change,
        was.sites().to_vec(),
        will.sites().to_vec(),
        why,
        sites,
    )
}

/// [`workload_impact`] from the engine's judgements, with the decisions written only for the
/// sites the answer reads (see `sparse_decision`): those the workload runs on and those whose
/// eligibility flips. The answer is the one full decisions give.
pub fn judged_impact(
    workload: &Workload,
    (before_snapshot, before): (&Snapshot, Result<Judgement<'_>, EvaluationError>),
    (after_snapshot, after): (&Snapshot, Result<Judgement<'_>, EvaluationError>),
) -> Option<WorkloadImpact> {
    let running = running_sites(workload);
    let mut sites: BTreeSet<&str> = running.iter().map(String::as_str).collect();
    if let (Ok(before), Ok(after)) = (&before, &after) {
        let old = eligible_names(before_snapshot, before);
        let new = eligible_names(after_snapshot, after);
        sites.extend(old.symmetric_difference(&new));
    }
    let written = |snapshot: &Snapshot, judged: Result<Judgement<'_>, EvaluationError>| {
        judged.map(|judgement| sparse_decision(snapshot, workload, &judgement, &sites))
    };
    workload_impact(
        workload,
        &written(before_snapshot, before),
        &written(after_snapshot, after),
    )
}

/// The sites the workload runs on by its status; empty when the operator has not placed it (a
/// manifest file, or a Workload just created).
fn running_sites(workload: &Workload) -> Vec<String> {
    workload
        .status
        .as_ref()
        .map(|status| status.chosen_sites.clone())
        .unwrap_or_default()
}

/// Where the workload would run given `decision`: a workload not placed yet goes where the
/// decision chooses; a placed one is moved as the operator moves it (sticky, off sites that may
/// no longer host it, stranded where nothing else may). Site health is not the question here
/// (what-if judges policy, not outages), so every site counts as Ready.
fn placement(running: &[String], decision: &Decision) -> Replacement {
    replace(running, decision, 0, |_| SiteHealth::Ready)
}

fn change_kind(
    before: &Decision,
    after: &Decision,
    (was, will): (&Replacement, &Replacement),
    sites: &[SiteChange],
) -> Option<ChangeKind> {
    let stranded = |replacement: &Replacement| matches!(replacement, Replacement::Stranded { .. });
    let placed_before = before.outcome == Outcome::Placed;
    let placed_after = after.outcome == Outcome::Placed;
    if stranded(will) && !stranded(was) {
        Some(ChangeKind::Stranded)
    } else if placed_before && !placed_after {
        Some(ChangeKind::Unplaceable)
    } else if !placed_before && placed_after {
        Some(ChangeKind::Placeable)
    } else if was.sites() != will.sites() {
        Some(ChangeKind::Moves)
    } else if !sites.is_empty() {
        Some(ChangeKind::EligibilityChanges)
    } else {
        None
    }
}

/// The sentence behind a move or a stranding, or why no site can take the workload.
fn why(after: &Decision, will: &Replacement) -> Option<String> {
    match will {
        Replacement::Move { reason, .. }
        | Replacement::FailOver { reason, .. }
        | Replacement::Stranded { reason, .. } => Some(reason.clone()),
        _ => after
            .unplaceable
            .as_ref()
            .map(|unplaceable| unplaceable.message.clone()),
    }
}

fn sites_turning(sites: &[SiteChange], from: &[Verdict], to: Verdict) -> Vec<String> {
    sites
        .iter()
        .filter(|change| from.contains(&change.before) && change.after == to)
        .map(|change| change.site.clone())
        .collect()
}
