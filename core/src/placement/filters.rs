//! The hard filters: every reason a site cannot host a workload. All filters run, so a rejected
//! site carries every reason, not just the first.

use crate::resources::availability::Availability;
use crate::resources::capacity::Capacity;
use crate::resources::data_classification::DataClassificationSpec;
use crate::resources::tenant::TenantSpec;

use super::reason::{Reason, ReasonCode};
use super::snapshot::{PreparedClassification, PreparedRule, PreparedSite};

/// What the filters need to know about the workload being placed.
#[derive(Debug)]
pub struct WorkloadFacts<'a> {
    pub classification: &'a PreparedClassification,
    pub tenant_name: &'a str,
    pub tenant: &'a TenantSpec,
    /// Set when the classification is above the tenant's ceiling: it applies to every site.
    pub ceiling_violation: Option<Reason>,
    pub availability_target: Option<Availability>,
    /// Capacity the workload needs on each chosen site.
    pub demand: Capacity,
    pub tolerations: &'a [String],
    pub rules: &'a [&'a PreparedRule],
}

/// Every reason `site` cannot host the workload; empty when it is eligible.
pub fn rejections(workload: &WorkloadFacts<'_>, site: &PreparedSite) -> Vec<Reason> {
    let mut classification = Vec::new();
    classification_requirements(workload.classification, site, &mut classification);
    rejections_given(workload, site, &classification)
}

/// As `rejections`, with the classification's requirements already judged on this site (the
/// compiled snapshot judges each classification on each site once).
pub fn rejections_given(
    workload: &WorkloadFacts<'_>,
    site: &PreparedSite,
    classification: &[Reason],
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if let Some(violation) = &workload.ceiling_violation {
        reasons.push(violation.clone());
    }
    reasons.extend_from_slice(classification);
    if let Some(target) = workload.availability_target
        && site.offered_availability < target
    {
        reasons.push(Reason::new(
            ReasonCode::AvailabilityBelowWorkloadTarget,
            format!("at least {target}"),
            site.offered_availability.to_string(),
            "Workload",
            format!(
                "site {} offers {} availability, below the workload's target of {target}",
                site.name, site.offered_availability
            ),
        ));
    }
    site_state(workload, site, &mut reasons);
    tenant_allowance(workload, site, &mut reasons);
    rule_constraints(workload.rules, site, &mut reasons);
    if !site.free.holds(workload.demand) {
        reasons.push(Reason::new(
            ReasonCode::InsufficientCapacity,
            workload.demand.to_string(),
            format!("{} free", site.free),
            format!("Site/{}", site.name),
            format!(
                "site {} has {} free (its declared capacity after allocations, at most what its nodes have free, minus reservations); the workload needs {}",
                site.name, site.free, workload.demand
            ),
        ));
    }
    reasons
}

/// What a classification demands of every site that holds its data, whatever the workload:
/// where the site is, how it protects data, and how it keeps data available.
pub(crate) fn classification_requirements(
    classification: &PreparedClassification,
    site: &PreparedSite,
    reasons: &mut Vec<Reason>,
) {
    let judging = Judging {
        spec: &classification.spec,
        name: &classification.name,
        source: format!("DataClassification/{}", classification.name),
        minimum_availability: classification.minimum_availability,
        site,
    };
    location_requirements(&judging, reasons);
    protection_requirements(&judging, reasons);
    continuity_requirements(&judging, reasons);
}

/// One classification judged on one site: what its requirement checks compare and quote.
struct Judging<'a> {
    spec: &'a DataClassificationSpec,
    name: &'a str,
    /// `DataClassification/<name>`, the source every reason names.
    source: String,
    minimum_availability: Option<Availability>,
    site: &'a PreparedSite,
}

/// Jurisdiction, sovereignty tier and certifications.
fn location_requirements(judging: &Judging<'_>, reasons: &mut Vec<Reason>) {
    let Judging {
        spec, name, site, ..
    } = judging;
    let (source, basis, facts) = (&judging.source, &spec.legal_basis, &site.spec);

    if !spec.allowed_jurisdictions.is_empty()
        && !spec.allowed_jurisdictions.contains(&facts.jurisdiction)
    {
        let allowed = spec.allowed_jurisdictions.join(", ");
        reasons.push(Reason::new(
            ReasonCode::JurisdictionNotAllowed,
            format!("one of {allowed}"),
            facts.jurisdiction.clone(),
            source.clone(),
            format!(
                "site {} is under {} jurisdiction, but classification {name} may only be hosted in {allowed} (legal basis: {basis})",
                site.name, facts.jurisdiction
            ),
        ));
    }
    if !spec.allowed_sovereignty_tiers.is_empty()
        && !spec
            .allowed_sovereignty_tiers
            .contains(&facts.sovereignty_tier)
    {
        let allowed = join(spec.allowed_sovereignty_tiers.iter());
        reasons.push(Reason::new(
            ReasonCode::SovereigntyTierNotAllowed,
            format!("one of {allowed}"),
            facts.sovereignty_tier.to_string(),
            source.clone(),
            format!(
                "site {} is {}, but classification {name} requires a {allowed} site (legal basis: {basis})",
                site.name, facts.sovereignty_tier
            ),
        ));
    }
    for certification in &spec.required_certifications {
        if !facts.certifications.contains(certification) {
            reasons.push(Reason::new(
                ReasonCode::CertificationMissing,
                certification.clone(),
                if facts.certifications.is_empty() { "none".to_owned() } else { facts.certifications.join(", ") },
                source.clone(),
                format!(
                    "site {} lacks the {certification} certification that classification {name} requires (legal basis: {basis})",
                    site.name
                ),
            ));
        }
    }
}

/// Encryption at rest (with its key custody) and in transit.
fn protection_requirements(judging: &Judging<'_>, reasons: &mut Vec<Reason>) {
    let Judging {
        spec, name, site, ..
    } = judging;
    let (source, basis, facts) = (&judging.source, &spec.legal_basis, &site.spec);
    if let Some(encryption) = &spec.encryption_at_rest
        && !facts
            .key_custody
            .iter()
            .any(|offered| offered.satisfies(encryption.key_custody))
    {
        let accepted: Vec<String> = encryption
            .key_custody
            .accepted()
            .map(|custody| custody.to_string())
            .collect();
        reasons.push(Reason::new(
            ReasonCode::KeyCustodyNotOffered,
            accepted.join(" or "),
            if facts.key_custody.is_empty() { "none".to_owned() } else { join(facts.key_custody.iter()) },
            source.clone(),
            format!(
                "site {} does not offer {} key custody, which classification {name} requires for encryption at rest (legal basis: {basis})",
                site.name, accepted.join(" or ")
            ),
        ));
    }
    if spec.encryption_in_transit && !facts.encryption_in_transit {
        reasons.push(Reason::new(
            ReasonCode::EncryptionInTransitMissing,
            "encrypted",
            "not encrypted",
            source.clone(),
            format!(
                "site {} does not encrypt traffic in transit, which classification {name} requires (legal basis: {basis})",
                site.name
            ),
        ));
    }
}

/// Backup copies and their jurisdiction, and the minimum offered availability.
fn continuity_requirements(judging: &Judging<'_>, reasons: &mut Vec<Reason>) {
    let Judging {
        spec, name, site, ..
    } = judging;
    let (source, basis, facts) = (&judging.source, &spec.legal_basis, &site.spec);
    if let Some(backup) = &spec.backup {
        let copies = facts.backup.as_ref().map_or(0, |offered| offered.copies);
        if copies < backup.copies {
            reasons.push(Reason::new(
                ReasonCode::BackupCopiesInsufficient,
                format!("{} copies", backup.copies),
                format!("{copies} copies"),
                source.clone(),
                format!(
                    "site {} keeps {copies} backup copies; classification {name} requires {} (legal basis: {basis})",
                    site.name, backup.copies
                ),
            ));
        }
        if backup.same_jurisdiction
            && let Some(offered) = &facts.backup
            && offered.jurisdiction != facts.jurisdiction
        {
            reasons.push(Reason::new(
                ReasonCode::BackupJurisdictionMismatch,
                facts.jurisdiction.clone(),
                offered.jurisdiction.clone(),
                source.clone(),
                format!(
                    "site {} keeps its backups in {}, but classification {name} requires them in the site's own jurisdiction {} (legal basis: {basis})",
                    site.name, offered.jurisdiction, facts.jurisdiction
                ),
            ));
        }
    }
    if let Some(minimum) = judging.minimum_availability
        && site.offered_availability < minimum
    {
        reasons.push(Reason::new(
            ReasonCode::AvailabilityBelowClassificationMinimum,
            format!("at least {minimum}"),
            site.offered_availability.to_string(),
            source,
            format!(
                "site {} offers {} availability, below the {minimum} that classification {name} requires (legal basis: {basis})",
                site.name, site.offered_availability
            ),
        ));
    }
}

fn site_state(workload: &WorkloadFacts<'_>, site: &PreparedSite, reasons: &mut Vec<Reason>) {
    if site.ready == Some(false) {
        reasons.push(Reason::new(
            ReasonCode::SiteNotReady,
            crate::resources::condition_types::ConditionType::Ready.as_str(),
            "not Ready",
            format!("Site/{}", site.name),
            format!("site {} was not ready at its last probe", site.name),
        ));
    }
    for taint in &site.spec.taints {
        if !workload.tolerations.contains(&taint.key) {
            let why = taint
                .reason
                .as_deref()
                .map(|reason| format!(" ({reason})"))
                .unwrap_or_default();
            reasons.push(Reason::new(
                ReasonCode::SiteTainted,
                format!("toleration for {}", taint.key),
                "not tolerated",
                format!("Site/{}", site.name),
                format!(
                    "site {} is tainted {}{why} and the workload does not tolerate it",
                    site.name, taint.key
                ),
            ));
        }
    }
}

fn tenant_allowance(workload: &WorkloadFacts<'_>, site: &PreparedSite, reasons: &mut Vec<Reason>) {
    let allowed = &workload.tenant.allowed_sites;
    if !allowed.is_empty() && !allowed.contains(&site.name) {
        reasons.push(Reason::new(
            ReasonCode::SiteNotAllowedForTenant,
            format!("one of {}", allowed.join(", ")),
            site.name.clone(),
            format!("Tenant/{}", workload.tenant_name),
            format!(
                "tenant {} may only use sites {}",
                workload.tenant_name,
                allowed.join(", ")
            ),
        ));
    }
}

fn rule_constraints(rules: &[&PreparedRule], site: &PreparedSite, reasons: &mut Vec<Reason>) {
    for rule in rules {
        let constraints = &rule.spec.constraints;
        if constraints.excluded_sites.contains(&site.name) {
            reasons.push(Reason::new(
                ReasonCode::ExcludedByRule,
                format!("not {}", site.name),
                site.name.clone(),
                format!("PlacementRule/{}", rule.name),
                format!("placement rule {} excludes site {}", rule.name, site.name),
            ));
        }
        for (key, value) in &constraints.site_selector {
            if site.labels.get(key) != Some(value) {
                let actual = site
                    .labels
                    .get(key)
                    .map_or_else(|| "absent".to_owned(), |actual| format!("{key}={actual}"));
                reasons.push(Reason::new(
                    ReasonCode::SiteSelectorMismatch,
                    format!("{key}={value}"),
                    actual,
                    format!("PlacementRule/{}", rule.name),
                    format!(
                        "placement rule {} requires sites labelled {key}={value}",
                        rule.name
                    ),
                ));
            }
        }
    }
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
