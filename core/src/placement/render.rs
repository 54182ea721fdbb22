//! Rendering a judgement as the explained `Decision`: each eligible site's criteria with what
//! they are based on, and each rejected site's reasons as sentences — written by the same filters
//! that define them (the classification's from the snapshot, judged once), so the explanation is
//! the one the reference evaluation gives.

use crate::resources::workload::Workload;

use super::compiled::Judgement;
use std::collections::BTreeSet;

use super::decision::{Decision, Outcome, RequiredSites, SiteRejection, SiteScore};
use super::filters::rejections_given;
use super::resolve::workload_name;
use super::rules::effective_preferences;
use super::snapshot::Snapshot;
use super::{domain_name, find_site, score};

/// How much of a judgement to write out.
#[derive(Clone, Copy, Debug)]
pub enum Detail<'a> {
    /// Everything: each eligible site's criteria, each rejected site's reasons.
    Full,
    /// Eligible sites by name and total only, and the reasons of the rejected sites named here
    /// (what-if needs the sentences of few sites; writing them is most of rendering's time).
    Sites(&'a BTreeSet<&'a str>),
}

/// The explained decision `judgement` stands for.
pub fn render(snapshot: &Snapshot, workload: &Workload, judgement: &Judgement<'_>) -> Decision {
    render_with(snapshot, workload, judgement, Detail::Full)
}

/// The decision `judgement` stands for, written out to `detail`.
pub fn render_with(
    snapshot: &Snapshot,
    workload: &Workload,
    judgement: &Judgement<'_>,
    detail: Detail<'_>,
) -> Decision {
    let spec = &workload.spec;
    let preferences = effective_preferences(&judgement.rules);
    let data_location = spec.data_location.as_ref();
    let data_site = data_location
        .and_then(|location| location.site.as_deref())
        .and_then(|name| find_site(snapshot, name));
    let eligible = judgement
        .eligible
        .iter()
        .map(|ranked| {
            let site = &snapshot.sites[ranked.site];
            match detail {
                Detail::Full => score::score(site, &preferences, data_location, data_site),
                Detail::Sites(_) => SiteScore {
                    site: site.name.clone(),
                    total: ranked.total,
                    criteria: Vec::new(),
                },
            }
        })
        .collect();
    let facts = judgement.referenced.facts(workload, &judgement.rules);
    let judged = snapshot
        .compiled
        .classifications
        .get(&judgement.referenced.classification.name);
    let wanted = |site: &str| match detail {
        Detail::Full => true,
        Detail::Sites(sites) => sites.contains(site),
    };
    let rejected = judgement
        .rejected
        .iter()
        .filter(|rejected| wanted(&snapshot.sites[rejected.site].name))
        .map(|rejected| {
            let site = &snapshot.sites[rejected.site];
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
            .map(|index| snapshot.sites[*index].name.clone())
            .collect(),
        required_sites: RequiredSites {
            minimum: spread.minimum,
            maximum: spread.maximum,
            across: domain_name(spread.across).to_owned(),
        },
        eligible,
        rejected,
        matched_rules: judgement
            .rules
            .iter()
            .map(|rule| rule.name.clone())
            .collect(),
        unplaceable: judgement.unplaceable.clone(),
    }
}
