//! Which placement rules select a workload, and what they add up to: constraints from every
//! matching rule, preferences from the highest-priority rule that states any, spread combined.

use crate::resources::placement_rule::{Preferences, Spread, SpreadDomain};
use crate::resources::workload::WorkloadSpec;

use super::snapshot::PreparedRule;

/// Weights used when no matching rule states preferences.
pub const DEFAULT_PREFERENCES: Preferences = Preferences {
    sovereignty: 40,
    cost: 20,
    availability: 30,
    proximity: 10,
};

/// The rules that select a workload, in priority order; `label` gives the workload's labels.
pub fn matching_rules<'a, 'l>(
    rules: &'a [PreparedRule],
    workload: &WorkloadSpec,
    label: impl Fn(&str) -> Option<&'l String>,
) -> Vec<&'a PreparedRule> {
    rules
        .iter()
        .filter(|rule| {
            let selector = &rule.spec.selector;
            (selector.tenants.is_empty() || selector.tenants.contains(&workload.tenant))
                && (selector.classifications.is_empty()
                    || selector.classifications.contains(&workload.classification))
                && selector
                    .match_labels
                    .iter()
                    .all(|(key, value)| label(key) == Some(value))
        })
        .collect()
}

/// The preferences in force: the first (highest-priority) matching rule that states any.
pub fn effective_preferences(rules: &[&PreparedRule]) -> Preferences {
    rules
        .iter()
        .find_map(|rule| rule.spec.preferences)
        .unwrap_or(DEFAULT_PREFERENCES)
}

/// The spread in force, combining the workload's own with every matching rule's: the largest
/// minimum, the smallest maximum, and the strictest domain (providers over zones over sites).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EffectiveSpread {
    pub minimum: u32,
    pub maximum: u32,
    pub across: SpreadDomain,
}

pub fn effective_spread(workload: Option<&Spread>, rules: &[&PreparedRule]) -> EffectiveSpread {
    let spreads = workload.into_iter().chain(
        rules
            .iter()
            .filter_map(|rule| rule.spec.constraints.spread.as_ref()),
    );
    let mut effective = EffectiveSpread {
        minimum: 1,
        maximum: u32::MAX,
        across: SpreadDomain::Sites,
    };
    let mut any = false;
    for spread in spreads {
        any = true;
        effective.minimum = effective.minimum.max(spread.minimum_sites);
        effective.maximum = effective
            .maximum
            .min(spread.maximum_sites.unwrap_or(spread.minimum_sites));
        effective.across = strictest(effective.across, spread.across);
    }
    if !any {
        effective.maximum = 1;
    }
    effective
}

fn strictest(left: SpreadDomain, right: SpreadDomain) -> SpreadDomain {
    let rank = |domain: SpreadDomain| match domain {
        SpreadDomain::Sites => 0,
        SpreadDomain::Zones => 1,
        SpreadDomain::Providers => 2,
    };
    if rank(right) > rank(left) {
        right
    } else {
        left
    }
}
