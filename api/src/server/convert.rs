//! Core types into the API's messages.

use kube::ResourceExt;
use soberana_core::placement::what_if::{ChangeKind, Fate, Impact, Verdict, WorkloadImpact};
use soberana_core::placement::{Decision, Reason, ReasonCode};
use soberana_core::resources::capacity::Capacity;
use soberana_core::resources::data_exchange::{DataExchange, ExchangePort, ExchangeState};
use soberana_core::resources::site::Site;
use soberana_core::resources::sovereignty::SovereigntyTier;
use soberana_core::resources::tenant::{ProvisioningState, Tenant};
use soberana_core::resources::workload::{Workload, WorkloadPhase};
use soberana_proto::v1 as proto;

pub fn capacity(capacity: Capacity) -> proto::Capacity {
    proto::Capacity {
        cpu_millicores: capacity.cpu_millicores,
        memory_mebibytes: capacity.memory_mebibytes,
        storage_gibibytes: capacity.storage_gibibytes,
    }
}

fn reason_code(code: ReasonCode) -> proto::ReasonCode {
    use proto::ReasonCode as Api;
    match code {
        ReasonCode::ClassificationAboveTenantCeiling => Api::ClassificationAboveTenantCeiling,
        ReasonCode::JurisdictionNotAllowed => Api::JurisdictionNotAllowed,
        ReasonCode::SovereigntyTierNotAllowed => Api::SovereigntyTierNotAllowed,
        ReasonCode::CertificationMissing => Api::CertificationMissing,
        ReasonCode::KeyCustodyNotOffered => Api::KeyCustodyNotOffered,
        ReasonCode::EncryptionInTransitMissing => Api::EncryptionInTransitMissing,
        ReasonCode::BackupCopiesInsufficient => Api::BackupCopiesInsufficient,
        ReasonCode::BackupJurisdictionMismatch => Api::BackupJurisdictionMismatch,
        ReasonCode::AvailabilityBelowClassificationMinimum => {
            Api::AvailabilityBelowClassificationMinimum
        }
        ReasonCode::AvailabilityBelowWorkloadTarget => Api::AvailabilityBelowWorkloadTarget,
        ReasonCode::SiteNotReady => Api::SiteNotReady,
        ReasonCode::SiteTainted => Api::SiteTainted,
        ReasonCode::SiteNotAllowedForTenant => Api::SiteNotAllowedForTenant,
        ReasonCode::ExcludedByRule => Api::ExcludedByRule,
        ReasonCode::SiteSelectorMismatch => Api::SiteSelectorMismatch,
        ReasonCode::InsufficientCapacity => Api::InsufficientCapacity,
    }
}

/// The decision as the API reports it (taken by value: its strings move into the message).
pub fn decision(decision: Decision) -> proto::Decision {
    let (unplaceable_code, unplaceable_message) = decision
        .unplaceable
        .map(|unplaceable| (unplaceable.code, unplaceable.message))
        .unwrap_or_default();
    proto::Decision {
        chosen_sites: decision.chosen_sites,
        eligible: decision
            .eligible
            .into_iter()
            .map(|score| proto::SiteScore {
                site: score.site,
                total: score.total,
                criteria: score
                    .criteria
                    .into_iter()
                    .map(|criterion| proto::CriterionScore {
                        criterion: criterion.criterion,
                        weight: criterion.weight,
                        score: criterion.score,
                        weighted: criterion.weighted,
                        basis: criterion.basis,
                    })
                    .collect(),
            })
            .collect(),
        rejected: decision
            .rejected
            .into_iter()
            .map(|rejection| proto::SiteRejection {
                site: rejection.site,
                reasons: rejection.reasons.into_iter().map(reason).collect(),
            })
            .collect(),
        matched_rules: decision.matched_rules,
        unplaceable_code,
        unplaceable_message,
        decide_time: Some(now()),
    }
}

fn reason(reason: Reason) -> proto::Reason {
    proto::Reason {
        code: reason_code(reason.code).into(),
        required: reason.facts.required,
        actual: reason.facts.actual,
        source: reason.source,
        message: reason.message,
    }
}

/// A what-if's impact as the API reports it.
pub fn impact(impact: Impact) -> proto::WhatIfResponse {
    let count = |count: usize| u64::try_from(count).unwrap_or(u64::MAX);
    proto::WhatIfResponse {
        changed_objects: impact.changed_objects,
        workloads_total: count(impact.workloads_total),
        workloads_judged: count(impact.workloads_judged),
        workloads: impact.workloads.into_iter().map(workload_impact).collect(),
        tenants: impact
            .tenants
            .into_iter()
            .map(|tenant| proto::TenantImpact {
                tenant: tenant.tenant,
                loses: tenant
                    .loses
                    .into_iter()
                    .map(|loss| proto::SiteLoss {
                        site: loss.site,
                        fate: match loss.fate {
                            Fate::Removed => proto::SiteFate::Removed,
                            Fate::RemovalPending => proto::SiteFate::RemovalPending,
                        }
                        .into(),
                        why: loss.why,
                        reasons: loss.reasons.into_iter().map(reason).collect(),
                    })
                    .collect(),
                gains: tenant.gains,
            })
            .collect(),
    }
}

fn workload_impact(item: WorkloadImpact) -> proto::WorkloadImpact {
    use proto::ImpactKind as Api;
    let verdict = |verdict: Verdict| -> i32 {
        match verdict {
            Verdict::Eligible => proto::SiteVerdict::Eligible,
            Verdict::Rejected => proto::SiteVerdict::Rejected,
            Verdict::Absent => proto::SiteVerdict::Absent,
        }
        .into()
    };
    proto::WorkloadImpact {
        workload: item.workload,
        tenant: item.tenant,
        classification: item.classification,
        kind: match item.change {
            ChangeKind::Moves => Api::Moves,
            ChangeKind::Stranded => Api::Stranded,
            ChangeKind::Unplaceable => Api::Unplaceable,
            ChangeKind::Placeable => Api::Placeable,
            ChangeKind::EligibilityChanges => Api::EligibilityChanges,
            ChangeKind::Unjudgeable => Api::Unjudgeable,
            ChangeKind::Judgeable => Api::Judgeable,
        }
        .into(),
        from_sites: item.from,
        to_sites: item.to,
        why: item.why.unwrap_or_default(),
        lost_sites: item.lost_sites,
        gained_sites: item.gained_sites,
        sites: item
            .sites
            .into_iter()
            .map(|change| proto::SiteChange {
                site: change.site,
                before: verdict(change.before),
                after: verdict(change.after),
                lifted: change.lifted.into_iter().map(reason).collect(),
                added: change.added.into_iter().map(reason).collect(),
            })
            .collect(),
    }
}

fn timestamp(time: &k8s_openapi::jiff::Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.as_second(),
        nanos: time.subsec_nanosecond(),
    }
}

/// An agreement with where the operator last found it standing.
pub fn exchange(exchange: &DataExchange) -> proto::Exchange {
    let spec = &exchange.spec;
    let status = exchange.status.clone().unwrap_or_default();
    proto::Exchange {
        name: exchange.name_any(),
        provider_tenant: spec.provider.tenant.clone(),
        provider_environment: spec.provider.environment.clone(),
        provider_workload: spec.provider.workload.clone(),
        ports: spec
            .provider
            .ports
            .iter()
            .map(ExchangePort::label)
            .collect(),
        consumer_tenant: spec.consumer.tenant.clone(),
        consumer_environments: spec.consumer.environments.clone(),
        consumer_workloads: spec.consumer.workloads.clone(),
        classification: spec.classification.clone(),
        purpose: spec.purpose.clone(),
        legal_basis: spec.legal_basis.clone(),
        not_before: spec
            .validity
            .not_before
            .as_ref()
            .map(|time| timestamp(&time.0)),
        not_after: Some(timestamp(&spec.validity.not_after.0)),
        state: match status.state {
            None => proto::ExchangeState::Unspecified,
            Some(ExchangeState::Pending) => proto::ExchangeState::Pending,
            Some(ExchangeState::Active) => proto::ExchangeState::Active,
            Some(ExchangeState::Refused) => proto::ExchangeState::Refused,
            Some(ExchangeState::Expired) => proto::ExchangeState::Expired,
            Some(ExchangeState::Revoked) => proto::ExchangeState::Revoked,
        }
        .into(),
        reasons: status.reasons,
        open_on: status.open_on,
        cross_site: status
            .cross_site
            .into_iter()
            .map(|path| proto::CrossSitePath {
                provider_site: path.provider_site,
                consumer_sites: path.consumer_sites,
            })
            .collect(),
    }
}

pub fn now() -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now())
}

pub fn phase(phase: Option<WorkloadPhase>) -> proto::MigrationPhase {
    match phase {
        None | Some(WorkloadPhase::Pending) => proto::MigrationPhase::Pending,
        Some(WorkloadPhase::Placed) => proto::MigrationPhase::Placed,
        Some(WorkloadPhase::Deploying) => proto::MigrationPhase::Deploying,
        Some(WorkloadPhase::Running) => proto::MigrationPhase::Running,
        Some(WorkloadPhase::Unplaceable) => proto::MigrationPhase::Unplaceable,
        Some(WorkloadPhase::FailingOver) => proto::MigrationPhase::FailingOver,
    }
}

pub fn migration(workload: &Workload) -> proto::Migration {
    let status = workload.status.clone().unwrap_or_default();
    proto::Migration {
        name: format!(
            "{}/{}",
            workload.namespace().unwrap_or_default(),
            workload.name_any()
        ),
        tenant: workload.spec.tenant.clone(),
        classification: workload.spec.classification.clone(),
        phase: phase(status.phase).into(),
        chosen_sites: status.chosen_sites.clone(),
        decision: status.decision.map(decision),
        sites: status
            .sites
            .iter()
            .map(|entry| proto::SiteRollout {
                site: entry.site.clone(),
                state: entry.state.as_str().to_owned(),
                desired_replicas: entry.desired_replicas,
                available_replicas: entry.available_replicas,
                message: entry.message.clone().unwrap_or_default(),
            })
            .collect(),
        create_time: workload
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|time| timestamp(&time.0)),
    }
}

pub fn site(site: &Site) -> proto::Site {
    let status = site.status.clone().unwrap_or_default();
    proto::Site {
        name: site.name_any(),
        provider: site.spec.provider.clone(),
        sovereignty_tier: match site.spec.sovereignty_tier {
            SovereigntyTier::StateOwned => proto::SovereigntyTier::StateOwned,
            SovereigntyTier::NationalProvider => proto::SovereigntyTier::NationalProvider,
            SovereigntyTier::ForeignPublic => proto::SovereigntyTier::ForeignPublic,
        }
        .into(),
        jurisdiction: site.spec.jurisdiction.clone(),
        certifications: site.spec.certifications.clone(),
        offered_availability: site.spec.offered_availability.clone(),
        measured_availability: status.measured_availability.clone().unwrap_or_default(),
        ready: status
            .conditions
            .iter()
            .any(|condition| condition.type_ == "Ready" && condition.status == "True"),
        capacity: Some(capacity(site.spec.capacity)),
        allocated: status.allocated.map(capacity),
        allowed_classifications: status
            .residency
            .map(|residency| residency.allowed_classifications)
            .unwrap_or_default(),
    }
}

pub fn tenant(tenant: &Tenant) -> proto::Tenant {
    let status = tenant.status.clone().unwrap_or_default();
    proto::Tenant {
        name: tenant.name_any(),
        display_name: tenant.spec.display_name.clone(),
        short_code: tenant.spec.short_code.clone(),
        highest_classification: tenant.spec.highest_classification.clone(),
        environments: tenant
            .spec
            .environments
            .iter()
            .map(|environment| environment.name.clone())
            .collect(),
        sites: status
            .sites
            .iter()
            .map(|entry| proto::TenantSite {
                site: entry.site.clone(),
                state: match entry.state {
                    ProvisioningState::Provisioned => "Provisioned",
                    ProvisioningState::Pending => "Pending",
                    ProvisioningState::Failed => "Failed",
                    ProvisioningState::Conflict => "Conflict",
                    ProvisioningState::RemovalPending => "RemovalPending",
                }
                .to_owned(),
                message: entry.message.clone().unwrap_or_default(),
            })
            .collect(),
        ready: tenant.is_ready(),
    }
}
