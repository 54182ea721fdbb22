//! `Workload`: one agency service to be placed or migrated, in its tenant's namespace on the
//! management cluster; its status carries the placement decision.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::availability::AVAILABILITY_PATTERN;
use super::capacity::Capacity;
use super::placement_rule::Spread;
use crate::placement::Decision;

/// An agency's service: what it needs, how sensitive its data is, and where it runs today.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "soberana.io",
    version = "v1alpha1",
    kind = "Workload",
    namespaced,
    status = "WorkloadStatus",
    shortname = "wl",
    category = "soberana",
    derive = "PartialEq",
    doc = "An agency service to place or migrate; its status holds the explained placement decision.",
    printcolumn(name = "Tenant", type_ = "string", json_path = ".spec.tenant"),
    printcolumn(
        name = "Classification",
        type_ = "string",
        json_path = ".spec.classification"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Sites", type_ = "string", json_path = ".status.chosenSites"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSpec {
    /// The Tenant (institution) that owns the service.
    #[schemars(length(min = 1, max = 253))]
    pub tenant: String,
    /// Name of the DataClassification of the data the service handles.
    #[schemars(length(min = 1, max = 253))]
    pub classification: String,
    /// What one replica needs.
    pub resources: Capacity,
    /// Replicas to run on each chosen site.
    #[schemars(range(min = 1, max = 1000))]
    pub replicas: u32,
    /// Availability the service must reach, as a percentage; sites offering less are rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = AVAILABILITY_PATTERN))]
    pub availability_target: Option<String>,
    /// Spread over several sites; combined with any spread a PlacementRule asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<Spread>,
    /// Site taints (by key) the service accepts, e.g. `maintenance`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub tolerations: Vec<String>,
    /// Where the service's data lives, for the `proximity` preference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_location: Option<DataLocation>,
    /// Where the service runs today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_source: Option<MigrationSource>,
    /// Labels PlacementRules select on (copied from the object's labels when empty).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Where a service's data is.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DataLocation {
    /// A Site holding the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// A provider region holding the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// Where a service runs before its migration: another Site, or somewhere outside Soberana.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.site) != has(self.external)").message("migrationSource needs exactly one of site or external"))]
pub struct MigrationSource {
    /// A Site it runs on today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// A description of an external location (e.g. `ministry basement rack 4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub external: Option<String>,
}

/// Where a workload's placement stands.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadPhase {
    /// Not yet evaluated.
    Pending,
    /// Sites are chosen; nothing is deployed yet.
    Placed,
    /// Being applied to the chosen sites.
    Deploying,
    /// Running on every chosen site.
    Running,
    /// No site may host it; the decision says why.
    Unplaceable,
    /// A chosen site failed; moving to other eligible sites.
    FailingOver,
}

/// The placement decision and rollout of a workload.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadStatus {
    /// `Ready`, `Placed` and others; keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Where placement stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<WorkloadPhase>,
    /// Sites the workload was placed on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chosen_sites: Vec<String>,
    /// The latest placement decision: scores of eligible sites and the reasons for every
    /// rejected one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}
