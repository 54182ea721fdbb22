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

impl ReasonCode {
    /// Every code, in declaration order.
    pub const ALL: [Self; 16] = [
        Self::ClassificationAboveTenantCeiling,
        Self::JurisdictionNotAllowed,
        Self::SovereigntyTierNotAllowed,
        Self::CertificationMissing,
        Self::KeyCustodyNotOffered,
        Self::EncryptionInTransitMissing,
        Self::BackupCopiesInsufficient,
        Self::BackupJurisdictionMismatch,
        Self::AvailabilityBelowClassificationMinimum,
        Self::AvailabilityBelowWorkloadTarget,
        Self::SiteNotReady,
        Self::SiteTainted,
        Self::SiteNotAllowedForTenant,
        Self::ExcludedByRule,
        Self::SiteSelectorMismatch,
        Self::InsufficientCapacity,
    ];
}

/// The codes of the reasons a site was rejected for, as bits: what the compiled engine records
/// per rejected site, before (and unless) the reasons are rendered as sentences.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReasonCodes(u32);

impl ReasonCodes {
    pub const NONE: Self = Self(0);

    pub const fn of(code: ReasonCode) -> Self {
        Self(1 << code as u32)
    }

    pub const fn with(self, code: ReasonCode) -> Self {
        Self(self.0 | 1 << code as u32)
    }

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, code: ReasonCode) -> bool {
        self.0 & Self::of(code).0 != 0
    }

    /// The codes, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = ReasonCode> {
        ReasonCode::ALL
            .into_iter()
            .filter(move |code| self.contains(*code))
    }
}

impl FromIterator<ReasonCode> for ReasonCodes {
    fn from_iter<I: IntoIterator<Item = ReasonCode>>(codes: I) -> Self {
        codes.into_iter().fold(Self::NONE, Self::with)
    }
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
