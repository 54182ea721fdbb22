//! Choosing sites among the eligible ones: best score first, skipping sites that would share a
//! zone or provider with one already chosen when the spread asks for distinct ones.

use std::collections::BTreeSet;

use crate::resources::placement_rule::SpreadDomain;

use super::decision::SiteScore;
use super::rules::EffectiveSpread;
use super::snapshot::PreparedSite;

/// Picks up to `spread.maximum` sites from `ranked` (best first). The caller checks the minimum.
pub fn select<'a>(
    ranked: &'a [SiteScore],
    spread: &EffectiveSpread,
    site: impl Fn(&str) -> Option<&'a PreparedSite>,
) -> Vec<String> {
    let mut chosen = Vec::new();
    let mut used_zones: BTreeSet<&str> = BTreeSet::new();
    let mut used_providers: BTreeSet<&str> = BTreeSet::new();
    for candidate in ranked {
        if chosen.len() as u64 >= u64::from(spread.maximum) {
            break;
        }
        let Some(facts) = site(&candidate.site) else {
            continue;
        };
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
            chosen.push(candidate.site.clone());
        }
    }
    chosen
}
