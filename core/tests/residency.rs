//! The residency-policy compiler and the judgement of existing objects: which classifications a
//! site refuses and why, what the compiled admission policies contain, and how objects are judged.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use soberana_core::residency::admission_policies::{
    AdmissionObject, DEFAULT_SOBERANA_IDENTITY, POLICY_REVISION,
};
use soberana_core::residency::violation::ObjectLabels;
use soberana_core::residency::{SiteResidency, ViolationKind, compile};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::site::Site;
use soberana_core::resources::sovereignty::KeyCustody;

fn site(name: &str, tier: &str, jurisdiction: &str) -> Site {
    serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Site", "metadata": {"name": name},
        "spec": {
            "provider": "p", "sovereigntyTier": tier, "jurisdiction": jurisdiction,
            "offeredAvailability": "99.95", "certifications": ["ISO27001"],
            "keyCustody": ["StateHeldHsm"], "encryptionInTransit": true,
            "capacity": {"cpuMillicores": 1, "memoryMebibytes": 1, "storageGibibytes": 1}
        }
    }))
    .unwrap()
}

fn classification(name: &str, rank: u32, extra: Value) -> DataClassification {
    let mut spec = json!({"rank": rank, "legalBasis": format!("Ley {rank}, art. 1")});
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification",
        "metadata": {"name": name}, "spec": spec
    }))
    .unwrap()
}

fn scheme() -> Vec<DataClassification> {
    vec![
        classification("public", 0, json!({})),
        classification(
            "internal",
            10,
            json!({"allowedJurisdictions": ["CR", "US"]}),
        ),
        classification(
            "restricted",
            30,
            json!({"allowedJurisdictions": ["CR"], "allowedSovereigntyTiers": ["StateOwned"]}),
        ),
    ]
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

#[test]
fn a_foreign_site_refuses_restricted_data_naming_every_failed_requirement_and_the_law() {
    let residency = SiteResidency::new(&site("us", "ForeignPublic", "US"), &scheme()).unwrap();
    assert_eq!(residency.allowed(), ["public", "internal"]);
    let refusal = residency.refusal("restricted").unwrap();
    assert!(
        refusal.contains("data classified restricted may not be hosted on site us"),
        "{refusal}"
    );
    assert!(
        refusal.contains("jurisdiction requires one of CR, the site has US"),
        "{refusal}"
    );
    assert!(
        refusal.contains("sovereignty tier requires one of StateOwned, the site has ForeignPublic"),
        "{refusal}"
    );
    assert!(
        refusal.ends_with("Legal basis: Ley 30, art. 1"),
        "{refusal}"
    );
    assert_eq!(residency.refusal("internal"), None);

    let home = SiteResidency::new(&site("cr", "StateOwned", "CR"), &scheme()).unwrap();
    assert_eq!(home.allowed(), ["public", "internal", "restricted"]);
    assert!(home.refused.is_empty());
}

#[test]
fn existing_objects_are_judged_as_admission_would_judge_new_ones() {
    let residency = SiteResidency::new(&site("us", "ForeignPublic", "US"), &scheme()).unwrap();
    let tenant_namespace = labels(&[
        ("soberana.io/tenant", "health"),
        ("soberana.io/classification-ceiling", "internal"),
    ]);
    let with_default = labels(&[
        ("soberana.io/tenant", "health"),
        ("soberana.io/classification-ceiling", "internal"),
        ("soberana.io/default-classification", "public"),
    ]);
    let plain_namespace = labels(&[]);
    let judge = |object: &[(&str, &str)], namespace: Option<&BTreeMap<String, String>>| {
        let object = labels(object);
        residency
            .judge(ObjectLabels {
                labels: &object,
                namespace: namespace.map(|labels| ("health-prod", labels)),
            })
            .map(|violation| (violation.kind, violation.classification))
    };
    let classified = |value| [("soberana.io/classification", value)];

    assert_eq!(
        judge(&classified("restricted"), Some(&plain_namespace)),
        Some((ViolationKind::NotAllowedOnSite, "restricted".to_owned()))
    );
    assert_eq!(
        judge(&classified("restricted"), None),
        Some((ViolationKind::NotAllowedOnSite, "restricted".to_owned())),
        "a namespace labelled restricted is refused too"
    );
    assert_eq!(
        judge(&classified("secret"), Some(&plain_namespace)),
        Some((ViolationKind::UnknownClassification, "secret".to_owned()))
    );
    assert_eq!(
        judge(&[], Some(&plain_namespace)),
        None,
        "outside tenant namespaces unlabelled objects are not Soberana's business"
    );
    assert_eq!(
        judge(&[], Some(&tenant_namespace)),
        Some((ViolationKind::Unlabelled, String::new()))
    );
    assert_eq!(
        judge(&[], Some(&with_default)),
        None,
        "the tenant's default classification applies"
    );
    assert_eq!(
        judge(&classified("internal"), Some(&tenant_namespace)),
        None
    );
    assert_eq!(judge(&classified("public"), Some(&tenant_namespace)), None);

    let public_ceiling = labels(&[
        ("soberana.io/tenant", "health"),
        ("soberana.io/classification-ceiling", "public"),
    ]);
    let violation = residency
        .judge(ObjectLabels {
            labels: &labels(&classified("internal")),
            namespace: Some(("health-prod", &public_ceiling)),
        })
        .unwrap();
    assert_eq!(violation.kind, ViolationKind::AboveCeiling);
    assert_eq!(
        violation.message,
        "data classified internal may not run in namespace health-prod: tenant health may handle data up to public"
    );
}

#[test]
fn compiled_policies_come_with_bindings_and_a_revision_that_follows_the_rules() {
    let us = site("us", "ForeignPublic", "US");
    let compiled = compile(
        &SiteResidency::new(&us, &scheme()).unwrap(),
        DEFAULT_SOBERANA_IDENTITY,
    );
    let policies: Vec<&str> = compiled
        .objects
        .iter()
        .filter(|object| matches!(object, AdmissionObject::Policy(_)))
        .map(AdmissionObject::name)
        .collect();
    let bindings: Vec<&str> = compiled
        .objects
        .iter()
        .filter(|object| matches!(object, AdmissionObject::Binding(_)))
        .map(AdmissionObject::name)
        .collect();
    assert_eq!(
        policies, bindings,
        "every policy has a binding of the same name"
    );
    assert!(policies.contains(&"soberana-residency"));
    assert!(policies.contains(&"soberana-tenant-namespace-labels"));
    for object in &compiled.objects {
        let json = serde_json::to_value(object).unwrap();
        assert_eq!(
            json["metadata"]["labels"][POLICY_REVISION],
            compiled.revision.as_str()
        );
    }

    let mut reversed = scheme();
    reversed.reverse();
    let same = compile(
        &SiteResidency::new(&us, &reversed).unwrap(),
        DEFAULT_SOBERANA_IDENTITY,
    );
    assert_eq!(same, compiled, "listing order does not change the policies");

    let mut tightened = scheme();
    tightened[1] = classification("internal", 10, json!({"allowedJurisdictions": ["CR"]}));
    let stricter = compile(
        &SiteResidency::new(&us, &tightened).unwrap(),
        DEFAULT_SOBERANA_IDENTITY,
    );
    assert_ne!(stricter.revision, compiled.revision);
    assert_eq!(stricter.allowed, ["public"]);

    let home = compile(
        &SiteResidency::new(&site("cr", "StateOwned", "CR"), &scheme()).unwrap(),
        DEFAULT_SOBERANA_IDENTITY,
    );
    let residency_policy = serde_json::to_value(&home.objects[0]).unwrap();
    assert_eq!(
        residency_policy["spec"]["validations"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "a site that refuses nothing checks only for unknown classifications"
    );
}

/// Admission follows the engine's key-custody order: a site whose keys are in a state HSM admits
/// data whose classification asks only for provider-managed or customer-managed keys, and a site
/// offering only provider-managed keys refuses data that needs the state's own keys, saying which
/// models would do.
#[test]
fn admission_accepts_a_stronger_key_custody_than_required() {
    let scheme = vec![
        classification("public", 0, json!({})),
        classification(
            "internal",
            10,
            json!({"encryptionAtRest": {"keyCustody": "ProviderManaged"}}),
        ),
        classification(
            "personal",
            20,
            json!({"encryptionAtRest": {"keyCustody": "CustomerManaged"}}),
        ),
    ];
    let hsm = SiteResidency::new(&site("state-dc", "StateOwned", "CR"), &scheme).unwrap();
    assert_eq!(hsm.allowed(), ["public", "internal", "personal"]);

    let mut provider_keys = site("public-cloud", "ForeignPublic", "CR");
    provider_keys.spec.key_custody = vec![KeyCustody::ProviderManaged];
    let cloud = SiteResidency::new(&provider_keys, &scheme).unwrap();
    assert_eq!(cloud.allowed(), ["public", "internal"]);
    let refusal = cloud.refusal("personal").unwrap();
    assert!(
        refusal.contains(
            "key custody requires StateHeldHsm or CustomerManaged, the site has ProviderManaged"
        ),
        "{refusal}"
    );
}
