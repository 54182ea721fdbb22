//! `Tenant`: one institution sharing the state data centre, with its owners, classification
//! ceiling, environments, quotas and the sites it may use.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An institution (ministry, agency, social-security fund…) and what it gets on every site.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "soberana.io",
    version = "v1alpha1",
    kind = "Tenant",
    status = "TenantStatus",
    shortname = "tn",
    category = "soberana",
    derive = "PartialEq",
    doc = "An institution sharing the state data centre: owners, highest classification, environments, quotas and allowed sites.",
    printcolumn(name = "Code", type_ = "string", json_path = ".spec.shortCode"),
    printcolumn(name = "Sector", type_ = "string", json_path = ".spec.sector"),
    printcolumn(
        name = "Ceiling",
        type_ = "string",
        json_path = ".spec.highestClassification"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct TenantSpec {
    /// The institution's name as people write it.
    #[schemars(length(min = 1, max = 256))]
    pub display_name: String,
    /// Short code used in namespace names on every site (`<code>-<environment>`): a DNS label
    /// of at most 20 characters, fixed once set, unique among Tenants, and never one that would
    /// name the platform's own namespaces or a platform add-on's (`kube`, `openshift`,
    /// `soberana`, `istio`, `velero`, `monitoring`… and their `-` prefixes, `cert-manager*`).
    #[x_kube(
        validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("shortCode must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"),
        validation = Rule::new("!self.matches('^(kube|openshift|soberana|default)(-.*)?$')").message("shortCode is reserved: kube, openshift, soberana, default and codes starting with them and '-' would name the platform's own namespaces"),
        validation = Rule::new("!self.matches('^((istio|velero|monitoring|linkerd|calico|tigera|cattle|gatekeeper|ingress)(-.*)?|cert-manager.*)$')").message("shortCode is reserved for platform add-ons: istio, velero, monitoring, linkerd, calico, tigera, cattle, gatekeeper, ingress (and codes starting with them and '-') and cert-manager* would name the namespaces a data centre installs its add-ons in"),
        validation = Rule::new("self == oldSelf").message("shortCode is immutable: namespaces on every site are named after it")
    )]
    #[schemars(length(min = 1, max = 20))]
    pub short_code: String,
    /// The institution's sector (e.g. `Health`, `Tax`), for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub sector: Option<String>,
    /// People and groups who administer the tenant's namespaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub owners: Vec<Owner>,
    /// Name of the most sensitive DataClassification the institution may handle.
    #[schemars(length(min = 1, max = 253))]
    pub highest_classification: String,
    /// Classification given to workloads in the tenant's namespaces that carry no
    /// `soberana.io/classification` label; without it such workloads are refused on every site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub default_classification: Option<String>,
    /// Environments, one namespace each on every allowed site (e.g. `prod`, `staging`).
    #[schemars(length(min = 1, max = 8))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub environments: Vec<TenantEnvironment>,
    /// Quota for each environment's namespace on each site, unless the environment overrides it.
    pub quota: TenantQuota,
    /// Sites the tenant may use; empty means every site its classifications allow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub allowed_sites: Vec<String>,
    /// Destinations the tenant's workloads may reach outside the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub egress: Vec<EgressAllowance>,
    /// What happens to the namespaces on member sites when the tenant is deleted or leaves a
    /// site; `Retain` (the default) keeps the institution's data.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Pod Security Standard enforced in the tenant's namespaces; `Restricted` by default.
    #[serde(default)]
    pub pod_security: PodSecurityLevel,
    /// Sites a person confirms the tenant may be removed from after a policy change (a stricter
    /// classification, changed site facts) made them ineligible: until a site is named here its
    /// namespaces stay and `status.sites` reports it `RemovalPending`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub confirm_removal_from: Vec<String>,
}

/// The Pod Security Standard enforced in a tenant's namespaces
/// (`pod-security.kubernetes.io/enforce`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PodSecurityLevel {
    /// The hardened profile: non-root, no privilege escalation, dropped capabilities.
    #[default]
    Restricted,
    /// The minimal profile, for workloads that cannot yet run restricted.
    Baseline,
}

impl PodSecurityLevel {
    /// The label value Kubernetes' Pod Security admission reads.
    pub fn label_value(self) -> &'static str {
        match self {
            Self::Restricted => "restricted",
            Self::Baseline => "baseline",
        }
    }
}

/// Someone who administers a tenant.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub kind: OwnerKind,
    /// User or group name as the clusters' authenticator reports it.
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
}

/// Whether an owner is a user or a group.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerKind {
    /// A single user.
    User,
    /// A group of users, as the clusters' authenticator reports it.
    Group,
}

/// One environment of a tenant.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TenantEnvironment {
    /// Environment name: lowercase letters and digits, no '-' (e.g. `prod`), so that the
    /// namespace `<shortCode>-<environment>` can never be another tenant's; never `system`, so
    /// that it can never be a platform add-on's (`<add-on>-system`).
    #[schemars(length(min = 1, max = 20))]
    #[x_kube(
        validation = Rule::new("self.matches('^[a-z0-9]+$')").message("environment name must be lowercase letters and digits only (no '-'), so that <shortCode>-<environment> cannot equal another tenant's namespace"),
        validation = Rule::new("self != 'system'").message("environment name system is reserved: <shortCode>-system would name a platform add-on's namespace (istio-system, gatekeeper-system, ...)")
    )]
    pub name: String,
    /// Quota for this environment instead of the tenant's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<TenantQuota>,
}

/// Resource quota for one namespace.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TenantQuota {
    /// CPU requests in millicores.
    pub cpu_millicores: u64,
    /// Memory requests in mebibytes.
    pub memory_mebibytes: u64,
    /// Persistent storage requests in gibibytes.
    #[serde(default)]
    pub storage_gibibytes: u64,
    /// Pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<u32>,
}

/// A destination outside the cluster that a tenant's workloads may reach.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EgressAllowance {
    /// Name of the allowance (e.g. `tax-authority-api`).
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// Destination network in CIDR notation.
    #[schemars(length(min = 1, max = 64))]
    pub cidr: String,
    /// TCP ports; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
}

/// What happens on member sites when a tenant is deleted. `Retain` is the default so that
/// deleting a Tenant object by mistake never deletes an institution's data.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Delete the tenant's namespaces and everything in them.
    Delete,
    /// Keep the namespaces; only remove Soberana's labels from them.
    #[default]
    Retain,
}

/// What Soberana provisioned for the tenant.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    /// `Ready` when every site is provisioned, and others; keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Provisioning state per site.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["site".into()]))]
    pub sites: Vec<TenantSiteStatus>,
}

/// Provisioning state of a tenant on one site.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TenantSiteStatus {
    /// The Site.
    pub site: String,
    /// Whether the tenant's objects are in place there.
    pub state: ProvisioningState,
    /// Why, when not provisioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Where provisioning of a tenant on a site stands.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProvisioningState {
    /// Every namespace and its policies are in place.
    Provisioned,
    /// Not yet done, e.g. the site is unreachable and will be retried.
    Pending,
    /// The site refused the objects; the message says why.
    Failed,
    /// A namespace the tenant needs there belongs to someone else (another Tenant, or the
    /// cluster itself); nothing was written there.
    Conflict,
    /// A policy change made the site ineligible; the namespaces stay until a person confirms
    /// the removal in `spec.confirmRemovalFrom`.
    RemovalPending,
}

impl Tenant {
    /// Whether the operator reports the tenant `Ready=True` for its current generation, i.e.
    /// provisioned on every site it may use as the spec now reads.
    pub fn is_ready(&self) -> bool {
        self.status.as_ref().is_some_and(|status| {
            status.observed_generation == self.metadata.generation
                && super::condition_types::ConditionType::Ready.is_true(&status.conditions)
        })
    }
}
