//! The placement engine: `evaluate(snapshot, workload)` decides where a workload may run and says
//! why. Pure and deterministic: the same snapshot and workload always give the same decision, in
//! whatever order the objects were listed; ties are broken by site name.
//!
//! Steps: hard filters (every reason for every rejected site), weighted scores for the eligible
//! sites, then spread selection. "No eligible site" is an ordinary, explained outcome.

pub mod decision;
pub mod filters;
pub mod reason;
pub mod rules;
pub mod score;
pub mod snapshot;
pub mod spread;

use std::collections::BTreeMap;

use kube::ResourceExt;

use crate::resources::availability::Availability;
use crate::resources::placement_rule::SpreadDomain;
use crate::resources::tenant::TenantSpec;
use crate::resources::workload::Workload;

pub use decision::{Decision, Outcome, SiteRejection, SiteScore};
pub use reason::{Reason, ReasonCode};
pub use snapshot::{Objects, Reservation, Snapshot, SnapshotError};

use decision::{RequiredSites, Unplaceable};
use filters::{WorkloadFacts, rejections};
use rules::{EffectiveSpread, effective_preferences, effective_spread, matching_rules};
use snapshot::{PreparedClassification, PreparedRule};

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

/// Decides where `workload` may run within `snapshot`, with every reason.
pub fn evaluate(snapshot: &Snapshot, workload: &Workload) -> Result<Decision, EvaluationError> {
    let spec = &workload.spec;
    let workload_name = format!(
        "{}/{}",
        workload.namespace().unwrap_or_default(),
        workload.name_any()
    );
    let referenced = Referenced::resolve(snapshot, workload, &workload_name)?;
    let mut labels: BTreeMap<String, String> = workload.labels().clone();
    labels.extend(
        spec.labels
            .iter()
            .map(|(key, value)| (key.clone(), value.clone())),
    );
    let rules = matching_rules(&snapshot.rules, spec, &labels);
    let facts = WorkloadFacts {
        classification: referenced.classification,
        tenant_name: &spec.tenant,
        tenant: referenced.tenant,
        ceiling_violation: ceiling_violation(
            &spec.tenant,
            referenced.classification,
            referenced.ceiling,
        ),
        availability_target: referenced.availability_target,
        demand: spec.resources.times(spec.replicas),
        tolerations: &spec.tolerations,
        rules: &rules,
    };
    let (eligible, rejected) = judge_sites(snapshot, workload, &facts, &rules);

    let spread = effective_spread(spec.spread.as_ref(), &rules);
    let required_sites = RequiredSites {
        minimum: spread.minimum,
        maximum: spread.maximum,
        across: domain_name(spread.across).to_owned(),
    };
    let (chosen_sites, unplaceable) = match choose(snapshot, &eligible, &spread) {
        Ok(chosen) => (chosen, None),
        Err(unplaceable) => (Vec::new(), Some(unplaceable)),
    };
    Ok(Decision {
        workload: workload_name,
        outcome: if unplaceable.is_some() {
            Outcome::Unplaceable
        } else {
            Outcome::Placed
        },
        chosen_sites,
        required_sites,
        eligible,
        rejected,
        matched_rules: rules.iter().map(|rule| rule.name.clone()).collect(),
        unplaceable,
    })
}

/// The objects a workload names, looked up and parsed; a name the snapshot lacks is an error.
struct Referenced<'a> {
    classification: &'a PreparedClassification,
    tenant: &'a TenantSpec,
    /// The tenant's highest classification.
    ceiling: &'a PreparedClassification,
    availability_target: Option<Availability>,
}

impl<'a> Referenced<'a> {
    fn resolve(
        snapshot: &'a Snapshot,
        workload: &Workload,
        workload_name: &str,
    ) -> Result<Self, EvaluationError> {
        let spec = &workload.spec;
        let classification = snapshot
            .classifications
            .get(&spec.classification)
            .ok_or_else(|| EvaluationError::UnknownClassification {
                workload: workload_name.to_owned(),
                classification: spec.classification.clone(),
            })?;
        let tenant =
            snapshot
                .tenants
                .get(&spec.tenant)
                .ok_or_else(|| EvaluationError::UnknownTenant {
                    workload: workload_name.to_owned(),
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
                    workload: workload_name.to_owned(),
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
}

/// The reason every site is refused when the workload's data is above what its tenant may handle.
fn ceiling_violation(
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

/// Every site either scored (eligible, best first, ties by name) or rejected with all its reasons.
fn judge_sites(
    snapshot: &Snapshot,
    workload: &Workload,
    facts: &WorkloadFacts<'_>,
    rules: &[&PreparedRule],
) -> (Vec<SiteScore>, Vec<SiteRejection>) {
    let spec = &workload.spec;
    let preferences = effective_preferences(rules);
    let data_site = spec
        .data_location
        .as_ref()
        .and_then(|location| location.site.as_deref())
        .and_then(|name| find_site(snapshot, name));
    let mut eligible = Vec::new();
    let mut rejected = Vec::new();
    for site in &snapshot.sites {
        let reasons = rejections(facts, site);
        if reasons.is_empty() {
            eligible.push(score::score(
                site,
                &preferences,
                spec.data_location.as_ref(),
                data_site,
            ));
        } else {
            rejected.push(SiteRejection {
                site: site.name.clone(),
                reasons,
            });
        }
    }
    eligible.sort_by(|left, right| {
        right
            .total
            .cmp(&left.total)
            .then_with(|| left.site.cmp(&right.site))
    });
    (eligible, rejected)
}

/// The sites the workload runs on, or why no selection satisfies its spread.
fn choose(
    snapshot: &Snapshot,
    eligible: &[SiteScore],
    spread: &EffectiveSpread,
) -> Result<Vec<String>, Unplaceable> {
    if spread.minimum > spread.maximum {
        return Err(Unplaceable {
            code: "ConflictingSpread".to_owned(),
            message: format!(
                "the workload and its placement rules ask for at least {} and at most {} sites",
                spread.minimum, spread.maximum
            ),
        });
    }
    if eligible.is_empty() {
        return Err(Unplaceable {
            code: "NoEligibleSite".to_owned(),
            message: format!(
                "none of the {} sites may host this workload; see each site's reasons",
                snapshot.sites.len()
            ),
        });
    }
    let chosen = spread::select(eligible, spread, |name| find_site(snapshot, name));
    if (chosen.len() as u64) < u64::from(spread.minimum) {
        return Err(Unplaceable {
            code: "NotEnoughSitesForSpread".to_owned(),
            message: format!(
                "the workload needs {} sites distinct in {}, but only {} of the {} eligible sites qualify",
                spread.minimum,
                domain_name(spread.across).to_lowercase(),
                chosen.len(),
                eligible.len()
            ),
        });
    }
    Ok(chosen)
}

fn find_site<'a>(snapshot: &'a Snapshot, name: &str) -> Option<&'a snapshot::PreparedSite> {
    snapshot
        .sites
        .binary_search_by(|site| site.name.as_str().cmp(name))
        .ok()
        .map(|index| &snapshot.sites[index])
}

fn domain_name(domain: SpreadDomain) -> &'static str {
    match domain {
        SpreadDomain::Sites => "Sites",
        SpreadDomain::Zones => "Zones",
        SpreadDomain::Providers => "Providers",
    }
}
