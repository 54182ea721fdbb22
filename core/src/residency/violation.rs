//! Judging objects that already exist in a member cluster by the rules the admission policies
//! enforce on new ones: what the violation scan reports (objects created before a policy
//! tightened, or while it was not yet in force).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::site_residency::SiteResidency;
use crate::tenancy::labels;

/// How an object breaks residency.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ViolationKind {
    /// Its classification may not be hosted on this site.
    NotAllowedOnSite,
    /// Its classification label names no known DataClassification.
    UnknownClassification,
    /// Its classification is above its tenant namespace's ceiling.
    AboveCeiling,
    /// It is in a tenant namespace without a classification (and the tenant sets no default).
    Unlabelled,
}

impl std::fmt::Display for ViolationKind {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, formatter)
    }
}

/// What the scan knows of one object: its labels and, when namespaced, its namespace's.
#[derive(Clone, Copy, Debug)]
pub struct ObjectLabels<'a> {
    pub labels: &'a BTreeMap<String, String>,
    /// `None` for cluster-scoped objects (namespaces).
    pub namespace: Option<(&'a str, &'a BTreeMap<String, String>)>,
}

/// One way an object breaks residency.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub kind: ViolationKind,
    /// Its effective classification; empty when it has none.
    pub classification: String,
    /// The sentence the site's API server would answer if the object were created now.
    pub message: String,
}

impl SiteResidency {
    /// How `object` breaks the residency rules of this site, if it does: the site refusing its
    /// classification first, then an unknown classification, a classification above the tenant
    /// namespace's ceiling, and a workload without classification in a tenant namespace.
    pub fn judge(&self, object: ObjectLabels<'_>) -> Option<Violation> {
        let empty = BTreeMap::new();
        let namespace_labels = object.namespace.map_or(&empty, |(_, labels)| labels);
        let classification = object
            .labels
            .get(labels::CLASSIFICATION)
            .or_else(|| namespace_labels.get(labels::DEFAULT_CLASSIFICATION))
            .cloned()
            .unwrap_or_default();
        let violation = |kind, message| {
            Some(Violation {
                kind,
                classification: classification.clone(),
                message,
            })
        };
        if !classification.is_empty() {
            if let Some(refusal) = self.refusal(&classification) {
                return violation(ViolationKind::NotAllowedOnSite, refusal);
            }
            if !self.ranks.contains_key(&classification) {
                return violation(
                    ViolationKind::UnknownClassification,
                    self.unknown_classification(&classification),
                );
            }
        }
        let (namespace, namespace_labels) = object.namespace?;
        if !namespace_labels.contains_key(labels::TENANT) {
            return None;
        }
        if classification.is_empty() {
            return violation(ViolationKind::Unlabelled, unlabelled(namespace));
        }
        let ceiling = namespace_labels
            .get(labels::CLASSIFICATION_CEILING)
            .cloned()
            .unwrap_or_default();
        let within = match (self.ranks.get(&classification), self.ranks.get(&ceiling)) {
            (Some(rank), Some(ceiling_rank)) => rank <= ceiling_rank,
            _ => false,
        };
        if within {
            return None;
        }
        let tenant = namespace_labels
            .get(labels::TENANT)
            .cloned()
            .unwrap_or_default();
        violation(
            ViolationKind::AboveCeiling,
            above_ceiling(&classification, namespace, &tenant, &ceiling),
        )
    }

    /// The answer for a classification label naming no known DataClassification.
    pub fn unknown_classification(&self, classification: &str) -> String {
        format!(
            "{}={classification} is not a DataClassification known to site {} (known: {})",
            labels::CLASSIFICATION,
            self.site,
            self.ranks.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    }
}

/// The answer for a workload without classification in a tenant namespace.
pub fn unlabelled(namespace: &str) -> String {
    format!(
        "every workload in tenant namespace {namespace} must carry the label {} (or its Tenant must set spec.defaultClassification)",
        labels::CLASSIFICATION
    )
}

/// The answer for a classification above the namespace's ceiling.
pub fn above_ceiling(classification: &str, namespace: &str, tenant: &str, ceiling: &str) -> String {
    format!(
        "data classified {classification} may not run in namespace {namespace}: tenant {tenant} may handle data up to {ceiling}"
    )
}
