//! `Site`: one place workloads can run, i.e. one Kubernetes cluster, with the facts that residency
//! law and availability targets are judged against.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::availability::AVAILABILITY_PATTERN;
use super::capacity::Capacity;
use super::jurisdiction::{JURISDICTION_MESSAGE, jurisdiction_rule};
use super::site_nodes::ObservedNodes;
use super::sovereignty::{KeyCustody, SovereigntyTier};

/// A site of the state data centre: one Kubernetes cluster that tenants' workloads can run on.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "soberana.io",
    version = "v1alpha1",
    kind = "Site",
    status = "SiteStatus",
    shortname = "st",
    category = "soberana",
    derive = "PartialEq",
    doc = "A site of the state data centre: one Kubernetes cluster, its sovereignty tier, jurisdiction, certifications and capacity.",
    printcolumn(name = "Tier", type_ = "string", json_path = ".spec.sovereigntyTier"),
    printcolumn(
        name = "Jurisdiction",
        type_ = "string",
        json_path = ".spec.jurisdiction"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Availability",
        type_ = "string",
        json_path = ".status.measuredAvailability"
    ),
    printcolumn(
        name = "Offered",
        type_ = "string",
        json_path = ".spec.offeredAvailability"
    ),
    printcolumn(
        name = "Policy",
        type_ = "string",
        json_path = ".status.residency.policyRevision"
    ),
    printcolumn(
        name = "Violations",
        type_ = "integer",
        json_path = ".status.residency.violationCount"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct SiteSpec {
    /// Who operates the site, e.g. the state's digital agency or a cloud provider.
    #[schemars(length(min = 1, max = 128))]
    pub provider: String,
    /// How much of the site the state controls.
    pub sovereignty_tier: SovereigntyTier,
    /// The country whose law governs the data at this site (ISO 3166-1 alpha-2, e.g. `CR`).
    #[x_kube(validation = Rule::new(jurisdiction_rule()).message(JURISDICTION_MESSAGE))]
    pub jurisdiction: String,
    /// The provider's region name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub region: Option<String>,
    /// Failure zones inside the site; spread rules can ask for distinct zones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub zones: Vec<String>,
    /// Certifications the site holds (e.g. `ISO27001`, `TierIII`), matched exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub certifications: Vec<String>,
    /// Key-custody models the site offers for encryption at rest. Each also meets requirements
    /// of weaker models: StateHeldHsm > CustomerManaged (BYOK/HYOK) > ProviderManaged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 3))]
    pub key_custody: Vec<KeyCustody>,
    /// Whether all traffic to and inside the site is encrypted.
    #[serde(default)]
    pub encryption_in_transit: bool,
    /// The backups the site can keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupCapability>,
    /// Availability the site's operator commits to, as a percentage (e.g. `"99.95"`).
    #[schemars(regex(pattern = AVAILABILITY_PATTERN))]
    pub offered_availability: String,
    /// What the site can give to tenants' workloads in total.
    pub capacity: Capacity,
    /// Relative cost of running here (0 cheapest … 100 dearest), for the `cost` preference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub cost_index: Option<u32>,
    /// How the operator reaches the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<SiteConnection>,
    /// Marks that keep new placements away (maintenance, cordon), unless a workload tolerates them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["key".into()]))]
    pub taints: Vec<SiteTaint>,
}

/// Backups a site can keep: how many copies, and where.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BackupCapability {
    /// Independent backup copies kept.
    #[schemars(range(max = 10))]
    pub copies: u32,
    /// Country where the backup copies are kept (ISO 3166-1 alpha-2).
    #[x_kube(validation = Rule::new(jurisdiction_rule()).message(JURISDICTION_MESSAGE))]
    pub jurisdiction: String,
}

/// Where the credentials for a site's cluster are.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SiteConnection {
    /// Secret, in the operator's namespace, holding a kubeconfig for the site's cluster.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Key inside the Secret; `kubeconfig` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Lab sites only: accept `insecure-skip-tls-verify: true` in the kubeconfig, which lets
    /// anyone on the network path take the site's credentials.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_insecure_skip_tls_verify: bool,
}

/// A mark that keeps new placements off a site.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SiteTaint {
    /// What the taint is about, e.g. `maintenance` or `cordon`; workloads tolerate it by key.
    #[schemars(length(min = 1, max = 63))]
    pub key: String,
    /// Why, for people reading a placement decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What Soberana last observed of the site.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SiteStatus {
    /// `Ready` (reachable and serving), `Reachable` and others; keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Kubernetes version the site's API server reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// When the site was last probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<Time>,
    /// Availability measured over the rolling window, as a percentage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_availability: Option<String>,
    /// Capacity already given to tenants' workloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated: Option<Capacity>,
    /// What the site's nodes hold, as last read: allocatable, requested by Pods, and free.
    /// Placement uses the smaller of this and the declared capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<ObservedNodes>,
    /// The residency policies in force in the site's cluster and what the last scan found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residency: Option<ResidencyStatus>,
}

/// Residency enforcement on a site: which compiled admission policies its API server enforces,
/// and the existing objects that break them (created before a policy tightened).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResidencyStatus {
    /// Revision of the compiled admission policies in force in the site's cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_revision: Option<String>,
    /// When that revision was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_time: Option<Time>,
    /// The classifications the policies in force let the site host, least sensitive first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_classifications: Vec<String>,
    /// The policy revision the last violation scan judged existing objects against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_revision: Option<String>,
    /// Existing objects that break residency, at the last scan.
    #[serde(default)]
    pub violation_count: u32,
    /// The same count per classification (`unlabelled` for objects without one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub violations_by_classification: BTreeMap<String, u32>,
    /// The first offenders, in kind/namespace/name order (at most 20); Soberana never deletes
    /// them, people decide.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offenders: Vec<ResidencyOffender>,
}

/// An existing object in a site's cluster that breaks residency.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ResidencyOffender {
    /// `Deployment`, `Pod`, `Namespace`, …
    pub kind: String,
    /// Its namespace; absent for namespaces themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// Its effective classification; empty when it has none.
    #[serde(default)]
    pub classification: String,
    /// `NotAllowedOnSite`, `UnknownClassification`, `AboveCeiling` or `Unlabelled`.
    pub reason: String,
    /// What the site's API server would answer if the object were created now.
    pub message: String,
}
