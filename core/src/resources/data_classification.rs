//! `DataClassification`: one level of the national data-classification scheme, ranked, with the
//! hosting requirements the law attaches to it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::availability::AVAILABILITY_PATTERN;
use super::jurisdiction::{JURISDICTION_MESSAGE, jurisdiction_rule};
use super::sovereignty::{KeyCustody, SovereigntyTier};

/// A classification level (e.g. public, internal, confidential, restricted) and what a site must
/// offer to host data of that level.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "soberana.io",
    version = "v1alpha1",
    kind = "DataClassification",
    status = "DataClassificationStatus",
    shortname = "dcl",
    category = "soberana",
    derive = "PartialEq",
    doc = "A data-classification level, its rank and the hosting requirements the law attaches to it.",
    printcolumn(name = "Rank", type_ = "integer", json_path = ".spec.rank"),
    printcolumn(
        name = "Jurisdictions",
        type_ = "string",
        json_path = ".spec.allowedJurisdictions"
    ),
    printcolumn(
        name = "Tiers",
        type_ = "string",
        json_path = ".spec.allowedSovereigntyTiers"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct DataClassificationSpec {
    /// Sensitivity, higher is more sensitive; a tenant's ceiling and rules compare ranks.
    #[schemars(range(max = 1000))]
    pub rank: u32,
    /// What data belongs in this level, for people choosing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// The law, decree or regulation this level implements; quoted in every rejection.
    #[schemars(length(min = 1, max = 1024))]
    pub legal_basis: String,
    /// Countries where data of this level may be hosted (ISO 3166-1 alpha-2); empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new(format!("self.all(code, {})", jurisdiction_rule().replace("self", "code"))).message(JURISDICTION_MESSAGE))]
    pub allowed_jurisdictions: Vec<String>,
    /// Sovereignty tiers that may host data of this level; empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 3))]
    pub allowed_sovereignty_tiers: Vec<SovereigntyTier>,
    /// Certifications a site must hold, every one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub required_certifications: Vec<String>,
    /// Encryption at rest, and who must hold the keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_at_rest: Option<EncryptionAtRest>,
    /// Whether the site must encrypt all traffic.
    #[serde(default)]
    pub encryption_in_transit: bool,
    /// Backups the site must keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupRequirement>,
    /// The lowest availability a site may offer to host this level, as a percentage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = AVAILABILITY_PATTERN))]
    pub minimum_availability: Option<String>,
}

/// Encryption at rest required by a classification.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionAtRest {
    /// Who must hold the keys, at least: a site offering this model or a stronger one qualifies
    /// (StateHeldHsm > CustomerManaged, i.e. BYOK/HYOK > ProviderManaged).
    pub key_custody: KeyCustody,
}

/// Backups required by a classification.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BackupRequirement {
    /// Independent copies the site must keep.
    #[schemars(range(min = 1, max = 10))]
    pub copies: u32,
    /// Whether the copies must stay in the site's own jurisdiction.
    #[serde(default)]
    pub same_jurisdiction: bool,
}

/// What Soberana observed of the classification.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataClassificationStatus {
    /// `Ready` and others; keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
