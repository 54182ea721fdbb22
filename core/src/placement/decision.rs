//! The explained outcome of placing one workload.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::reason::Reason;

/// Everything the engine decided about one workload, and why.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// `namespace/name` of the workload.
    pub workload: String,
    pub outcome: Outcome,
    /// Sites chosen, best first; empty when unplaceable.
    pub chosen_sites: Vec<String>,
    /// How many sites the workload needed (its spread), and what they had to differ in.
    pub required_sites: RequiredSites,
    /// Every eligible site with its score, best first (ties broken by name).
    pub eligible: Vec<SiteScore>,
    /// Every rejected site with every reason, by site name.
    pub rejected: Vec<SiteRejection>,
    /// Placement rules that selected this workload, highest priority first.
    pub matched_rules: Vec<String>,
    /// Why no placement was possible; `None` when placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unplaceable: Option<Unplaceable>,
}

/// Placed or not.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Placed,
    Unplaceable,
}

/// The spread a workload needed.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RequiredSites {
    /// Fewest sites to run on.
    pub minimum: u32,
    /// Most sites to run on.
    pub maximum: u32,
    /// `Sites`, `Zones` or `Providers`.
    pub across: String,
}

/// An eligible site's score, criterion by criterion.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct SiteScore {
    /// The Site.
    pub site: String,
    /// Sum of the weighted criterion scores.
    pub total: u32,
    /// The score on each criterion.
    pub criteria: Vec<CriterionScore>,
}

/// One scoring criterion for one site.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct CriterionScore {
    /// `sovereignty`, `cost`, `availability` or `proximity`.
    pub criterion: String,
    /// The weight the matched rules gave it.
    pub weight: u32,
    /// The site's score on this criterion, 0–100.
    pub score: u32,
    /// `weight × score`.
    pub weighted: u32,
    /// What the score is based on, e.g. `StateOwned` or `cost index 30`.
    pub basis: String,
}

/// A rejected site and every reason.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct SiteRejection {
    /// The Site.
    pub site: String,
    /// Every reason the site cannot host the workload.
    pub reasons: Vec<Reason>,
}

/// Why a workload could not be placed.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct Unplaceable {
    /// `NoEligibleSite`, `NotEnoughSitesForSpread` or `ConflictingSpread`.
    pub code: String,
    /// One sentence for people.
    pub message: String,
}

impl Decision {
    /// The decision with at most `reasons` reasons per rejected site, so that it fits in an
    /// object's status however many rules fire (the first reasons are the residency ones).
    pub fn bounded(&self, reasons: usize) -> Self {
        let mut bounded = self.clone();
        for rejection in &mut bounded.rejected {
            rejection.reasons.truncate(reasons);
        }
        bounded
    }

    /// Names of the eligible sites, best first.
    pub fn eligible_sites(&self) -> impl Iterator<Item = &str> {
        self.eligible.iter().map(|score| score.site.as_str())
    }
}
