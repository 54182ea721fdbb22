//! The placement engine: `evaluate(snapshot, workload)` decides where a workload may run and says
//! why. Pure and deterministic: the same snapshot and workload always give the same decision, in
//! whatever order the objects were listed; ties are broken by site name.
//!
//! Steps: hard filters (every reason for every rejected site), weighted scores for the eligible
//! sites, then spread selection. "No eligible site" is an ordinary, explained outcome.
//!
//! `judge` (the compiled engine) decides with the reasons as codes, combining what the snapshot
//! judged once per classification, tenant, rule and site with the workload's own checks; `render`
//! writes the explanation. `reference::evaluate` is the plain evaluation kept as the oracle the
//! compiled engine is tested against.

pub mod compiled;
pub mod decision;
pub mod filters;
pub mod reason;
pub mod reference;
pub mod render;
pub(crate) mod resolve;
pub mod rules;
pub mod score;
pub mod site_set;
pub mod snapshot;
pub mod spread;
pub mod what_if;

use crate::resources::placement_rule::SpreadDomain;
use crate::resources::workload::Workload;

pub use compiled::{Judgement, judge};
pub use decision::{Decision, Outcome, SiteRejection, SiteScore};
pub use reason::{Reason, ReasonCode, ReasonCodes};
pub use snapshot::{Objects, Reservation, Snapshot, SnapshotError};

/// A workload that refers to something the snapshot does not have, or states a malformed value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EvaluationError {
    #[error("workload {workload}: spec.tenant {tenant:?} is not a known Tenant")]
    UnknownTenant { workload: String, tenant: String },
    #[error(
        "workload {workload}: spec.classification {classification:?} is not a known DataClassification"
    )]
    UnknownClassification {
        workload: String,
        classification: String,
    },
    #[error(
        "tenant {tenant}: spec.highestClassification {classification:?} is not a known DataClassification"
    )]
    UnknownCeiling {
        tenant: String,
        classification: String,
    },
    #[error(
        "workload {workload}: spec.availabilityTarget {value:?} is not a percentage between 0 and 100"
    )]
    InvalidAvailabilityTarget { workload: String, value: String },
}

/// Decides where `workload` may run within `snapshot`, with every reason: the compiled engine's
/// judgement, rendered.
pub fn evaluate(snapshot: &Snapshot, workload: &Workload) -> Result<Decision, EvaluationError> {
    let judgement = judge(snapshot, workload)?;
    Ok(render::render(snapshot, workload, &judgement))
}

pub(crate) fn find_site<'a>(
    snapshot: &'a Snapshot,
    name: &str,
) -> Option<&'a snapshot::PreparedSite> {
    snapshot
        .sites
        .binary_search_by(|site| site.name.as_str().cmp(name))
        .ok()
        .map(|index| &snapshot.sites[index])
}

pub(crate) fn domain_name(domain: SpreadDomain) -> &'static str {
    match domain {
        SpreadDomain::Sites => "Sites",
        SpreadDomain::Zones => "Zones",
        SpreadDomain::Providers => "Providers",
    }
}
