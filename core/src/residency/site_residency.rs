//! Which classifications one site may host, and every reason it may not host the others, judged
//! by the same filter the placement engine uses.

use std::collections::BTreeMap;

use crate::placement::filters::classification_requirements;
use crate::placement::{Objects, Reason, Snapshot, SnapshotError};
use crate::resources::data_classification::DataClassification;
use crate::resources::site::Site;

/// The residency facts of one site: every known classification's rank and, for those the site
/// may not host, why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteResidency {
    pub site: String,
    /// Every known classification with its rank.
    pub ranks: BTreeMap<String, u32>,
    /// Legal basis of every known classification, quoted in rejections.
    pub legal_bases: BTreeMap<String, String>,
    /// The classifications the site may not host, each with every failed requirement.
    pub refused: BTreeMap<String, Vec<Reason>>,
}

impl SiteResidency {
    /// Judges `site` against every classification.
    pub fn new(site: &Site, classifications: &[DataClassification]) -> Result<Self, SnapshotError> {
        let snapshot = Snapshot::new(Objects {
            sites: std::slice::from_ref(site),
            classifications,
            ..Objects::default()
        })?;
        let prepared_site = &snapshot.sites[0];
        let mut ranks = BTreeMap::new();
        let mut legal_bases = BTreeMap::new();
        let mut refused = BTreeMap::new();
        for (name, classification) in &snapshot.classifications {
            ranks.insert(name.clone(), classification.spec.rank);
            legal_bases.insert(name.clone(), classification.spec.legal_basis.clone());
            let mut reasons = Vec::new();
            classification_requirements(classification, prepared_site, &mut reasons);
            if !reasons.is_empty() {
                refused.insert(name.clone(), reasons);
            }
        }
        Ok(Self {
            site: prepared_site.name.clone(),
            ranks,
            legal_bases,
            refused,
        })
    }

    /// The classifications the site may host, least sensitive first.
    pub fn allowed(&self) -> Vec<String> {
        let mut allowed: Vec<(&u32, &String)> = self
            .ranks
            .iter()
            .filter(|(name, _)| !self.refused.contains_key(*name))
            .map(|(name, rank)| (rank, name))
            .collect();
        allowed.sort();
        allowed.into_iter().map(|(_, name)| name.clone()).collect()
    }

    /// Why the site refuses `classification`, in one sentence naming the classification, the
    /// site, each failed requirement and the legal basis; `None` when the site may host it.
    pub fn refusal(&self, classification: &str) -> Option<String> {
        let reasons = self.refused.get(classification)?;
        let failed = reasons
            .iter()
            .map(|reason| {
                format!(
                    "{} requires {}, the site has {}",
                    requirement(reason),
                    reason.facts.required,
                    reason.facts.actual
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let basis = self
            .legal_bases
            .get(classification)
            .map(|basis| basis.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        Some(format!(
            "data classified {classification} may not be hosted on site {}: {failed}. Legal basis: {basis}",
            self.site
        ))
    }
}

/// The requirement a reason is about, as people name it.
fn requirement(reason: &Reason) -> &'static str {
    use crate::placement::ReasonCode as Code;
    match reason.code {
        Code::JurisdictionNotAllowed => "jurisdiction",
        Code::SovereigntyTierNotAllowed => "sovereignty tier",
        Code::CertificationMissing => "certification",
        Code::KeyCustodyNotOffered => "key custody",
        Code::EncryptionInTransitMissing => "encryption in transit",
        Code::BackupCopiesInsufficient => "backup",
        Code::BackupJurisdictionMismatch => "backup jurisdiction",
        Code::AvailabilityBelowClassificationMinimum => "availability",
        _ => "requirement",
    }
}
