//! The placement engine on a small national scenario: who may run where, and the reasons given.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use serde_json::{Value, json};
use soberana_core::placement::{
    Decision, EvaluationError, Objects, Outcome, ReasonCode, Reservation, Snapshot, evaluate,
};
use soberana_core::resources::capacity::Capacity;
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;

fn site(name: &str, tier: &str, jurisdiction: &str, extra: Value) -> Site {
    let mut spec = json!({
        "provider": format!("{name}-provider"), "sovereigntyTier": tier, "jurisdiction": jurisdiction,
        "offeredAvailability": "99.95", "certifications": ["ISO27001"], "keyCustody": ["StateHeldHsm"],
        "encryptionInTransit": true, "backup": {"copies": 2, "jurisdiction": jurisdiction},
        "capacity": {"cpuMillicores": 10000, "memoryMebibytes": 10000, "storageGibibytes": 100}
    });
    merge(&mut spec, extra);
    serde_json::from_value(json!({"apiVersion": "soberana.io/v1alpha1", "kind": "Site", "metadata": {"name": name}, "spec": spec})).unwrap()
}

fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        target.extend(extra);
    }
}

fn classifications() -> Vec<DataClassification> {
    [
        json!({"metadata": {"name": "public"}, "spec": {"rank": 0, "legalBasis": "Ley 9097 de acceso a la información"}}),
        json!({"metadata": {"name": "restricted"}, "spec": {
            "rank": 30, "legalBasis": "Ley 8968, art. 9",
            "allowedJurisdictions": ["CR"], "allowedSovereigntyTiers": ["StateOwned"],
            "requiredCertifications": ["ISO27001"], "encryptionAtRest": {"keyCustody": "StateHeldHsm"},
            "encryptionInTransit": true, "backup": {"copies": 2, "sameJurisdiction": true},
            "minimumAvailability": "99.9"
        }}),
    ]
    .into_iter()
    .map(|mut object| {
        merge(&mut object, json!({"apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification"}));
        serde_json::from_value(object).unwrap()
    })
    .collect()
}

fn tenant(name: &str, ceiling: &str, allowed_sites: Value) -> Tenant {
    serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
        "spec": {"displayName": name, "shortCode": name, "highestClassification": ceiling,
                 "environments": [{"name": "prod"}], "quota": {"cpuMillicores": 1, "memoryMebibytes": 1},
                 "allowedSites": allowed_sites}
    }))
    .unwrap()
}

fn workload(name: &str, tenant: &str, classification: &str, extra: Value) -> Workload {
    let mut spec = json!({
        "tenant": tenant, "classification": classification, "replicas": 2,
        "resources": {"cpuMillicores": 1000, "memoryMebibytes": 1000}
    });
    merge(&mut spec, extra);
    serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
        "metadata": {"name": name, "namespace": format!("{tenant}-prod")}, "spec": spec
    }))
    .unwrap()
}

fn rule(name: &str, priority: i32, spec: Value) -> PlacementRule {
    let mut full = json!({"priority": priority});
    merge(&mut full, spec);
    serde_json::from_value(json!({"apiVersion": "soberana.io/v1alpha1", "kind": "PlacementRule", "metadata": {"name": name}, "spec": full})).unwrap()
}

fn sites() -> Vec<Site> {
    vec![
        site(
            "state-dc-primary",
            "StateOwned",
            "CR",
            json!({"zones": ["sj-a", "sj-b"], "costIndex": 70}),
        ),
        site(
            "state-dc-alternate",
            "StateOwned",
            "CR",
            json!({"zones": ["ca-a"], "costIndex": 70}),
        ),
        site(
            "national-cloud",
            "NationalProvider",
            "CR",
            json!({"costIndex": 50}),
        ),
        site(
            "public-cloud-us",
            "ForeignPublic",
            "US",
            json!({"costIndex": 20, "keyCustody": ["ProviderManaged"], "offeredAvailability": "99.99"}),
        ),
    ]
}

fn decide(workload: &Workload, rules: &[PlacementRule], reservations: &[Reservation]) -> Decision {
    let tenants = vec![
        tenant("minsa", "restricted", json!([])),
        tenant(
            "ict",
            "public",
            json!(["public-cloud-us", "national-cloud"]),
        ),
    ];
    let snapshot = Snapshot::new(Objects {
        sites: &sites(),
        classifications: &classifications(),
        rules,
        tenants: &tenants,
        reservations,
    })
    .unwrap();
    evaluate(&snapshot, workload).unwrap()
}

fn reasons_for<'a>(
    decision: &'a Decision,
    site: &str,
) -> Vec<&'a soberana_core::placement::Reason> {
    decision
        .rejected
        .iter()
        .find(|rejection| rejection.site == site)
        .map(|rejection| rejection.reasons.iter().collect())
        .unwrap_or_default()
}

#[test]
fn restricted_data_stays_on_state_owned_sites_in_country() {
    let decision = decide(
        &workload("expediente", "minsa", "restricted", json!({})),
        &[],
        &[],
    );
    assert_eq!(decision.outcome, Outcome::Placed);
    let eligible: Vec<&str> = decision.eligible_sites().collect();
    assert_eq!(
        eligible,
        ["state-dc-alternate", "state-dc-primary"],
        "equal scores: ties broken by name"
    );
    assert_eq!(decision.chosen_sites, ["state-dc-alternate"]);

    let foreign = reasons_for(&decision, "public-cloud-us");
    let codes: Vec<ReasonCode> = foreign.iter().map(|reason| reason.code).collect();
    assert_eq!(
        codes,
        [
            ReasonCode::JurisdictionNotAllowed,
            ReasonCode::SovereigntyTierNotAllowed,
            ReasonCode::KeyCustodyNotOffered
        ],
        "every reason, not just the first"
    );
    let jurisdiction = foreign[0];
    assert_eq!(
        (
            jurisdiction.facts.required.as_str(),
            jurisdiction.facts.actual.as_str()
        ),
        ("one of CR", "US")
    );
    assert_eq!(jurisdiction.source, "DataClassification/restricted");
    assert!(
        jurisdiction.message.contains("restricted")
            && jurisdiction.message.contains("Ley 8968, art. 9"),
        "{}",
        jurisdiction.message
    );

    let national = reasons_for(&decision, "national-cloud");
    assert_eq!(
        national
            .iter()
            .map(|reason| reason.code)
            .collect::<Vec<_>>(),
        [ReasonCode::SovereigntyTierNotAllowed]
    );
}

#[test]
fn a_classification_above_the_tenant_ceiling_is_rejected_everywhere() {
    let decision = decide(&workload("leak", "ict", "restricted", json!({})), &[], &[]);
    assert_eq!(decision.outcome, Outcome::Unplaceable);
    assert_eq!(
        decision.unplaceable.as_ref().unwrap().code,
        "NoEligibleSite"
    );
    assert_eq!(decision.rejected.len(), 4);
    for rejection in &decision.rejected {
        assert_eq!(
            rejection.reasons[0].code,
            ReasonCode::ClassificationAboveTenantCeiling,
            "{}",
            rejection.site
        );
    }
}

#[test]
fn the_tenant_allowed_sites_limit_placement() {
    let decision = decide(&workload("brochure", "ict", "public", json!({})), &[], &[]);
    let eligible: Vec<&str> = decision.eligible_sites().collect();
    assert_eq!(eligible.len(), 2, "{eligible:?}");
    assert!(eligible.contains(&"public-cloud-us") && eligible.contains(&"national-cloud"));
    let reasons = reasons_for(&decision, "state-dc-primary");
    assert_eq!(reasons[0].code, ReasonCode::SiteNotAllowedForTenant);
    assert_eq!(reasons[0].source, "Tenant/ict");
}

#[test]
fn capacity_counts_reservations() {
    let heavy = workload(
        "census",
        "minsa",
        "public",
        json!({"replicas": 4, "resources": {"cpuMillicores": 2000, "memoryMebibytes": 100}}),
    );
    let reservations = [Reservation {
        site: "national-cloud".to_owned(),
        capacity: Capacity {
            cpu_millicores: 3000,
            ..Capacity::default()
        },
    }];
    let decision = decide(&heavy, &[], &reservations);
    let reasons = reasons_for(&decision, "national-cloud");
    assert_eq!(reasons.len(), 1);
    assert_eq!(reasons[0].code, ReasonCode::InsufficientCapacity);
    assert!(
        reasons[0].facts.actual.starts_with("7000m CPU"),
        "{:?}",
        reasons[0].facts
    );
    assert!(reasons_for(&decision, "state-dc-primary").is_empty());
}

#[test]
fn taints_reject_unless_tolerated() {
    let mut tainted = sites();
    tainted[0] = site(
        "state-dc-primary",
        "StateOwned",
        "CR",
        json!({"taints": [{"key": "maintenance", "reason": "UPS replacement"}]}),
    );
    let tenants = vec![tenant("minsa", "restricted", json!([]))];
    let snapshot = Snapshot::new(Objects {
        sites: &tainted,
        classifications: &classifications(),
        tenants: &tenants,
        ..Objects::default()
    })
    .unwrap();
    let plain = evaluate(&snapshot, &workload("a", "minsa", "public", json!({}))).unwrap();
    let reasons = reasons_for(&plain, "state-dc-primary");
    assert_eq!(reasons[0].code, ReasonCode::SiteTainted);
    assert!(reasons[0].message.contains("UPS replacement"));
    let tolerant = evaluate(
        &snapshot,
        &workload(
            "b",
            "minsa",
            "public",
            json!({"tolerations": ["maintenance"]}),
        ),
    )
    .unwrap();
    assert!(reasons_for(&tolerant, "state-dc-primary").is_empty());
}

#[test]
fn a_site_that_failed_its_probe_is_not_eligible() {
    let mut probed = sites();
    probed[2].status = Some(serde_json::from_value(json!({"conditions": [{
        "type": "Ready", "status": "False", "reason": "Unreachable", "message": "connection refused",
        "lastTransitionTime": "2026-11-22T00:00:00Z"
    }]})).unwrap());
    let tenants = vec![tenant("minsa", "restricted", json!([]))];
    let snapshot = Snapshot::new(Objects {
        sites: &probed,
        classifications: &classifications(),
        tenants: &tenants,
        ..Objects::default()
    })
    .unwrap();
    let decision = evaluate(&snapshot, &workload("a", "minsa", "public", json!({}))).unwrap();
    assert_eq!(
        reasons_for(&decision, "national-cloud")[0].code,
        ReasonCode::SiteNotReady
    );
}

#[test]
fn rules_add_constraints_and_the_highest_priority_preferences_win() {
    let rules = [
        rule("cheap", 10, json!({"preferences": {"cost": 100}})),
        rule(
            "sovereign-first",
            50,
            json!({"selector": {"tenants": ["minsa"]}, "preferences": {"sovereignty": 100}}),
        ),
        rule(
            "no-us",
            0,
            json!({"constraints": {"excludedSites": ["public-cloud-us"]}}),
        ),
    ];
    let decision = decide(&workload("a", "minsa", "public", json!({})), &rules, &[]);
    assert_eq!(
        decision.matched_rules,
        ["sovereign-first", "cheap", "no-us"]
    );
    assert_eq!(
        reasons_for(&decision, "public-cloud-us")[0].code,
        ReasonCode::ExcludedByRule
    );
    let best = &decision.eligible[0];
    assert_eq!(best.criteria[0].criterion, "sovereignty");
    assert_eq!(
        (best.criteria[0].weight, best.criteria[0].score),
        (100, 100)
    );
    assert_eq!(
        decision.eligible.last().unwrap().site,
        "national-cloud",
        "NationalProvider scores below StateOwned"
    );
}

#[test]
fn spread_across_zones_needs_disjoint_zones() {
    let spread = json!({"spread": {"minimumSites": 2, "across": "Zones"}});
    let decision = decide(
        &workload("pensiones", "minsa", "restricted", spread),
        &[],
        &[],
    );
    assert_eq!(decision.outcome, Outcome::Placed);
    assert_eq!(
        decision.chosen_sites,
        ["state-dc-alternate", "state-dc-primary"]
    );

    let three = json!({"spread": {"minimumSites": 3}});
    let decision = decide(&workload("archivo", "minsa", "restricted", three), &[], &[]);
    assert_eq!(decision.outcome, Outcome::Unplaceable);
    let unplaceable = decision.unplaceable.unwrap();
    assert_eq!(unplaceable.code, "NotEnoughSitesForSpread");
    assert!(
        unplaceable.message.contains("needs 3 sites"),
        "{}",
        unplaceable.message
    );
}

#[test]
fn conflicting_spreads_are_reported() {
    let rules = [rule(
        "at-most-one",
        0,
        json!({"constraints": {"spread": {"minimumSites": 1, "maximumSites": 1}}}),
    )];
    let decision = decide(
        &workload(
            "a",
            "minsa",
            "public",
            json!({"spread": {"minimumSites": 2}}),
        ),
        &rules,
        &[],
    );
    assert_eq!(decision.unplaceable.unwrap().code, "ConflictingSpread");
}

#[test]
fn unknown_references_are_errors_naming_the_field() {
    let tenants = vec![tenant("minsa", "restricted", json!([]))];
    let snapshot = Snapshot::new(Objects {
        sites: &sites(),
        classifications: &classifications(),
        tenants: &tenants,
        ..Objects::default()
    })
    .unwrap();
    let error = evaluate(&snapshot, &workload("a", "minsa", "secret", json!({}))).unwrap_err();
    assert!(matches!(
        error,
        EvaluationError::UnknownClassification { .. }
    ));
    assert!(
        error.to_string().contains("spec.classification \"secret\""),
        "{error}"
    );
    let error = evaluate(&snapshot, &workload("a", "nobody", "public", json!({}))).unwrap_err();
    assert!(
        error.to_string().contains("spec.tenant \"nobody\""),
        "{error}"
    );
}

#[test]
fn malformed_snapshot_values_are_errors_naming_the_object() {
    let mut bad = sites();
    bad[1].spec.offered_availability = "high".to_owned();
    let error = Snapshot::new(Objects {
        sites: &bad,
        classifications: &classifications(),
        ..Objects::default()
    })
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Site \"state-dc-alternate\": spec.offeredAvailability \"high\" is not a percentage between 0 and 100 with at most four decimals"
    );
    let duplicated = [sites(), sites()].concat();
    assert!(
        Snapshot::new(Objects {
            sites: &duplicated,
            classifications: &classifications(),
            ..Objects::default()
        })
        .unwrap_err()
        .to_string()
        .contains("defined twice")
    );
}

/// Key custody is an order: keys in a state HSM meet a requirement for keys the state manages in
/// its own key manager (BYOK/HYOK), which meet a requirement for provider-managed keys.
#[test]
fn a_stronger_key_custody_meets_a_weaker_requirement_and_never_the_reverse() {
    let requiring = |custody: &str| -> DataClassification {
        serde_json::from_value(json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification",
            "metadata": {"name": "personal"},
            "spec": {"rank": 20, "legalBasis": "Ley 8968", "encryptionAtRest": {"keyCustody": custody}}
        }))
        .unwrap()
    };
    let sites = vec![
        site("state-dc", "StateOwned", "CR", json!({})),
        site(
            "national-byok",
            "NationalProvider",
            "CR",
            json!({"keyCustody": ["CustomerManaged"]}),
        ),
        site(
            "public-cloud",
            "ForeignPublic",
            "CR",
            json!({"keyCustody": ["ProviderManaged"]}),
        ),
    ];
    let tenants = vec![tenant("minsa", "personal", json!([]))];
    let eligible_and_refusal = |required: &str| {
        let snapshot = Snapshot::new(Objects {
            sites: &sites,
            classifications: &[requiring(required)],
            tenants: &tenants,
            ..Objects::default()
        })
        .unwrap();
        let decision = evaluate(&snapshot, &workload("a", "minsa", "personal", json!({}))).unwrap();
        let eligible: Vec<String> = decision.eligible_sites().map(str::to_owned).collect();
        let refusal = reasons_for(&decision, "public-cloud")
            .first()
            .map(|reason| (reason.code, reason.facts.required.clone()));
        (eligible, refusal)
    };

    let (eligible, refusal) = eligible_and_refusal("ProviderManaged");
    let mut eligible = eligible;
    eligible.sort();
    assert_eq!(eligible, ["national-byok", "public-cloud", "state-dc"]);
    assert_eq!(refusal, None);

    let (mut eligible, refusal) = eligible_and_refusal("CustomerManaged");
    eligible.sort();
    assert_eq!(eligible, ["national-byok", "state-dc"]);
    assert_eq!(
        refusal,
        Some((
            ReasonCode::KeyCustodyNotOffered,
            "StateHeldHsm or CustomerManaged".to_owned()
        ))
    );

    let (eligible, _) = eligible_and_refusal("StateHeldHsm");
    assert_eq!(eligible, ["state-dc"]);
}
