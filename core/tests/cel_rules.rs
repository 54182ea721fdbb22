//! The CEL rules in the CRDs, evaluated without a cluster by kube's CEL validator on the same
//! schema the API server gets. (The e2e suite checks them against a real API server too.)

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use kube::CustomResourceExt;
use kube::core::cel::Validator;
use serde_json::{Value, json};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;

/// The CEL verdict on `object` (and on the change from `old`), as the messages of failed rules.
fn violations<K: CustomResourceExt>(object: &Value, old: Option<&Value>) -> Vec<String> {
    let definition = K::crd();
    let schema = serde_json::to_value(
        definition.spec.versions[0]
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    match Validator::new().validate(&schema, object, old) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.into_vec().iter().map(ToString::to_string).collect(),
    }
}

fn site(jurisdiction: &str, backup_jurisdiction: &str) -> Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Site", "metadata": {"name": "state-dc-primary"},
        "spec": {
            "provider": "Agencia de Gobierno Digital", "sovereigntyTier": "StateOwned",
            "jurisdiction": jurisdiction, "offeredAvailability": "99.95",
            "capacity": {"cpuMillicores": 64000, "memoryMebibytes": 262144},
            "backup": {"copies": 2, "jurisdiction": backup_jurisdiction}
        }
    })
}

#[test]
fn site_jurisdiction_must_be_an_iso_country_code() {
    assert!(violations::<Site>(&site("CR", "CR"), None).is_empty());
    let bad = violations::<Site>(&site("UK", "CR"), None);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].contains("ISO 3166-1 alpha-2"), "{bad:?}");
    let bad_backup = violations::<Site>(&site("CR", "cr"), None);
    assert!(
        bad_backup
            .iter()
            .any(|message| message.contains("ISO 3166-1")),
        "{bad_backup:?}"
    );
}

#[test]
fn classification_jurisdictions_must_all_be_country_codes() {
    let classification = |codes: Value| {
        json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification", "metadata": {"name": "internal"},
            "spec": {"rank": 10, "legalBasis": "Ley 8968, art. 3", "allowedJurisdictions": codes}
        })
    };
    assert!(
        violations::<DataClassification>(&classification(json!(["CR", "PA"])), None).is_empty()
    );
    let bad = violations::<DataClassification>(&classification(json!(["CR", "Costa Rica"])), None);
    assert!(
        bad.iter().any(|message| message.contains("ISO 3166-1")),
        "{bad:?}"
    );
}

fn tenant(short_code: &str) -> Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Tenant", "metadata": {"name": "ministry-of-health"},
        "spec": {
            "displayName": "Ministerio de Salud", "shortCode": short_code,
            "highestClassification": "restricted", "environments": [{"name": "prod"}],
            "quota": {"cpuMillicores": 8000, "memoryMebibytes": 16384}
        }
    })
}

#[test]
fn tenant_short_code_is_a_dns_label() {
    assert!(violations::<Tenant>(&tenant("minsa"), None).is_empty());
    for bad in ["MinSa", "min_sa", "-minsa", "minsa-"] {
        let messages = violations::<Tenant>(&tenant(bad), None);
        assert!(
            messages.iter().any(|message| message.contains("DNS label")),
            "{bad}: {messages:?}"
        );
    }
}

#[test]
fn tenant_short_code_is_immutable() {
    assert!(violations::<Tenant>(&tenant("minsa"), Some(&tenant("minsa"))).is_empty());
    let messages = violations::<Tenant>(&tenant("salud"), Some(&tenant("minsa")));
    assert!(
        messages.iter().any(|message| message.contains("immutable")),
        "{messages:?}"
    );
}

#[test]
fn spread_minimum_must_not_exceed_maximum() {
    let rule = |minimum: u32, maximum: u32| {
        json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "PlacementRule", "metadata": {"name": "two-sites"},
            "spec": {"constraints": {"spread": {"minimumSites": minimum, "maximumSites": maximum, "across": "Zones"}}}
        })
    };
    assert!(violations::<PlacementRule>(&rule(2, 3), None).is_empty());
    assert!(violations::<PlacementRule>(&rule(2, 2), None).is_empty());
    let messages = violations::<PlacementRule>(&rule(3, 2), None);
    assert!(
        messages
            .iter()
            .any(|message| message.contains("minimumSites must not exceed")),
        "{messages:?}"
    );
}

#[test]
fn migration_source_names_exactly_one_origin() {
    let workload = |source: Value| {
        json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
            "metadata": {"name": "expediente-clinico", "namespace": "minsa"},
            "spec": {
                "tenant": "ministry-of-health", "classification": "restricted", "replicas": 2,
                "resources": {"cpuMillicores": 500, "memoryMebibytes": 1024},
                "migrationSource": source
            }
        })
    };
    assert!(
        violations::<Workload>(&workload(json!({"external": "hospital rack 4"})), None).is_empty()
    );
    assert!(
        violations::<Workload>(&workload(json!({"site": "state-dc-primary"})), None).is_empty()
    );
    for source in [json!({}), json!({"site": "a", "external": "b"})] {
        let messages = violations::<Workload>(&workload(source.clone()), None);
        assert!(
            messages
                .iter()
                .any(|message| message.contains("exactly one")),
            "{source}: {messages:?}"
        );
    }
}
