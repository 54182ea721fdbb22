//! Why a site was rejected: a stable machine code, the facts compared, and one sentence for people
//! that names the rule or classification and its legal basis.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Stable codes for every hard filter; tooling may match on them, so they never change meaning.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub enum ReasonCode {
    /// The workload's classification is above the most sensitive one its tenant may handle.
    ClassificationAboveTenantCeiling,
    /// The site's country is not one the classification allows.
    JurisdictionNotAllowed,
    /// The site's sovereignty tier is not one the classification allows.
    SovereigntyTierNotAllowed,
    /// The site lacks a certification the classification requires.
    CertificationMissing,
    /// The site does not offer the key custody the classification requires.
    KeyCustodyNotOffered,
    /// The classification requires encryption in transit and the site does not provide it.
    EncryptionInTransitMissing,
    /// The site keeps fewer backup copies than the classification requires (or none).
    BackupCopiesInsufficient,
    /// The classification requires backups in the site's own country and they are kept elsewhere.
    BackupJurisdictionMismatch,
    /// The site offers less availability than the classification's minimum.
    AvailabilityBelowClassificationMinimum,
    /// The site offers less availability than the workload's target.
    AvailabilityBelowWorkloadTarget,
    /// The site's last probe found it not ready.
    SiteNotReady,
    /// The site carries a taint the workload does not tolerate.
    SiteTainted,
    /// The tenant's allowed-sites list does not include the site.
    SiteNotAllowedForTenant,
    /// A placement rule excludes the site by name.
    ExcludedByRule,
    /// The site lacks a label a placement rule's site selector requires.
    SiteSelectorMismatch,
    /// The site's free capacity (net of allocations and reservations) cannot hold the workload.
    InsufficientCapacity,
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, formatter)
    }
}

/// The two sides of the comparison that failed.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// What the policy requires, e.g. `one of CR`.
    pub required: String,
    /// What the site (or workload) has, e.g. `US`.
    pub actual: String,
}

/// One reason a site was rejected.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    pub code: ReasonCode,
    pub facts: Facts,
    /// What the policy is: `DataClassification/restricted`, `PlacementRule/x`, `Tenant/y`, `Site/z`.
    pub source: String,
    /// One sentence for people, naming the source and, for classifications, its legal basis.
    pub message: String,
}

impl Reason {
    pub fn new(
        code: ReasonCode,
        required: impl Into<String>,
        actual: impl Into<String>,
        source: impl Into<String>,
        message: String,
    ) -> Self {
        Self {
            code,
            facts: Facts {
                required: required.into(),
                actual: actual.into(),
            },
            source: source.into(),
            message,
        }
    }
}
