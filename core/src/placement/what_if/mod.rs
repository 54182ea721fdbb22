//! What-if: what a proposed policy change would do to every running service, before it is made.
//!
//! A proposal is a set of Sites, DataClassifications, PlacementRules and Tenants; each replaces
//! the current object of its kind and name, or is added (nothing is deleted). The answer lists
//! every workload whose outcome changes (moves, is stranded, becomes unplaceable or placeable,
//! loses or gains eligible sites) with the reasons that changed site by site, and every tenant
//! that would lose or gain a site.
//!
//! It is incremental: the changed objects decide which workloads can be affected (see
//! [`affected::affected_workloads`]), and only those are judged (`judge`, reason codes), against
//! the current and the proposed snapshot, with reason sentences written only for the sites the
//! answer names (`sparse_decision`); the others are not evaluated at all. [`what_if_exhaustive`]
//! evaluates every workload in full instead: the reference the incremental answer is tested
//! against.
//!
//! Each workload is judged as the engine judges it, against today's free capacity, as if it were
//! the only one to move.

pub mod affected;
pub mod changes;
pub mod site_changes;
pub mod sparse_decision;
pub mod tenant_impact;
pub mod workload_impact;

use kube::ResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::placement::{Objects, Snapshot, SnapshotError, evaluate};
use crate::resources::data_classification::DataClassification;
use crate::resources::placement_rule::PlacementRule;
use crate::resources::site::Site;
use crate::resources::tenant::Tenant;
use crate::resources::workload::Workload;

pub use site_changes::{SiteChange, Verdict};
pub use tenant_impact::{Fate, SiteLoss, TenantImpact};
pub use workload_impact::{ChangeKind, WorkloadImpact};

use changes::{Changes, keep_nothing, keep_site_status, merge};

/// The proposed objects: each replaces the current one of its kind and name, or is added.
#[derive(Clone, Debug, Default)]
pub struct Proposal {
    pub sites: Vec<Site>,
    pub classifications: Vec<DataClassification>,
    pub rules: Vec<PlacementRule>,
    pub tenants: Vec<Tenant>,
}

/// A proposal that cannot be judged, naming the object at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WhatIfError {
    #[error("a proposed {kind} has no metadata.name")]
    MissingName { kind: &'static str },
    #[error("{kind} {name:?} is proposed twice")]
    ProposedTwice { kind: &'static str, name: String },
    #[error("the current objects cannot be evaluated: {0}")]
    Current(SnapshotError),
    #[error("the proposed objects cannot be evaluated: {0}")]
    Proposed(SnapshotError),
}

/// What the proposal would do.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Impact {
    /// `Kind/name` of every proposed object that differs from the current one.
    pub changed_objects: Vec<String>,
    /// Workloads in the data centre.
    pub workloads_total: usize,
    /// Workloads the change could affect, each judged before and after it; the others were not
    /// judged at all.
    pub workloads_judged: usize,
    /// Every workload whose outcome would change, by `namespace/name`.
    pub workloads: Vec<WorkloadImpact>,
    /// Every tenant whose sites would change, by name.
    pub tenants: Vec<TenantImpact>,
}

impl Impact {
    /// True when no workload and no tenant would notice the change.
    pub fn is_empty(&self) -> bool {
        self.workloads.is_empty() && self.tenants.is_empty()
    }
}

/// What `proposal` would do to `workloads` and the tenants, judging only what it can affect.
pub fn what_if(
    current: Objects<'_>,
    workloads: &[Workload],
    proposal: &Proposal,
) -> Result<Impact, WhatIfError> {
    answer(current, workloads, proposal, Scope::Affected)
}

/// [`what_if`], evaluating every workload in full (`evaluate`, every reason written) and judging
/// every tenant: the reference the incremental answer is tested against.
pub fn what_if_exhaustive(
    current: Objects<'_>,
    workloads: &[Workload],
    proposal: &Proposal,
) -> Result<Impact, WhatIfError> {
    answer(current, workloads, proposal, Scope::Everything)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Affected,
    Everything,
}

fn answer(
    current: Objects<'_>,
    workloads: &[Workload],
    proposal: &Proposal,
    scope: Scope,
) -> Result<Impact, WhatIfError> {
    let changes = Changes {
        sites: merge("Site", current.sites, &proposal.sites, keep_site_status)?,
        classifications: merge(
            "DataClassification",
            current.classifications,
            &proposal.classifications,
            keep_nothing,
        )?,
        rules: merge(
            "PlacementRule",
            current.rules,
            &proposal.rules,
            keep_nothing,
        )?,
        tenants: merge("Tenant", current.tenants, &proposal.tenants, keep_nothing)?,
    };
    let before = Snapshot::new(current).map_err(WhatIfError::Current)?;
    let after = Snapshot::new(Objects {
        sites: &changes.sites.objects,
        classifications: &changes.classifications.objects,
        rules: &changes.rules.objects,
        tenants: &changes.tenants.objects,
        reservations: current.reservations,
    })
    .map_err(WhatIfError::Proposed)?;
    let positions = match scope {
        Scope::Affected => affected::affected_workloads(&changes, current.tenants, workloads),
        Scope::Everything => (0..workloads.len()).collect(),
    };
    let mut impacts: Vec<WorkloadImpact> = positions
        .iter()
        .filter_map(|&position| {
            let workload = &workloads[position];
            match scope {
                Scope::Affected => workload_impact::judged_impact(
                    workload,
                    (&before, crate::placement::judge(&before, workload)),
                    (&after, crate::placement::judge(&after, workload)),
                ),
                Scope::Everything => workload_impact::workload_impact(
                    workload,
                    &evaluate(&before, workload),
                    &evaluate(&after, workload),
                ),
            }
        })
        .collect();
    impacts.sort_by(|left, right| left.workload.cmp(&right.workload));
    Ok(Impact {
        changed_objects: changes.names(),
        workloads_total: workloads.len(),
        workloads_judged: positions.len(),
        workloads: impacts,
        tenants: tenants(&changes, current.tenants, (&before, &after), scope),
    })
}

/// Every tenant whose sites change, by name.
fn tenants(
    changes: &Changes<'_>,
    current: &[Tenant],
    (before, after): (&Snapshot, &Snapshot),
    scope: Scope,
) -> Vec<TenantImpact> {
    let lowest = |snapshot: &Snapshot| {
        snapshot
            .lowest_classification()
            .map(|lowest| (lowest.name.clone(), lowest.spec.clone()))
    };
    let lowest_changed = lowest(before) != lowest(after);
    let names = match scope {
        Scope::Affected => affected::affected_tenants(changes, current, lowest_changed),
        Scope::Everything => changes
            .tenants
            .objects
            .iter()
            .map(ResourceExt::name_any)
            .collect(),
    };
    names
        .iter()
        .filter_map(|name| {
            let find = |tenants: &'_ [Tenant]| {
                tenants
                    .iter()
                    .find(|tenant| tenant.name_any() == *name)
                    .map(|tenant| tenant.spec.clone())
            };
            let today = find(current);
            let then = find(&changes.tenants.objects)?;
            tenant_impact::tenant_impact(
                name,
                today.as_ref().map(|spec| (spec, before)),
                (&then, after),
            )
        })
        .collect()
}

#[cfg(test)]
mod scenarios;
