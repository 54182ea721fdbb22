//! The straightforward evaluation: every filter on every site, every reason rendered as it is
//! found. The compiled engine (`compiled`) must decide exactly as this does; it is kept as the
//! oracle the compiled engine is tested against (and as the baseline of the benchmark), not used
//! to serve decisions.

use crate::resources::workload::Workload;

use super::decision::RequiredSites;
use super::decision::{Decision, Outcome, SiteRejection, SiteScore, Unplaceable};
use super::filters::{WorkloadFacts, rejections};
use super::resolve::{Referenced, rules_for, workload_name};
use super::rules::{EffectiveSpread, effective_preferences, effective_spread};
use super::snapshot::{PreparedRule, Snapshot};
use super::{EvaluationError, domain_name, find_site, score, spread};

/// Decides where `workload` may run within `snapshot`, with every reason, the plain way.
pub fn evaluate(snapshot: &Snapshot, workload: &Workload) -> Result<Decision, EvaluationError> {
    let spec = &workload.spec;
    let referenced = Referenced::resolve(snapshot, workload)?;
    let rules = rules_for(snapshot, workload);
    let facts = referenced.facts(workload, &rules);
    let (eligible, rejected) = judge_sites(snapshot, workload, &facts, &rules);

    let spread = effective_spread(spec.spread.as_ref(), &rules);
    let required_sites = RequiredSites {
        minimum: spread.minimum,
        maximum: spread.maximum,
        across: domain_name(spread.across).to_owned(),
    };
    let (chosen_sites, unplaceable) = match choose(snapshot, &eligible, &spread) {
        Ok(chosen) => (chosen, None),
        Err(unplaceable) => (Vec::new(), Some(unplaceable)),
    };
    Ok(Decision {
        workload: workload_name(workload),
        outcome: if unplaceable.is_some() {
            Outcome::Unplaceable
        } else {
            Outcome::Placed
        },
        chosen_sites,
        required_sites,
        eligible,
        rejected,
        matched_rules: rules.iter().map(|rule| rule.name.clone()).collect(),
        unplaceable,
    })
}

/// Every site either scored (eligible, best first, ties by name) or rejected with all its reasons.
fn judge_sites(
    snapshot: &Snapshot,
    workload: &Workload,
    facts: &WorkloadFacts<'_>,
    rules: &[&PreparedRule],
) -> (Vec<SiteScore>, Vec<SiteRejection>) {
    let spec = &workload.spec;
    let preferences = effective_preferences(rules);
    let data_site = spec
        .data_location
        .as_ref()
        .and_then(|location| location.site.as_deref())
        .and_then(|name| find_site(snapshot, name));
    let mut eligible = Vec::new();
    let mut rejected = Vec::new();
    for site in &snapshot.sites {
        let reasons = rejections(facts, site);
        if reasons.is_empty() {
            eligible.push(score::score(
                site,
                &preferences,
                spec.data_location.as_ref(),
                data_site,
            ));
        } else {
            rejected.push(SiteRejection {
                site: site.name.clone(),
                reasons,
            });
        }
    }
    eligible.sort_by(|left, right| {
        right
            .total
            .cmp(&left.total)
            .then_with(|| left.site.cmp(&right.site))
    });
    (eligible, rejected)
}

/// The sites the workload runs on, or why no selection satisfies its spread.
fn choose(
    snapshot: &Snapshot,
    eligible: &[SiteScore],
    spread: &EffectiveSpread,
) -> Result<Vec<String>, Unplaceable> {
    let sites = snapshot.sites.len();
    if let Some(unplaceable) = spread::shortfall(spread, eligible.len(), None, sites) {
        return Err(unplaceable);
    }
    let ranked = eligible
        .iter()
        .filter_map(|score| find_site(snapshot, &score.site));
    let chosen: Vec<String> = spread::select(ranked, spread, |site| *site)
        .into_iter()
        .map(|site| site.name.clone())
        .collect();
    match spread::shortfall(spread, eligible.len(), Some(chosen.len()), sites) {
        Some(unplaceable) => Err(unplaceable),
        None => Ok(chosen),
    }
}
