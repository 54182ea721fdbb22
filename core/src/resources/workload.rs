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
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
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
    /// What to run on each chosen site; without it the workload is placed but nothing is
    /// deployed (useful to plan a migration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<WorkloadTemplate>,
    /// What happens when a chosen site fails.
    #[serde(default)]
    pub failover: FailoverPolicy,
    /// Never on the wire: set in memory by a cache that kept a template over
    /// [`MAX_TEMPLATE_BYTES`] out of memory, to the size it had, so the Workload is reported
    /// instead of being taken for one without a template.
    #[serde(skip)]
    #[schemars(skip)]
    pub template_over_limit: Option<usize>,
}

/// The most a Workload's `spec.template` may weigh, as compact JSON. The operator keeps every
/// Workload in memory: without a bound, a few dozen huge templates from one agency would push it
/// past its memory limit, and while it restarted nothing else would converge.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// A template over [`MAX_TEMPLATE_BYTES`], with its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "spec.template is {bytes} bytes as JSON; a Workload's template may be at most {limit} bytes: move large data (configuration, scripts) into a ConfigMap on the site",
    limit = MAX_TEMPLATE_BYTES
)]
pub struct TemplateTooLarge {
    pub bytes: usize,
}

impl WorkloadTemplate {
    /// Its size as compact JSON, the measure [`MAX_TEMPLATE_BYTES`] bounds.
    pub fn encoded_size(&self) -> usize {
        let mut counter = ByteCounter(0);
        // Writing into a counter cannot fail: the value came from JSON.
        let _ = serde_json::to_writer(&mut counter, self);
        counter.0
    }
}

impl WorkloadSpec {
    /// Whether the template is within [`MAX_TEMPLATE_BYTES`] (or was dropped from memory for
    /// being over it, which it reports).
    pub fn template_within_limit(&self) -> Result<(), TemplateTooLarge> {
        if let Some(bytes) = self.template_over_limit {
            return Err(TemplateTooLarge { bytes });
        }
        match &self.template {
            Some(template) => {
                let bytes = template.encoded_size();
                if bytes > MAX_TEMPLATE_BYTES {
                    Err(TemplateTooLarge { bytes })
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    /// Drops a template over [`MAX_TEMPLATE_BYTES`] from this in-memory copy, remembering its
    /// size; what a cache does before keeping the object.
    pub fn drop_template_over_limit(&mut self) {
        if let Err(TemplateTooLarge { bytes }) = self.template_within_limit() {
            self.template = None;
            self.template_over_limit = Some(bytes);
        }
    }
}

/// Counts the bytes written to it and keeps none.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The Kubernetes objects to run on each chosen site, in the tenant's namespace there, named
/// after the Workload. Soberana sets the Deployment's replicas and puts the classification label
/// on the Deployment and its pod template, so that each site's admission policies judge them.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadTemplate {
    /// The `spec` of an `apps/v1` Deployment (validated by each site's API server).
    #[schemars(schema_with = "any_object")]
    pub deployment: serde_json::Value,
    /// The `spec` of a `v1` Service in front of it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub service: Option<serde_json::Value>,
}

fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// Failover: how long a chosen site may be down before the workload moves, and what becomes of
/// the copy left there.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FailoverPolicy {
    /// Seconds a chosen site may stay not Ready before the workload is placed elsewhere.
    #[serde(default = "default_grace_period")]
    #[schemars(range(max = 86400))]
    pub grace_period_seconds: u32,
    /// What to do with the copy on a failed site once it is reachable again.
    #[serde(default)]
    pub stale_copies: StaleCopies,
}

fn default_grace_period() -> u32 {
    60
}

impl Default for FailoverPolicy {
    fn default() -> Self {
        Self {
            grace_period_seconds: default_grace_period(),
            stale_copies: StaleCopies::default(),
        }
    }
}

/// The copy of a workload left on a site it failed over from.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StaleCopies {
    /// Deleted when the site is reachable again.
    #[default]
    Remove,
    /// Left in place (scaled as it was) for people to inspect or remove.
    Keep,
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
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
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
    /// rejected one (at most 10 reasons per site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Rollout on every site the workload runs on or was removed from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<WorkloadSiteStatus>,
    /// The last failover, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failover: Option<FailoverRecord>,
}

/// Where the workload stands on one site.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadSiteState {
    /// Placed there, with no template to deploy.
    Placed,
    /// Applied; not every replica is available yet.
    Deploying,
    /// Every replica available.
    Running,
    /// Applied, but the site's scheduler finds no node with room for some replicas (its reason
    /// is in the message).
    Unschedulable,
    /// The site did not answer, is not Ready, or no longer exists.
    Unreachable,
    /// The site refused the objects.
    Failed,
    /// A copy left after the workload moved away, removed as soon as the site answers.
    Stale,
}

impl WorkloadSiteState {
    /// The name shown in status and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Placed => "Placed",
            Self::Deploying => "Deploying",
            Self::Running => "Running",
            Self::Unschedulable => "Unschedulable",
            Self::Unreachable => "Unreachable",
            Self::Failed => "Failed",
            Self::Stale => "Stale",
        }
    }
}

/// The workload on one site.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSiteStatus {
    /// The Site.
    pub site: String,
    /// Where the workload stands there.
    pub state: WorkloadSiteState,
    /// Replicas wanted there.
    #[serde(default)]
    pub desired_replicas: u32,
    /// Replicas available there at the last look.
    #[serde(default)]
    pub available_replicas: u32,
    /// Why the state is what it is, when it is not `Running`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A move of the workload away from failed sites.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FailoverRecord {
    /// The sites it left.
    pub from: Vec<String>,
    /// The sites it moved to.
    pub to: Vec<String>,
    /// Why, in one sentence.
    pub reason: String,
    /// When.
    pub time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
}
