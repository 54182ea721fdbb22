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

/// Scores `site` on every criterion under `preferences`, each with what it is based on.
pub fn score(
    site: &PreparedSite,
    preferences: &Preferences,
    data_location: Option<&DataLocation>,
    data_site: Option<&PreparedSite>,
) -> SiteScore {
    let cost_basis = match site.spec.cost_index {
        Some(index) => format!("cost index {index}"),
        None => "cost index not stated".to_owned(),
    };
    let (proximity, proximity_basis) = proximity(site, data_location, data_site);
    let criteria = vec![
        criterion(
            "sovereignty",
            preferences.sovereignty,
            sovereignty_score(site),
            site.spec.sovereignty_tier.to_string(),
        ),
        criterion("cost", preferences.cost, cost_score(site), cost_basis),
        criterion(
            "availability",
            preferences.availability,
            availability_score(site),
            format!("offers {}", site.offered_availability),
        ),
        criterion(
            "proximity",
            preferences.proximity,
            proximity,
            proximity_basis.to_owned(),
        ),
    ];
    SiteScore {
        site: site.name.clone(),
        total: criteria.iter().map(|criterion| criterion.weighted).sum(),
        criteria,
    }
}

/// The sum of the weighted scores `score` gives, without saying what they are based on.
pub fn total(
    site: &PreparedSite,
    preferences: &Preferences,
    data_location: Option<&DataLocation>,
    data_site: Option<&PreparedSite>,
) -> u32 {
    preferences.sovereignty * sovereignty_score(site)
        + preferences.cost * cost_score(site)
        + preferences.availability * availability_score(site)
        + preferences.proximity * proximity(site, data_location, data_site).0
}

/// The sovereignty, cost and availability scores, which depend on the site alone.
pub fn base_scores(site: &PreparedSite) -> [u32; 3] {
    [
        sovereignty_score(site),
        cost_score(site),
        availability_score(site),
    ]
}

fn sovereignty_score(site: &PreparedSite) -> u32 {
    site.spec.sovereignty_tier.sovereignty_score()
}

fn cost_score(site: &PreparedSite) -> u32 {
    site.spec
        .cost_index
        .map_or(UNKNOWN_COST_SCORE, |index| 100 - index.min(100))
}

fn availability_score(site: &PreparedSite) -> u32 {
    (site
        .offered_availability
        .parts_per_million()
        .saturating_sub(AVAILABILITY_FLOOR.parts_per_million())
        / 100)
        .min(100)
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
) -> (u32, &'static str) {
    let Some(location) = data_location else {
        return (0, "no data location given");
    };
    if location.site.as_deref() == Some(site.name.as_str()) {
        return (100, "holds the data");
    }
    let data_region = location
        .region
        .as_deref()
        .or_else(|| data_site.and_then(|data| data.spec.region.as_deref()));
    if data_region.is_some() && data_region == site.spec.region.as_deref() {
        return (70, "same region as the data");
    }
    if let Some(data) = data_site
        && data.spec.jurisdiction == site.spec.jurisdiction
    {
        return (40, "same country as the data");
    }
    (0, "away from the data")
}
