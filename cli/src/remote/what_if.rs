//! `soberana what-if` against the API: the proposed objects read and checked like any manifest
//! (file, document and field named), sent to `PlacementService.WhatIf`, and the answer turned
//! back into the core's impact, so that the table, JSON and YAML are those of the offline command.

use std::path::PathBuf;

use soberana_core::placement::what_if::{
    ChangeKind, Fate, Impact, SiteChange, SiteLoss, TenantImpact, Verdict, WorkloadImpact,
};
use soberana_core::placement::{Reason, ReasonCode};
use soberana_proto::v1 as proto;

use crate::offline::manifests::load_objects;
use crate::remote::commands::Failure;
use crate::remote::connection::Connection;

/// What the objects in `proposed` would do to the live data centre.
pub async fn what_if(connection: &Connection, proposed: &[PathBuf]) -> Result<Impact, Failure> {
    let documents = documents(proposed)?;
    let mut client =
        proto::placement_service_client::PlacementServiceClient::new(connection.channel().await?);
    let response = client
        .what_if(connection.request(proto::WhatIfRequest { documents })?)
        .await?
        .into_inner();
    impact(response)
}

/// The proposed objects as JSON documents, or every problem with the files.
fn documents(proposed: &[PathBuf]) -> Result<Vec<String>, Failure> {
    let bad_input = |message: String| Failure { message, code: 2 };
    let manifests = load_objects(proposed).map_err(|errors| {
        bad_input(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    if let Some((workload, origin)) = manifests.workloads.first() {
        let name = workload.metadata.name.as_deref().unwrap_or_default();
        return Err(bad_input(format!(
            "{origin}: Workload {name}: --proposed takes Sites, DataClassifications, PlacementRules and Tenants; Workloads are what the change is judged on"
        )));
    }
    let json =
        |object: serde_json::Result<String>| object.map_err(|error| bad_input(error.to_string()));
    let mut documents = Vec::new();
    for site in &manifests.sites {
        documents.push(json(serde_json::to_string(site))?);
    }
    for classification in &manifests.classifications {
        documents.push(json(serde_json::to_string(classification))?);
    }
    for rule in &manifests.rules {
        documents.push(json(serde_json::to_string(rule))?);
    }
    for tenant in &manifests.tenants {
        documents.push(json(serde_json::to_string(tenant))?);
    }
    Ok(documents)
}

fn impact(response: proto::WhatIfResponse) -> Result<Impact, Failure> {
    let count = |count: u64| usize::try_from(count).unwrap_or(usize::MAX);
    Ok(Impact {
        changed_objects: response.changed_objects,
        workloads_total: count(response.workloads_total),
        workloads_judged: count(response.workloads_judged),
        workloads: response
            .workloads
            .into_iter()
            .map(workload_impact)
            .collect::<Result<_, _>>()?,
        tenants: response
            .tenants
            .into_iter()
            .map(tenant_impact)
            .collect::<Result<_, _>>()?,
    })
}

fn workload_impact(item: proto::WorkloadImpact) -> Result<WorkloadImpact, Failure> {
    use proto::ImpactKind as Api;
    let change = match item.kind() {
        Api::Moves => ChangeKind::Moves,
        Api::Stranded => ChangeKind::Stranded,
        Api::Unplaceable => ChangeKind::Unplaceable,
        Api::Placeable => ChangeKind::Placeable,
        Api::EligibilityChanges => ChangeKind::EligibilityChanges,
        Api::Unjudgeable => ChangeKind::Unjudgeable,
        Api::Judgeable => ChangeKind::Judgeable,
        Api::Unspecified => return Err(unknown("impact kind", &item.workload)),
    };
    let verdict = |verdict: proto::SiteVerdict| match verdict {
        proto::SiteVerdict::Eligible => Ok(Verdict::Eligible),
        proto::SiteVerdict::Rejected => Ok(Verdict::Rejected),
        proto::SiteVerdict::Absent => Ok(Verdict::Absent),
        proto::SiteVerdict::Unspecified => Err(unknown("site verdict", &item.workload)),
    };
    let mut sites = Vec::new();
    for site in &item.sites {
        sites.push(SiteChange {
            site: site.site.clone(),
            before: verdict(site.before())?,
            after: verdict(site.after())?,
            lifted: reasons(&site.lifted)?,
            added: reasons(&site.added)?,
        });
    }
    Ok(WorkloadImpact {
        change,
        tenant: item.tenant,
        classification: item.classification,
        from: item.from_sites,
        to: item.to_sites,
        why: (!item.why.is_empty()).then_some(item.why),
        lost_sites: item.lost_sites,
        gained_sites: item.gained_sites,
        sites,
        workload: item.workload,
    })
}

fn tenant_impact(tenant: proto::TenantImpact) -> Result<TenantImpact, Failure> {
    let mut loses = Vec::new();
    for loss in &tenant.loses {
        let fate = match loss.fate() {
            proto::SiteFate::Removed => Fate::Removed,
            proto::SiteFate::RemovalPending => Fate::RemovalPending,
            proto::SiteFate::Unspecified => return Err(unknown("site fate", &tenant.tenant)),
        };
        loses.push(SiteLoss {
            site: loss.site.clone(),
            fate,
            why: loss.why.clone(),
            reasons: reasons(&loss.reasons)?,
        });
    }
    Ok(TenantImpact {
        tenant: tenant.tenant,
        loses,
        gains: tenant.gains,
    })
}

fn reasons(reasons: &[proto::Reason]) -> Result<Vec<Reason>, Failure> {
    reasons
        .iter()
        .map(|reason| {
            let code =
                reason_code(reason.code()).ok_or_else(|| unknown("reason code", &reason.source))?;
            Ok(Reason::new(
                code,
                reason.required.clone(),
                reason.actual.clone(),
                reason.source.clone(),
                reason.message.clone(),
            ))
        })
        .collect()
}

fn reason_code(code: proto::ReasonCode) -> Option<ReasonCode> {
    use proto::ReasonCode as Api;
    Some(match code {
        Api::ClassificationAboveTenantCeiling => ReasonCode::ClassificationAboveTenantCeiling,
        Api::JurisdictionNotAllowed => ReasonCode::JurisdictionNotAllowed,
        Api::SovereigntyTierNotAllowed => ReasonCode::SovereigntyTierNotAllowed,
        Api::CertificationMissing => ReasonCode::CertificationMissing,
        Api::KeyCustodyNotOffered => ReasonCode::KeyCustodyNotOffered,
        Api::EncryptionInTransitMissing => ReasonCode::EncryptionInTransitMissing,
        Api::BackupCopiesInsufficient => ReasonCode::BackupCopiesInsufficient,
        Api::BackupJurisdictionMismatch => ReasonCode::BackupJurisdictionMismatch,
        Api::AvailabilityBelowClassificationMinimum => {
            ReasonCode::AvailabilityBelowClassificationMinimum
        }
        Api::AvailabilityBelowWorkloadTarget => ReasonCode::AvailabilityBelowWorkloadTarget,
        Api::SiteNotReady => ReasonCode::SiteNotReady,
        Api::SiteTainted => ReasonCode::SiteTainted,
        Api::SiteNotAllowedForTenant => ReasonCode::SiteNotAllowedForTenant,
        Api::ExcludedByRule => ReasonCode::ExcludedByRule,
        Api::SiteSelectorMismatch => ReasonCode::SiteSelectorMismatch,
        Api::InsufficientCapacity => ReasonCode::InsufficientCapacity,
        Api::Unspecified => return None,
    })
}

/// An answer this CLI cannot read: most likely a newer API.
fn unknown(what: &str, subject: &str) -> Failure {
    Failure {
        message: format!(
            "the API answered a {what} this soberana does not know (for {subject}); use a soberana as new as the API"
        ),
        code: 1,
    }
}
