//! Ranking eligible sites: each criterion scores a site 0–100, the matched rules weight them.

use crate::resources::availability::Availability;
use crate::resources::placement_rule::Preferences;
use crate::resources::workload::DataLocation;

use super::decision::{CriterionScore, SiteScore};
use super::snapshot::PreparedSite;

/// Cost score for a site that states no cost index: the middle of the range.
const UNKNOWN_COST_SCORE: u32 = 50;
/// Availability at or below this scores 0; 100 % scores 100.
const AVAILABILITY_FLOOR: Availability = Availability::from_parts_per_million(990_000);

/// Scores `site` on every criterion under `preferences`.
pub fn score(
    site: &PreparedSite,
    preferences: &Preferences,
    data_location: Option<&DataLocation>,
    data_site: Option<&PreparedSite>,
) -> SiteScore {
    let tier = site.spec.sovereignty_tier;
    let (cost, cost_basis) = match site.spec.cost_index {
        Some(index) => (100 - index.min(100), format!("cost index {index}")),
        None => (UNKNOWN_COST_SCORE, "cost index not stated".to_owned()),
    };
    let availability = site
        .offered_availability
        .parts_per_million()
        .saturating_sub(AVAILABILITY_FLOOR.parts_per_million())
        / 100;
    let (proximity, proximity_basis) = proximity(site, data_location, data_site);
    let criteria = vec![
        criterion(
            "sovereignty",
            preferences.sovereignty,
            tier.sovereignty_score(),
            tier.to_string(),
        ),
        criterion("cost", preferences.cost, cost, cost_basis),
        criterion(
            "availability",
            preferences.availability,
            availability.min(100),
            format!("offers {}", site.offered_availability),
        ),
        criterion(
            "proximity",
            preferences.proximity,
            proximity,
            proximity_basis,
        ),
    ];
    SiteScore {
        site: site.name.clone(),
        total: criteria.iter().map(|criterion| criterion.weighted).sum(),
        criteria,
    }
}

fn criterion(name: &str, weight: u32, score: u32, basis: String) -> CriterionScore {
    CriterionScore {
        criterion: name.to_owned(),
        weight,
        score,
        weighted: weight * score,
        basis,
    }
}

fn proximity(
    site: &PreparedSite,
    data_location: Option<&DataLocation>,
    data_site: Option<&PreparedSite>,
) -> (u32, String) {
    let Some(location) = data_location else {
        return (0, "no data location given".to_owned());
    };
    if location.site.as_deref() == Some(site.name.as_str()) {
        return (100, "holds the data".to_owned());
    }
    let data_region = location
        .region
        .as_deref()
        .or_else(|| data_site.and_then(|data| data.spec.region.as_deref()));
    if data_region.is_some() && data_region == site.spec.region.as_deref() {
        return (70, "same region as the data".to_owned());
    }
    if let Some(data) = data_site
        && data.spec.jurisdiction == site.spec.jurisdiction
    {
        return (40, "same country as the data".to_owned());
    }
    (0, "away from the data".to_owned())
}
