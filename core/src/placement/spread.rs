//! Choosing sites among the eligible ones: best score first, skipping sites that would share a
//! zone or provider with one already chosen when the spread asks for distinct ones.

use std::collections::BTreeSet;

use crate::resources::placement_rule::SpreadDomain;

use super::decision::Unplaceable;
use super::domain_name;
use super::rules::EffectiveSpread;
use super::snapshot::PreparedSite;

/// Picks up to `spread.maximum` of the `ranked` candidates (best first), each standing for the
/// site `site` gives. The caller checks the minimum (`shortfall`).
pub fn select<'a, T>(
    ranked: impl IntoIterator<Item = T>,
    spread: &EffectiveSpread,
    site: impl Fn(&T) -> &'a PreparedSite,
) -> Vec<T> {
    let mut chosen = Vec::new();
    let mut used_zones: BTreeSet<&str> = BTreeSet::new();
    let mut used_providers: BTreeSet<&str> = BTreeSet::new();
    for candidate in ranked {
        if chosen.len() as u64 >= u64::from(spread.maximum) {
            break;
        }
        let facts = site(&candidate);
        let distinct = match spread.across {
            SpreadDomain::Sites => true,
            SpreadDomain::Zones => facts
                .zones
                .iter()
                .all(|zone| !used_zones.contains(zone.as_str())),
            SpreadDomain::Providers => !used_providers.contains(facts.spec.provider.as_str()),
        };
        if distinct {
            used_zones.extend(facts.zones.iter().map(String::as_str));
            used_providers.insert(facts.spec.provider.as_str());
            chosen.push(candidate);
        }
    }
    chosen
}

/// Why the spread cannot be met: the workload and its rules contradict each other, no site is
/// eligible, or (once `chosen` sites were picked) too few distinct ones are. `None` when placed.
pub fn shortfall(
    spread: &EffectiveSpread,
    eligible: usize,
    chosen: Option<usize>,
    sites: usize,
) -> Option<Unplaceable> {
    if spread.minimum > spread.maximum {
        return Some(Unplaceable {
            code: "ConflictingSpread".to_owned(),
            message: format!(
                "the workload and its placement rules ask for at least {} and at most {} sites",
                spread.minimum, spread.maximum
            ),
        });
    }
    if eligible == 0 {
        return Some(Unplaceable {
            code: "NoEligibleSite".to_owned(),
            message: format!(
                "none of the {sites} sites may host this workload; see each site's reasons"
            ),
        });
    }
    let chosen = chosen?;
    ((chosen as u64) < u64::from(spread.minimum)).then(|| Unplaceable {
        code: "NotEnoughSitesForSpread".to_owned(),
        message: format!(
            "the workload needs {} sites distinct in {}, but only {chosen} of the {eligible} eligible sites qualify",
            spread.minimum,
            domain_name(spread.across).to_lowercase(),
        ),
    })
}
