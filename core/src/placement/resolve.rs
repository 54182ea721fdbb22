//! The first step of every evaluation: the objects a workload names, looked up and parsed, and
//! the facts the filters judge it by. Shared by the compiled engine and the reference evaluation.

use kube::ResourceExt;

use crate::resources::availability::Availability;
use crate::resources::tenant::TenantSpec;
use crate::resources::workload::Workload;

use super::EvaluationError;
use super::filters::WorkloadFacts;
use super::reason::{Reason, ReasonCode};
use super::rules::matching_rules;
use super::snapshot::{PreparedClassification, PreparedRule, Snapshot};

/// `namespace/name`, as decisions name a workload.
pub(crate) fn workload_name(workload: &Workload) -> String {
    format!(
        "{}/{}",
        workload.namespace().unwrap_or_default(),
        workload.name_any()
    )
}

/// The rules selecting `workload` (its spec labels over its metadata labels), by priority.
pub(crate) fn rules_for<'a>(snapshot: &'a Snapshot, workload: &Workload) -> Vec<&'a PreparedRule> {
    matching_rules(&snapshot.rules, &workload.spec, |key| label(workload, key))
}

/// A label of `workload` as rules see it: its `spec.labels` over its metadata labels.
pub(crate) fn label<'w>(workload: &'w Workload, key: &str) -> Option<&'w String> {
    workload.spec.labels.get(key).or_else(|| {
        workload
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(key))
    })
}

/// The objects a workload names, looked up and parsed; a name the snapshot lacks is an error.
#[derive(Debug)]
pub(crate) struct Referenced<'a> {
    pub classification: &'a PreparedClassification,
    pub tenant: &'a TenantSpec,
    /// The tenant's highest classification.
    pub ceiling: &'a PreparedClassification,
    pub availability_target: Option<Availability>,
}

impl<'a> Referenced<'a> {
    /// Fails naming the workload and the field whose name the snapshot lacks.
    pub(crate) fn resolve(
        snapshot: &'a Snapshot,
        workload: &Workload,
    ) -> Result<Self, EvaluationError> {
        let spec = &workload.spec;
        let classification = snapshot
            .classifications
            .get(&spec.classification)
            .ok_or_else(|| EvaluationError::UnknownClassification {
                workload: workload_name(workload),
                classification: spec.classification.clone(),
            })?;
        let tenant =
            snapshot
                .tenants
                .get(&spec.tenant)
                .ok_or_else(|| EvaluationError::UnknownTenant {
                    workload: workload_name(workload),
                    tenant: spec.tenant.clone(),
                })?;
        let ceiling = snapshot
            .classifications
            .get(&tenant.highest_classification)
            .ok_or_else(|| EvaluationError::UnknownCeiling {
                tenant: spec.tenant.clone(),
                classification: tenant.highest_classification.clone(),
            })?;
        let availability_target = match &spec.availability_target {
            None => None,
            Some(text) => Some(Availability::parse_percent(text).ok_or_else(|| {
                EvaluationError::InvalidAvailabilityTarget {
                    workload: workload_name(workload),
                    value: text.clone(),
                }
            })?),
        };
        Ok(Self {
            classification,
            tenant,
            ceiling,
            availability_target,
        })
    }

    /// What the filters judge the workload by, under the `rules` that select it.
    pub(crate) fn facts<'r>(
        &self,
        workload: &'r Workload,
        rules: &'r [&'r PreparedRule],
    ) -> WorkloadFacts<'r>
    where
        'a: 'r,
    {
        let spec = &workload.spec;
        WorkloadFacts {
            classification: self.classification,
            tenant_name: &spec.tenant,
            tenant: self.tenant,
            ceiling_violation: ceiling_violation(&spec.tenant, self.classification, self.ceiling),
            availability_target: self.availability_target,
            demand: spec.resources.times(spec.replicas),
            tolerations: &spec.tolerations,
            rules,
        }
    }
}

/// The reason every site is refused when the workload's data is above what its tenant may handle.
pub(crate) fn ceiling_violation(
    tenant: &str,
    classification: &PreparedClassification,
    ceiling: &PreparedClassification,
) -> Option<Reason> {
    (classification.spec.rank > ceiling.spec.rank).then(|| {
        Reason::new(
            ReasonCode::ClassificationAboveTenantCeiling,
            format!("at most {} (rank {})", ceiling.name, ceiling.spec.rank),
            format!("{} (rank {})", classification.name, classification.spec.rank),
            format!("Tenant/{tenant}"),
            format!(
                "tenant {tenant} may handle data up to {}, but the workload is classified {} (legal basis: {})",
                ceiling.name, classification.name, classification.spec.legal_basis
            ),
        )
    })
}
