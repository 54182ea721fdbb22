//! The operator may change admission policies on a member only by name (so that it cannot lift
//! the confinement policies beside them); those names must be exactly the residency policies it
//! compiles, or a new policy would be refused on every site.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::collections::BTreeSet;

use serde_json::{Value, json};
use soberana_core::residency::admission_policies::DEFAULT_SOBERANA_IDENTITY;
use soberana_core::residency::{MEMBER_CHART_POLICIES, SiteResidency, compile};
use soberana_core::resources::site::Site;

#[test]
fn the_member_role_may_change_exactly_the_compiled_residency_policies() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/soberana-member/files/member-cluster.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let role: Value = serde_norway::Deserializer::from_str(&text)
        .map(|document| serde::Deserialize::deserialize(document).unwrap())
        .find(|document: &Value| document["metadata"]["name"] == "soberana-operator-member")
        .expect("the operator's member ClusterRole");
    let named: BTreeSet<String> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|rule| {
            rule["apiGroups"] == json!(["admissionregistration.k8s.io"])
                && rule["verbs"].as_array().unwrap().contains(&json!("delete"))
        })
        .flat_map(|rule| rule["resourceNames"].as_array().unwrap().clone())
        .map(|name| name.as_str().unwrap().to_owned())
        .collect();

    let site: Site = serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Site", "metadata": {"name": "any"},
        "spec": {"provider": "p", "sovereigntyTier": "StateOwned", "jurisdiction": "CR",
                 "offeredAvailability": "99.9", "capacity": {}}
    }))
    .unwrap();
    let compiled = compile(
        &SiteResidency::new(&site, &[]).unwrap(),
        DEFAULT_SOBERANA_IDENTITY,
    );
    let compiled_names: BTreeSet<String> = compiled
        .objects
        .iter()
        .map(|object| object.name().to_owned())
        .collect();
    assert_eq!(
        named, compiled_names,
        "charts/soberana-member/files/member-cluster.yaml must name exactly the compiled residency policies"
    );
    let chart_policies: BTreeSet<String> = serde_norway::Deserializer::from_str(&text)
        .map(|document| serde::Deserialize::deserialize(document).unwrap())
        .filter(|document: &Value| document["kind"] == "ValidatingAdmissionPolicy")
        .map(|document| document["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        chart_policies,
        MEMBER_CHART_POLICIES
            .iter()
            .map(|name| (*name).to_owned())
            .collect::<BTreeSet<_>>(),
        "soberana_core::residency::MEMBER_CHART_POLICIES must name the member chart's policies, or the Site reports them as foreign"
    );
    assert!(
        !named.contains("soberana-operator-confinement")
            && !named.contains("soberana-tenant-fences"),
        "the operator must not be able to change its own confinement"
    );
}
