//! Offline evaluation: the placement engine over manifests read from files, as CI pipelines and
//! security teams run it without a cluster.

use kube::ResourceExt;
use soberana_core::placement::{Decision, evaluate};

use crate::offline::manifests::{InputError, Manifests};

/// A decision with the workload's tenant and classification, for reports.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub decision: Decision,
    pub tenant: String,
    pub classification: String,
}

/// Evaluates every workload in `manifests` (in namespace/name order).
pub fn evaluate_all(manifests: &Manifests) -> Result<Vec<Evaluated>, Vec<InputError>> {
    let snapshot = manifests.snapshot()?;
    let mut workloads: Vec<_> = manifests.workloads.iter().collect();
    workloads.sort_by_key(|(workload, _)| (workload.namespace(), workload.name_any()));
    let mut evaluated = Vec::with_capacity(workloads.len());
    let mut errors = Vec::new();
    for (workload, origin) in workloads {
        match evaluate(&snapshot, workload) {
            Ok(decision) => evaluated.push(Evaluated {
                decision,
                tenant: workload.spec.tenant.clone(),
                classification: workload.spec.classification.clone(),
            }),
            Err(error) => errors.push(InputError::new(Some(origin.clone()), error.to_string())),
        }
    }
    if errors.is_empty() {
        Ok(evaluated)
    } else {
        Err(errors)
    }
}
