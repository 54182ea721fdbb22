//! `PlacementRule`: constraints and preferences that security teams add on top of the
//! classifications, for the workloads a rule selects.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Extra hard constraints and weighted preferences for the workloads a rule selects.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "soberana.io",
    version = "v1alpha1",
    kind = "PlacementRule",
    status = "PlacementRuleStatus",
    shortname = "pr",
    category = "soberana",
    derive = "PartialEq",
    doc = "Hard constraints and weighted preferences for the workloads a rule selects; a higher priority wins where rules conflict.",
    printcolumn(name = "Priority", type_ = "integer", json_path = ".spec.priority"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct PlacementRuleSpec {
    /// Order among rules: preferences of a higher priority rule replace those of lower ones;
    /// constraints of all matching rules apply together.
    #[serde(default)]
    #[schemars(range(min = -1000, max = 1000))]
    pub priority: i32,
    /// Which workloads the rule applies to; an empty selector selects every workload.
    #[serde(default)]
    pub selector: WorkloadSelector,
    /// Hard constraints: a site that fails one is not eligible.
    #[serde(default)]
    pub constraints: PlacementConstraints,
    /// How eligible sites are ranked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferences: Option<Preferences>,
}

/// Selects workloads by tenant, classification and labels (all given parts must match).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSelector {
    /// Tenant names; empty means any tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<String>,
    /// Classification names; empty means any classification.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classifications: Vec<String>,
    /// Labels the Workload must carry, all of them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
}

/// Hard constraints added by a rule.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PlacementConstraints {
    /// Labels a Site must carry, all of them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub site_selector: BTreeMap<String, String>,
    /// Sites never to use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_sites: Vec<String>,
    /// How many sites to spread over, and across what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<Spread>,
}

/// Spread over several sites, for availability.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.maximumSites) || self.minimumSites <= self.maximumSites").message("spread.minimumSites must not exceed spread.maximumSites"))]
pub struct Spread {
    /// Fewest sites to run on; fewer eligible sites make the workload unplaceable.
    #[schemars(range(min = 1, max = 64))]
    pub minimum_sites: u32,
    /// Most sites to run on; `minimumSites` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub maximum_sites: Option<u32>,
    /// What the chosen sites must differ in.
    #[serde(default)]
    pub across: SpreadDomain,
}

/// What spread sites must differ in.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpreadDomain {
    /// Distinct sites are enough.
    #[default]
    Sites,
    /// Sites with no failure zone in common.
    Zones,
    /// Sites run by different providers.
    Providers,
}

/// Weights (0–100) of the scoring criteria; only relative sizes matter.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Preferences {
    /// Prefer more sovereign sites (state-owned over national over foreign).
    #[serde(default)]
    #[schemars(range(max = 100))]
    pub sovereignty: u32,
    /// Prefer cheaper sites (lower cost index).
    #[serde(default)]
    #[schemars(range(max = 100))]
    pub cost: u32,
    /// Prefer sites offering higher availability.
    #[serde(default)]
    #[schemars(range(max = 100))]
    pub availability: u32,
    /// Prefer sites close to the workload's data (same site, then same region, then country).
    #[serde(default)]
    #[schemars(range(max = 100))]
    pub proximity: u32,
}

/// What Soberana observed of the rule.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlacementRuleStatus {
    /// `Ready` and others; keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
