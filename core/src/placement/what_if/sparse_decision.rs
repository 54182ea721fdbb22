//! A decision written only where what-if looks. `judge` decides with reason codes in
//! microseconds; writing every rejected site's sentences is most of `evaluate`'s time, and
//! what-if needs the sentences of few sites: those a workload runs on (whether it must leave
//! them, and why) and those whose eligibility the change flips (what it loses or gains, and why).
//! The sentences are the ones `render` writes, by the same filters.

use std::collections::BTreeSet;

use crate::placement::compiled::Judgement;
use crate::placement::decision::{Outcome, RequiredSites, SiteRejection, SiteScore};
use crate::placement::filters::rejections_given;
use crate::placement::resolve::workload_name;
use crate::placement::{Decision, Snapshot, domain_name};
use crate::resources::workload::Workload;

/// `judgement` as a `Decision`: every eligible site (name and total, no criteria), the chosen
/// sites, the spread and why it is unplaceable, and of the rejected sites only those in `sites`,
/// with every reason.
pub fn sparse_decision(
    snapshot: &Snapshot,
    workload: &Workload,
    judgement: &Judgement<'_>,
    sites: &BTreeSet<&str>,
) -> Decision {
    let all = snapshot.sites();
    let facts = judgement.referenced.facts(workload, &judgement.rules);
    let judged = snapshot
        .compiled
        .classifications
        .get(&judgement.referenced.classification.name);
    let rejected = judgement
        .rejected
        .iter()
        .filter(|rejected| sites.contains(all[rejected.site].name.as_str()))
        .map(|rejected| {
            let site = &all[rejected.site];
            let classification = judged.map_or(&[][..], |judged| &judged.reasons[rejected.site]);
            SiteRejection {
                site: site.name.clone(),
                reasons: rejections_given(&facts, site, classification),
            }
        })
        .collect();
    let spread = &judgement.spread;
    Decision {
        workload: workload_name(workload),
        outcome: if judgement.unplaceable.is_some() {
            Outcome::Unplaceable
        } else {
            Outcome::Placed
        },
        chosen_sites: judgement
            .chosen
            .iter()
            .map(|index| all[*index].name.clone())
            .collect(),
        required_sites: RequiredSites {
            minimum: spread.minimum,
            maximum: spread.maximum,
            across: domain_name(spread.across).to_owned(),
        },
        eligible: judgement
            .eligible
            .iter()
            .map(|ranked| SiteScore {
                site: all[ranked.site].name.clone(),
                total: ranked.total,
                criteria: Vec::new(),
            })
            .collect(),
        rejected,
        matched_rules: judgement
            .rules
            .iter()
            .map(|rule| rule.name.clone())
            .collect(),
        unplaceable: judgement.unplaceable.clone(),
    }
}

/// The names of the sites `judgement` finds eligible.
pub fn eligible_names<'s>(snapshot: &'s Snapshot, judgement: &Judgement<'_>) -> BTreeSet<&'s str> {
    judgement
        .eligible
        .iter()
        .map(|ranked| snapshot.sites()[ranked.site].name.as_str())
        .collect()
}
