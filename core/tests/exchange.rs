//! Interoperability agreements judged on a small estate: two sovereign sites in CR and a public
//! region in the US; the civil registry provides identity checks, health and social security
//! consume them.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use soberana_core::exchange::{
    APPROVAL_NOT_HONOURED, APPROVALS_UNPROVEN, ApprovalPolicyState, ExchangeIdentity,
    ExchangeObjects, decide, network_policies, policy_name,
};
use soberana_core::placement::{Objects, Snapshot};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::data_exchange::{DataExchangeSpec, ExchangeState};
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn site(name: &str, jurisdiction: &str, tier: &str) -> Site {
    typed(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Site", "metadata": {"name": name},
        "spec": {"provider": "p", "sovereigntyTier": tier, "jurisdiction": jurisdiction,
                 "offeredAvailability": "99.9", "capacity": {"cpuMillicores": 100000, "memoryMebibytes": 100000}}
    }))
}

fn classification(name: &str, rank: u32, jurisdictions: &[&str]) -> DataClassification {
    let mut spec = json!({"rank": rank, "legalBasis": "Ley 8968"});
    if !jurisdictions.is_empty() {
        spec["allowedJurisdictions"] = json!(jurisdictions);
    }
    typed(
        json!({"apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification",
                 "metadata": {"name": name}, "spec": spec}),
    )
}

fn tenant(name: &str, code: &str, ceiling: &str, allowed: &[&str], egress: bool) -> Tenant {
    let mut spec = json!({
        "displayName": name, "shortCode": code, "highestClassification": ceiling,
        "environments": [{"name": "prod"}, {"name": "staging"}],
        "quota": {"cpuMillicores": 1000, "memoryMebibytes": 1024, "storageGibibytes": 10},
        "allowedSites": allowed,
        "owners": [{"kind": "Group", "name": format!("{name}-admins")},
                   {"kind": "User", "name": format!("{name}-director")}],
    });
    if egress {
        spec["egress"] = json!([{"name": "lab", "cidr": "10.0.0.0/8", "ports": [443]}]);
    }
    typed(
        json!({"apiVersion": "soberana.io/v1alpha1", "kind": "Tenant",
                 "metadata": {"name": name, "uid": format!("uid-{name}")}, "spec": spec}),
    )
}

fn workload(
    namespace: &str,
    name: &str,
    tenant: &str,
    classification: &str,
    sites: &[&str],
) -> Workload {
    typed(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"tenant": tenant, "classification": classification, "replicas": 1,
                 "resources": {"cpuMillicores": 100, "memoryMebibytes": 128}},
        "status": {"chosenSites": sites},
    }))
}

struct Estate {
    snapshot: Snapshot,
    workloads: Vec<Workload>,
    approval_policy: ApprovalPolicyState,
}

impl Estate {
    /// Health's tenancy is on the sovereign sites only; social security may also use the US
    /// region (for its public data).
    fn new() -> Self {
        let sites = [
            site("state-dc", "CR", "StateOwned"),
            site("national-cloud", "CR", "NationalProvider"),
            site("public-us", "US", "ForeignPublic"),
        ];
        let classifications = [
            classification("public", 0, &[]),
            classification("confidential", 20, &["CR"]),
            classification("restricted", 30, &["CR"]),
        ];
        let tenants = [
            tenant(
                "civil-registry",
                "rc",
                "restricted",
                &["state-dc", "national-cloud"],
                false,
            ),
            tenant(
                "health",
                "minsa",
                "restricted",
                &["state-dc", "national-cloud"],
                true,
            ),
            tenant("social-security", "ccss", "restricted", &[], false),
            tenant("libraries", "bn", "public", &["state-dc"], false),
            // Its ceiling classification was deleted.
            tenant("archive", "arch", "top-secret", &["state-dc"], false),
        ];
        let snapshot = Snapshot::new(Objects {
            sites: &sites,
            classifications: &classifications,
            tenants: &tenants,
            ..Objects::default()
        })
        .unwrap();
        let workloads = vec![
            workload(
                "rc-prod",
                "identidad",
                "civil-registry",
                "restricted",
                &["state-dc", "national-cloud"],
            ),
            workload(
                "minsa-prod",
                "expediente",
                "health",
                "restricted",
                &["state-dc"],
            ),
            workload(
                "minsa-prod",
                "citas",
                "health",
                "confidential",
                &["national-cloud"],
            ),
            workload(
                "minsa-staging",
                "pruebas",
                "health",
                "confidential",
                &["state-dc"],
            ),
            workload(
                "ccss-prod",
                "pensiones",
                "social-security",
                "restricted",
                &["state-dc"],
            ),
        ];
        Self {
            snapshot,
            workloads,
            approval_policy: ApprovalPolicyState::InForce,
        }
    }

    fn decide(
        &self,
        spec: &DataExchangeSpec,
        now: &str,
    ) -> soberana_core::exchange::ExchangeDecision {
        let objects = ExchangeObjects {
            snapshot: &self.snapshot,
            workloads: &self.workloads,
            approval_policy: &self.approval_policy,
        };
        decide(spec, &objects, now.parse::<Timestamp>().unwrap())
    }
}

fn agreement(consumer: &str, changes: Value) -> DataExchangeSpec {
    let mut spec = json!({
        "provider": {"tenant": "civil-registry", "environment": "prod", "workload": "identidad",
                     "ports": [{"port": 8443}]},
        "consumer": {"tenant": consumer, "environments": ["prod"]},
        "classification": "restricted",
        "purpose": "verify a citizen's identity at registration",
        "legalBasis": "Ley 9999 art. 4",
        "validity": {"notBefore": "2026-01-01T00:00:00Z", "notAfter": "2027-01-01T00:00:00Z"},
        "approvals": {"provider": {"approvedBy": "ana", "groups": ["civil-registry-admins"]},
                      "consumer": {"approvedBy": "luis", "groups": [format!("{consumer}-admins")]}},
    });
    merge(&mut spec, changes);
    typed(spec)
}

fn merge(target: &mut Value, changes: Value) {
    match (target, changes) {
        (Value::Object(target), Value::Object(changes)) => {
            for (key, value) in changes {
                if value.is_null() {
                    target.remove(&key);
                } else {
                    merge(target.entry(key).or_insert(Value::Null), value);
                }
            }
        }
        (target, changes) => *target = changes,
    }
}

const IN_FORCE: &str = "2026-06-01T00:00:00Z";

#[test]
fn an_approved_compliant_agreement_opens_a_path_only_where_both_ends_run() {
    let decision = Estate::new().decide(&agreement("health", json!({})), IN_FORCE);
    assert_eq!(
        decision.state,
        ExchangeState::Active,
        "{:?}",
        decision.reasons
    );
    // identidad runs on state-dc and national-cloud; health's prod Workloads on both too
    // (expediente on state-dc, citas on national-cloud); staging is not part of the agreement.
    assert_eq!(decision.open_on(), ["national-cloud", "state-dc"]);
    assert!(decision.cross_site.is_empty());
    assert_eq!(
        decision.next_change,
        Some("2027-01-01T00:00:00Z".parse().unwrap())
    );
    let path = &decision.paths[0];
    assert_eq!(path.provider_namespace, "rc-prod");
    assert_eq!(path.consumer_namespaces, ["minsa-prod"]);
}

#[test]
fn named_consumer_workloads_narrow_the_sites_and_report_the_cross_site_path() {
    let spec = agreement(
        "health",
        json!({"consumer": {"workloads": ["citas"]}, "provider": {}}),
    );
    let mut estate = Estate::new();
    estate.workloads[0] = workload(
        "rc-prod",
        "identidad",
        "civil-registry",
        "restricted",
        &["state-dc"],
    );
    let decision = estate.decide(&spec, IN_FORCE);
    assert_eq!(decision.state, ExchangeState::Active);
    assert!(
        decision.paths.is_empty(),
        "citas runs only on national-cloud, identidad only on state-dc"
    );
    assert_eq!(decision.cross_site.len(), 1);
    assert_eq!(decision.cross_site[0].provider_site, "state-dc");
    assert_eq!(decision.cross_site[0].consumer_sites, ["national-cloud"]);
}

#[test]
fn a_consumer_whose_tenancy_reaches_a_foreign_region_is_refused_with_the_sites_reasons() {
    let decision = Estate::new().decide(&agreement("social-security", json!({})), IN_FORCE);
    assert_eq!(decision.state, ExchangeState::Refused);
    assert!(decision.paths.is_empty());
    assert!(
        decision
            .reasons
            .iter()
            .any(|reason| reason.starts_with("site public-us ") && reason.contains("US")),
        "{:?}",
        decision.reasons
    );
    assert!(
        !decision
            .reasons
            .iter()
            .any(|reason| reason.starts_with("site state-dc "))
    );
}

#[test]
fn refusals_name_every_fault_of_the_agreement() {
    let estate = Estate::new();
    let above_ceiling = estate.decide(&agreement("libraries", json!({})), IN_FORCE);
    assert_eq!(above_ceiling.state, ExchangeState::Refused);
    assert!(
        above_ceiling
            .reasons
            .iter()
            .any(|reason| reason.starts_with("consumer: ") && reason.contains("libraries")),
        "{:?}",
        above_ceiling.reasons
    );

    let understated = estate.decide(
        &agreement("health", json!({"classification": "confidential"})),
        IN_FORCE,
    );
    assert_eq!(understated.state, ExchangeState::Refused);
    assert!(
        understated.reasons[0].contains("less sensitive than the provider Workload's restricted"),
        "{:?}",
        understated.reasons
    );

    let missing = estate.decide(
        &agreement("health", json!({"provider": {"workload": "nope", "environment": "prod"}, "consumer": {"environments": ["prod", "qa"]}})),
        IN_FORCE,
    );
    assert_eq!(missing.state, ExchangeState::Refused);
    assert!(
        missing
            .reasons
            .iter()
            .any(|reason| reason.starts_with("spec.provider.workload: Workload rc-prod/nope"))
    );
    assert!(
        missing
            .reasons
            .iter()
            .any(|reason| reason.starts_with("spec.consumer.environments: [\"qa\"]"))
    );

    let unresolvable_ceiling = estate.decide(&agreement("archive", json!({})), IN_FORCE);
    assert_eq!(unresolvable_ceiling.state, ExchangeState::Refused);
    assert!(
        unresolvable_ceiling.reasons.iter().any(|reason| {
            reason.starts_with("consumer: Tenant archive's highestClassification")
                && reason.contains("\"top-secret\" does not exist")
        }),
        "{:?}",
        unresolvable_ceiling.reasons
    );

    let unknown = estate.decide(
        &agreement("nobody", json!({"classification": "secret"})),
        IN_FORCE,
    );
    assert_eq!(
        unknown.reasons,
        ["spec.classification: DataClassification \"secret\" does not exist"]
    );
}

#[test]
fn approvals_validity_and_placement_keep_an_agreement_pending() {
    let estate = Estate::new();
    let unapproved = estate.decide(
        &agreement("health", json!({"approvals": {"consumer": null}})),
        IN_FORCE,
    );
    assert_eq!(unapproved.state, ExchangeState::Pending);
    assert!(unapproved.paths.is_empty());
    assert_eq!(
        unapproved.reasons,
        ["awaiting the consumer's approval (spec.approvals.consumer, for Tenant health)"]
    );

    let early = estate.decide(&agreement("health", json!({})), "2025-12-31T23:59:59Z");
    assert_eq!(early.state, ExchangeState::Pending);
    assert_eq!(
        early.next_change,
        Some("2026-01-01T00:00:00Z".parse().unwrap())
    );

    let mut unplaced = Estate::new();
    unplaced.workloads[0] = workload("rc-prod", "identidad", "civil-registry", "restricted", &[]);
    let waiting = unplaced.decide(&agreement("health", json!({})), IN_FORCE);
    assert_eq!(waiting.state, ExchangeState::Pending);
    assert!(waiting.reasons[0].contains("not placed on any site yet"));
}

#[test]
fn an_approval_is_honoured_only_from_an_owner_of_its_side() {
    let estate = Estate::new();
    // A `User` owner by name, with no group.
    let by_the_director = estate.decide(
        &agreement(
            "health",
            json!({"approvals": {"consumer": {"approvedBy": "health-director", "groups": null}}}),
        ),
        IN_FORCE,
    );
    assert_eq!(by_the_director.state, ExchangeState::Active);

    // Someone authenticated (the admission policy proved the name) but no owner of health.
    let by_a_stranger = estate.decide(
        &agreement(
            "health",
            json!({"approvals": {"consumer": {"approvedBy": "mallory", "groups": ["civil-registry-admins"]}}}),
        ),
        IN_FORCE,
    );
    assert_eq!(by_a_stranger.state, ExchangeState::Pending);
    assert!(by_a_stranger.paths.is_empty());
    assert_eq!(by_a_stranger.hold, Some(APPROVAL_NOT_HONOURED));
    assert_eq!(
        by_a_stranger.reasons,
        [
            "spec.approvals.consumer: user \"mallory\" (groups civil-registry-admins) is not an owner of Tenant health (owners: group health-admins, user health-director), so the consumer's approval is not honoured; one of its owners must approve"
        ]
    );

    // The provider's owner cannot approve for the consumer, nor the consumer's for itself twice.
    let provider_for_both = estate.decide(
        &agreement(
            "health",
            json!({"approvals": {"provider": {"approvedBy": "luis", "groups": ["health-admins"]}}}),
        ),
        IN_FORCE,
    );
    assert_eq!(provider_for_both.state, ExchangeState::Pending);
    assert!(provider_for_both.reasons[0].starts_with("spec.approvals.provider: user \"luis\""));
}

#[test]
fn without_the_approval_policy_no_approval_is_honoured() {
    let mut estate = Estate::new();
    estate.approval_policy = ApprovalPolicyState::Unproven(
        "the ValidatingAdmissionPolicy soberana-exchange-approvals does not exist".to_owned(),
    );
    let unproven = estate.decide(&agreement("health", json!({})), IN_FORCE);
    assert_eq!(unproven.state, ExchangeState::Pending);
    assert!(unproven.paths.is_empty());
    assert_eq!(unproven.hold, Some(APPROVALS_UNPROVEN));
    assert!(
        unproven.reasons[0].starts_with("no approval is honoured: the management cluster does not prove who wrote them (the ValidatingAdmissionPolicy soberana-exchange-approvals does not exist)"),
        "{:?}",
        unproven.reasons
    );
    // Refusal and the end of an agreement still come first: nothing waits that is refused.
    let refused = estate.decide(&agreement("social-security", json!({})), IN_FORCE);
    assert_eq!(refused.state, ExchangeState::Refused);
}

#[test]
fn expiry_and_revocation_close_everything_whatever_else_holds() {
    let estate = Estate::new();
    let expired = estate.decide(&agreement("health", json!({})), "2027-01-01T00:00:00Z");
    assert_eq!(expired.state, ExchangeState::Expired);
    assert!(expired.paths.is_empty() && expired.next_change.is_none());

    let revoked = estate.decide(
        &agreement(
            "social-security",
            json!({"revocation": {"revokedBy": "DPO", "reason": "breach"}}),
        ),
        IN_FORCE,
    );
    assert_eq!(revoked.state, ExchangeState::Revoked);
    assert_eq!(revoked.reasons, ["revoked by DPO: breach"]);
}

#[test]
fn the_path_admits_exactly_the_consumer_to_exactly_the_provider_pods_and_ports() {
    let spec = agreement(
        "health",
        json!({"consumer": {"workloads": ["expediente"]},
        "provider": {"ports": [{"port": 8443}, {"port": 53, "protocol": "UDP"}]}}),
    );
    let decision = Estate::new().decide(&spec, IN_FORCE);
    let path = decision
        .paths
        .iter()
        .find(|path| path.site == "state-dc")
        .unwrap();
    let exchange = ExchangeIdentity {
        name: "identidad-minsa",
        uid: "uid-1",
    };
    let policies = network_policies(exchange, &spec, path, true);
    let rendered = serde_json::to_value(&policies).unwrap();
    assert_eq!(
        rendered,
        json!([
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "soberana-exchange-identidad-minsa", "namespace": "rc-prod",
                "labels": {"app.kubernetes.io/managed-by": "soberana", "soberana.io/exchange": "identidad-minsa", "soberana.io/tenant": "civil-registry"},
                "annotations": {"soberana.io/exchange-uid": "uid-1"}},
             "spec": {"podSelector": {"matchLabels": {"soberana.io/workload": "identidad"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "minsa-prod", "soberana.io/tenant": "health"}},
                                       "podSelector": {"matchExpressions": [{"key": "soberana.io/workload", "operator": "In", "values": ["expediente"]}]}}],
                             "ports": [{"port": 8443, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}]}},
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "soberana-exchange-identidad-minsa", "namespace": "minsa-prod",
                "labels": {"app.kubernetes.io/managed-by": "soberana", "soberana.io/exchange": "identidad-minsa", "soberana.io/tenant": "health"},
                "annotations": {"soberana.io/exchange-uid": "uid-1"}},
             "spec": {"podSelector": {"matchExpressions": [{"key": "soberana.io/workload", "operator": "In", "values": ["expediente"]}]},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "rc-prod", "soberana.io/tenant": "civil-registry"}},
                                    "podSelector": {"matchLabels": {"soberana.io/workload": "identidad"}}}],
                            "ports": [{"port": 8443, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}]}}
        ])
    );
    assert_eq!(
        network_policies(exchange, &spec, path, false).len(),
        1,
        "no egress policy when the consumer's egress is open"
    );
}

#[test]
fn long_agreement_names_still_give_valid_object_names_and_labels() {
    let long = "a".repeat(253);
    let name = policy_name(&long);
    assert_eq!(name.len(), 253);
    assert!(name.starts_with("soberana-exchange-aaa"));
    assert_ne!(policy_name(&long), policy_name(&"a".repeat(252)));
    let label = soberana_core::exchange::exchange_label_value(&long);
    assert!(label.len() <= 63 && label.starts_with("aaa"));
}
