//! Whether an agreement is in force and compliant, and where its path opens. The residency
//! judgement is the placement engine's own (`classification_requirements` per site, the tenant
//! ceiling): an agreement never opens a path to a consumer that could not itself hold the data.

use std::collections::BTreeSet;

use k8s_openapi::jiff::Timestamp;

use super::approval_policy::{APPROVAL_POLICY, ApprovalPolicyState};
use super::ends::{ConsumerEnd, ExchangeObjects, ProviderEnd, consumer_end, provider_end};
use crate::placement::filters::classification_requirements;
use crate::placement::resolve::ceiling_violation;
use crate::placement::snapshot::PreparedClassification;
use crate::resources::data_exchange::{Approval, CrossSitePath, DataExchangeSpec, ExchangeState};
use crate::resources::tenant::{OwnerKind, TenantSpec};

/// Why an agreement waits (the `Ready` condition's reason): the management cluster does not
/// prove who wrote its approvals, so none is honoured.
pub const APPROVALS_UNPROVEN: &str = "ApprovalsUnproven";
/// Why an agreement waits: an approval was given by someone who is not an owner of that side's
/// Tenant.
pub const APPROVAL_NOT_HONOURED: &str = "ApprovalNotHonoured";

/// The verdict on one agreement at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeDecision {
    pub state: ExchangeState,
    /// Why it is not active: every reason found.
    pub reasons: Vec<String>,
    /// The path on each site where both ends run (empty unless `Active`).
    pub paths: Vec<SitePath>,
    /// Provider sites whose consumers run only elsewhere (reported, never opened).
    pub cross_site: Vec<CrossSitePath>,
    /// When the verdict changes by itself (`notBefore` or `notAfter`), to look again then.
    pub next_change: Option<Timestamp>,
    /// While `Pending` because of an approval: [`APPROVALS_UNPROVEN`] or
    /// [`APPROVAL_NOT_HONOURED`], the reason the status and Event give instead of `Pending`.
    pub hold: Option<&'static str>,
}

/// The path opened on one site: into the provider Workload's pods in `provider_namespace`,
/// from the consumer's namespaces (and Workloads, when the agreement names some).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SitePath {
    pub site: String,
    pub provider_namespace: String,
    pub provider_workload: String,
    pub consumer_namespaces: Vec<String>,
}

impl ExchangeDecision {
    fn closed(state: ExchangeState, reasons: Vec<String>, next_change: Option<Timestamp>) -> Self {
        Self {
            state,
            reasons,
            paths: Vec::new(),
            cross_site: Vec::new(),
            next_change,
            hold: None,
        }
    }

    /// The sites where a path is open.
    pub fn open_on(&self) -> Vec<String> {
        self.paths.iter().map(|path| path.site.clone()).collect()
    }
}

/// Judges `spec` (the agreement named `name`) at `now`: revoked and expired first (they close
/// everything whatever else holds), then compliance (every reason), then approvals and
/// `notBefore`, and only then the paths.
pub fn decide(
    spec: &DataExchangeSpec,
    objects: &ExchangeObjects<'_>,
    now: Timestamp,
) -> ExchangeDecision {
    if let Some(revocation) = &spec.revocation {
        return ExchangeDecision::closed(
            ExchangeState::Revoked,
            vec![format!(
                "revoked by {}: {}",
                revocation.revoked_by, revocation.reason
            )],
            None,
        );
    }
    let not_after = spec.validity.not_after.0;
    if now >= not_after {
        return ExchangeDecision::closed(
            ExchangeState::Expired,
            vec![format!("expired at {not_after} (validity.notAfter)")],
            None,
        );
    }
    let mut reasons = Vec::new();
    let ends = compliant_ends(spec, objects, &mut reasons);
    let Some((provider, consumer)) = ends.filter(|_| reasons.is_empty()) else {
        return ExchangeDecision::closed(ExchangeState::Refused, reasons, Some(not_after));
    };
    let (waiting, hold) = awaiting(spec, objects, &provider, now);
    if !waiting.is_empty() {
        let next = spec
            .validity
            .not_before
            .as_ref()
            .map(|time| time.0)
            .filter(|not_before| *not_before > now)
            .unwrap_or(not_after);
        return ExchangeDecision {
            hold,
            ..ExchangeDecision::closed(ExchangeState::Pending, waiting, Some(next))
        };
    }
    ExchangeDecision {
        state: ExchangeState::Active,
        reasons: Vec::new(),
        paths: paths(spec, &provider, &consumer),
        cross_site: cross_site(&provider, &consumer),
        next_change: Some(not_after),
        hold: None,
    }
}

/// Both ends, when every object exists and the data may live wherever either end runs or may
/// run; otherwise the reasons.
fn compliant_ends<'a>(
    spec: &DataExchangeSpec,
    objects: &ExchangeObjects<'a>,
    reasons: &mut Vec<String>,
) -> Option<(ProviderEnd<'a>, ConsumerEnd)> {
    let snapshot = objects.snapshot;
    let Some(classification) = snapshot.classifications.get(&spec.classification) else {
        reasons.push(format!(
            "spec.classification: DataClassification {:?} does not exist",
            spec.classification
        ));
        return None;
    };
    let provider_tenant = snapshot.tenants.get(&spec.provider.tenant);
    let consumer_tenant = snapshot.tenants.get(&spec.consumer.tenant);
    for (tenant, field, name) in [
        (
            provider_tenant,
            "spec.provider.tenant",
            &spec.provider.tenant,
        ),
        (
            consumer_tenant,
            "spec.consumer.tenant",
            &spec.consumer.tenant,
        ),
    ] {
        if tenant.is_none() {
            reasons.push(format!("{field}: Tenant {name:?} does not exist"));
        }
    }
    let (provider_tenant, consumer_tenant) = (provider_tenant?, consumer_tenant?);
    // Fail closed: a ceiling that cannot be resolved cannot be checked, so it refuses, as
    // placement does.
    let ceiling_name = &consumer_tenant.highest_classification;
    match snapshot.classifications.get(ceiling_name) {
        Some(ceiling) => {
            if let Some(violation) =
                ceiling_violation(&spec.consumer.tenant, classification, ceiling)
            {
                reasons.push(format!("consumer: {}", violation.message));
            }
        }
        None => reasons.push(format!(
            "consumer: Tenant {}'s highestClassification: DataClassification {ceiling_name:?} does not exist, so the agreement cannot be checked against the consumer's ceiling",
            spec.consumer.tenant
        )),
    }
    let provider = provider_end(spec, provider_tenant, objects, reasons);
    let consumer = consumer_end(spec, consumer_tenant, objects, reasons);
    if let Some(provider) = &provider {
        provider_classification(spec, provider, objects, reasons);
    }
    let sites: BTreeSet<&String> = provider
        .iter()
        .flat_map(|provider| &provider.sites)
        .chain(consumer.iter().flat_map(|consumer| &consumer.may_run_on))
        .collect();
    for site in sites {
        site_residency(site, classification, objects, reasons);
    }
    legal_basis_once(classification, reasons);
    Some((provider?, consumer?))
}

/// The data a provider serves is at least as sensitive as the provider Workload's own: an
/// agreement declaring less would let it travel where the Workload's data may not.
fn provider_classification(
    spec: &DataExchangeSpec,
    provider: &ProviderEnd<'_>,
    objects: &ExchangeObjects<'_>,
    reasons: &mut Vec<String>,
) {
    let classifications = &objects.snapshot.classifications;
    let own = &provider.workload.spec.classification;
    let Some(workload) = classifications.get(own) else {
        // Fail closed: the data's own sensitivity is unknown.
        reasons.push(format!(
            "spec.provider.workload: Workload {}/{}'s classification: DataClassification {own:?} does not exist, so the data's sensitivity cannot be compared",
            provider.namespace, spec.provider.workload
        ));
        return;
    };
    if let Some(declared) = classifications.get(&spec.classification)
        && declared.spec.rank < workload.spec.rank
    {
        reasons.push(format!(
            "spec.classification {} (rank {}) is less sensitive than the provider Workload's {own} (rank {}): an exchange carries the provider's data; declare {own} or higher",
            declared.name, declared.spec.rank, workload.spec.rank
        ));
    }
}

/// The placement engine's requirements of the classification, judged on one site where an end
/// runs or may run. Each reason names its site; the classification's legal basis, which every
/// such reason cites, is given once at the end (see `legal_basis_once`).
fn site_residency(
    site: &str,
    classification: &PreparedClassification,
    objects: &ExchangeObjects<'_>,
    reasons: &mut Vec<String>,
) {
    let Some(prepared) = objects
        .snapshot
        .sites
        .iter()
        .find(|candidate| candidate.name == site)
    else {
        reasons.push(format!("site {site}: the Site does not exist"));
        return;
    };
    let mut found = Vec::new();
    classification_requirements(classification, prepared, &mut found);
    let citation = legal_basis_citation(classification);
    reasons.extend(found.into_iter().map(|reason| {
        reason
            .message
            .strip_suffix(&citation)
            .unwrap_or(&reason.message)
            .to_owned()
    }));
}

/// How the engine's reasons cite the classification's legal basis.
fn legal_basis_citation(classification: &PreparedClassification) -> String {
    format!(" (legal basis: {})", classification.spec.legal_basis)
}

/// The classification's legal basis, once, after the site reasons that rest on it.
fn legal_basis_once(classification: &PreparedClassification, reasons: &mut Vec<String>) {
    if reasons.iter().any(|reason| reason.starts_with("site ")) {
        reasons.push(format!(
            "classification {}'s legal basis: {}",
            classification.name, classification.spec.legal_basis
        ));
    }
}

/// What the agreement still waits for before it is in force, and the approval reason when an
/// approval is why: both sides' approvals, each proven (the approval policy is in force) and
/// given by an owner of its side's Tenant.
fn awaiting(
    spec: &DataExchangeSpec,
    objects: &ExchangeObjects<'_>,
    provider: &ProviderEnd<'_>,
    now: Timestamp,
) -> (Vec<String>, Option<&'static str>) {
    let mut waiting = Vec::new();
    let mut hold = None;
    let approvals = &spec.approvals;
    if let ApprovalPolicyState::Unproven(why) = objects.approval_policy {
        waiting.push(format!(
            "no approval is honoured: the management cluster does not prove who wrote them ({why}); install the {APPROVAL_POLICY} policy and binding of the soberana chart"
        ));
        hold = Some(APPROVALS_UNPROVEN);
    }
    for (approval, side, tenant) in [
        (&approvals.provider, "provider", &spec.provider.tenant),
        (&approvals.consumer, "consumer", &spec.consumer.tenant),
    ] {
        let Some(approval) = approval else {
            waiting.push(format!(
                "awaiting the {side}'s approval (spec.approvals.{side}, for Tenant {tenant})"
            ));
            continue;
        };
        let side_tenant = objects.snapshot.tenants.get(tenant);
        if !side_tenant.is_some_and(|side_tenant| approved_by_an_owner(approval, side_tenant)) {
            waiting.push(format!(
                "spec.approvals.{side}: {} is not an owner of Tenant {tenant} ({}), so the {side}'s approval is not honoured; one of its owners must approve",
                approver(approval),
                side_tenant.map_or_else(|| "it does not exist".to_owned(), owner_list)
            ));
            hold = hold.or(Some(APPROVAL_NOT_HONOURED));
        }
    }
    if let Some(not_before) = &spec.validity.not_before
        && now < not_before.0
    {
        waiting.push(format!(
            "not in force before {} (validity.notBefore)",
            not_before.0
        ));
    }
    if provider.sites.is_empty() {
        waiting.push(format!(
            "the provider Workload {}/{} is not placed on any site yet",
            provider.namespace, spec.provider.workload
        ));
    }
    (waiting, hold)
}

/// Whether the approver is one of the Tenant's owners: a `User` owner by user name, or a
/// `Group` owner among the groups the approval was given as (which the approval policy checked
/// the approver held).
fn approved_by_an_owner(approval: &Approval, tenant: &TenantSpec) -> bool {
    tenant.owners.iter().any(|owner| match owner.kind {
        OwnerKind::User => owner.name == approval.approved_by,
        OwnerKind::Group => approval.groups.contains(&owner.name),
    })
}

/// `user "mallory" (groups [x, y])`, as reasons name an approver.
fn approver(approval: &Approval) -> String {
    if approval.groups.is_empty() {
        format!("user {:?}", approval.approved_by)
    } else {
        format!(
            "user {:?} (groups {})",
            approval.approved_by,
            approval.groups.join(", ")
        )
    }
}

/// `owners: user a, group b`, as reasons list a Tenant's owners.
fn owner_list(tenant: &TenantSpec) -> String {
    if tenant.owners.is_empty() {
        return "it has no owners".to_owned();
    }
    let owners: Vec<String> = tenant
        .owners
        .iter()
        .map(|owner| match owner.kind {
            OwnerKind::User => format!("user {}", owner.name),
            OwnerKind::Group => format!("group {}", owner.name),
        })
        .collect();
    format!("owners: {}", owners.join(", "))
}

/// One path on each site where the provider and a selected consumer Workload both run.
fn paths(
    spec: &DataExchangeSpec,
    provider: &ProviderEnd<'_>,
    consumer: &ConsumerEnd,
) -> Vec<SitePath> {
    provider
        .sites
        .intersection(&consumer.running_on)
        .map(|site| SitePath {
            site: site.clone(),
            provider_namespace: provider.namespace.clone(),
            provider_workload: spec.provider.workload.clone(),
            consumer_namespaces: consumer.namespaces.clone(),
        })
        .collect()
}

/// For each provider site, the consumer sites without the provider: they would need the
/// site-to-site path.
fn cross_site(provider: &ProviderEnd<'_>, consumer: &ConsumerEnd) -> Vec<CrossSitePath> {
    let elsewhere: Vec<String> = consumer
        .running_on
        .difference(&provider.sites)
        .cloned()
        .collect();
    if elsewhere.is_empty() {
        return Vec::new();
    }
    provider
        .sites
        .iter()
        .map(|site| CrossSitePath {
            provider_site: site.clone(),
            consumer_sites: elsewhere.clone(),
        })
        .collect()
}
