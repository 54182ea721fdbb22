//! What a tenant gets on a site, built without a cluster.

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]
#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use serde_json::json;
use soberana_core::placement::{Objects, Snapshot};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::{Tenant, TenantSpec};
use soberana_core::tenancy::{
    Departure, TenantIdentity, TenantObject, departure, desired_objects, sites_for_tenant,
    tenant_of_namespace,
};

fn tenant(extra: serde_json::Value) -> TenantSpec {
    let mut spec = json!({
        "displayName": "Ministerio de Salud", "shortCode": "minsa", "highestClassification": "restricted",
        "environments": [{"name": "prod"}, {"name": "staging", "quota": {"cpuMillicores": 2000, "memoryMebibytes": 4096}}],
        "quota": {"cpuMillicores": 8000, "memoryMebibytes": 16384, "storageGibibytes": 100, "pods": 200}
    });
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(spec).unwrap()
}

fn health() -> TenantIdentity {
    TenantIdentity {
        name: "ministry-of-health".to_owned(),
        uid: "0f0e4b8c-uid".to_owned(),
    }
}

fn describe(objects: &[TenantObject]) -> Vec<String> {
    objects.iter().map(TenantObject::describe).collect()
}

#[test]
fn each_environment_gets_an_isolated_quota_bound_namespace() {
    let spec = tenant(json!({
        "owners": [{"kind": "Group", "name": "minsa-admins"}, {"kind": "User", "name": "ana@minsa.go.cr"}],
        "egress": [{"name": "ccss-api", "cidr": "10.20.0.0/16", "ports": [443]}]
    }));
    let objects = desired_objects(&health(), &spec, "ingress-nginx");
    assert_eq!(
        describe(&objects),
        [
            "Namespace minsa-prod",
            "Namespace minsa-staging",
            "ResourceQuota minsa-prod/soberana-quota",
            "LimitRange minsa-prod/soberana-defaults",
            "NetworkPolicy minsa-prod/soberana-default-deny-ingress",
            "NetworkPolicy minsa-prod/soberana-allow-same-tenant",
            "NetworkPolicy minsa-prod/soberana-allow-ingress-controller",
            "NetworkPolicy minsa-prod/soberana-egress-allowances",
            "RoleBinding minsa-prod/soberana-tenant-admins",
            "ResourceQuota minsa-staging/soberana-quota",
            "LimitRange minsa-staging/soberana-defaults",
            "NetworkPolicy minsa-staging/soberana-default-deny-ingress",
            "NetworkPolicy minsa-staging/soberana-allow-same-tenant",
            "NetworkPolicy minsa-staging/soberana-allow-ingress-controller",
            "NetworkPolicy minsa-staging/soberana-egress-allowances",
            "RoleBinding minsa-staging/soberana-tenant-admins",
        ]
    );

    let TenantObject::Namespace(namespace) = &objects[0] else {
        panic!("namespaces come first")
    };
    let labels = namespace.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["soberana.io/tenant"], "ministry-of-health");
    assert_eq!(labels["soberana.io/environment"], "prod");
    assert_eq!(labels["soberana.io/classification-ceiling"], "restricted");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "soberana");
    assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");
    assert_eq!(
        namespace.metadata.annotations.as_ref().unwrap()["soberana.io/tenant-uid"],
        "0f0e4b8c-uid",
        "the namespace records whose it is by UID"
    );

    let quota = |index: usize| match &objects[index] {
        TenantObject::ResourceQuota(quota) => quota.spec.clone().unwrap().hard.unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(quota(2)["requests.cpu"].0, "8000m");
    assert_eq!(quota(2)["requests.memory"].0, "16384Mi");
    assert_eq!(quota(2)["pods"].0, "200");
    assert_eq!(
        quota(9)["requests.cpu"].0,
        "2000m",
        "staging overrides the quota"
    );
    assert!(!quota(9).contains_key("pods"));

    let TenantObject::NetworkPolicy(same_tenant) = &objects[5] else {
        panic!()
    };
    let peer = &same_tenant.spec.as_ref().unwrap().ingress.as_ref().unwrap()[0]
        .from
        .as_ref()
        .unwrap()[0];
    assert_eq!(
        peer.namespace_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["soberana.io/tenant"],
        "ministry-of-health"
    );

    let TenantObject::RoleBinding(binding) = &objects[8] else {
        panic!()
    };
    assert_eq!(
        binding.role_ref.name, "soberana-tenant-admin",
        "owners get admin without the writes that dismantle their fences"
    );
    let subjects: Vec<(&str, &str)> = binding
        .subjects
        .as_ref()
        .unwrap()
        .iter()
        .map(|subject| (subject.kind.as_str(), subject.name.as_str()))
        .collect();
    assert_eq!(
        subjects,
        [("Group", "minsa-admins"), ("User", "ana@minsa.go.cr")]
    );
}

#[test]
fn without_owners_or_egress_allowances_those_objects_are_not_made() {
    let objects = desired_objects(&health(), &tenant(json!({})), "ingress-nginx");
    let names = describe(&objects);
    assert!(
        !names
            .iter()
            .any(|name| name.contains("RoleBinding") || name.contains("egress")),
        "{names:?}"
    );
}

#[test]
fn a_tenant_lands_on_allowed_sites_that_can_host_its_least_sensitive_data() {
    let site = |name: &str, jurisdiction: &str| -> Site {
        serde_json::from_value(json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "Site", "metadata": {"name": name},
            "spec": {"provider": "p", "sovereigntyTier": "StateOwned", "jurisdiction": jurisdiction,
                     "offeredAvailability": "99.9", "capacity": {}}
        }))
        .unwrap()
    };
    let classification = |name: &str,
                          rank: u32,
                          jurisdictions: serde_json::Value|
     -> DataClassification {
        serde_json::from_value(json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification", "metadata": {"name": name},
            "spec": {"rank": rank, "legalBasis": "law", "allowedJurisdictions": jurisdictions}
        }))
        .unwrap()
    };
    let sites = [
        site("state-dc", "CR"),
        site("national-cloud", "CR"),
        site("public-cloud-us", "US"),
    ];
    let classifications = [
        classification("internal", 10, json!(["CR"])),
        classification("restricted", 30, json!(["CR"])),
    ];
    let tenant_object: Tenant = serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Tenant", "metadata": {"name": "ministry-of-health"},
        "spec": tenant(json!({}))
    }))
    .unwrap();
    let snapshot = Snapshot::new(Objects {
        sites: &sites,
        classifications: &classifications,
        ..Objects::default()
    })
    .unwrap();
    assert_eq!(
        sites_for_tenant(&tenant_object.spec, &snapshot),
        ["national-cloud", "state-dc"]
    );
    let limited = tenant(json!({"allowedSites": ["state-dc", "public-cloud-us"]}));
    assert_eq!(sites_for_tenant(&limited, &snapshot), ["state-dc"]);
    let nothing_defined = Snapshot::new(Objects {
        sites: &sites,
        ..Objects::default()
    })
    .unwrap();
    assert!(sites_for_tenant(&limited, &nothing_defined).is_empty());

    // Leaving a site the tenant was on: its own allowedSites is a person's decision…
    assert_eq!(
        departure(&limited, "national-cloud", &snapshot),
        Departure::Remove
    );
    // …a classification or site fact that changed is not: the namespaces wait for a person.
    let Departure::AwaitConfirmation(why) =
        departure(&tenant_object.spec, "public-cloud-us", &snapshot)
    else {
        panic!("a policy change must not remove the tenant on its own")
    };
    assert!(
        why.contains("classification internal may only be hosted in CR"),
        "{why}"
    );
    assert!(matches!(
        departure(&tenant_object.spec, "state-dc", &nothing_defined),
        Departure::AwaitConfirmation(why) if why.contains("no DataClassification")
    ));
    let confirmed = tenant(json!({"confirmRemovalFrom": ["public-cloud-us"]}));
    assert_eq!(
        departure(&confirmed, "public-cloud-us", &snapshot),
        Departure::Remove
    );
}

#[test]
fn the_pod_security_level_can_be_lowered_to_baseline_per_tenant() {
    let objects = desired_objects(
        &health(),
        &tenant(json!({"podSecurity": "Baseline"})),
        "ingress-nginx",
    );
    let TenantObject::Namespace(namespace) = &objects[0] else {
        panic!("namespaces come first")
    };
    assert_eq!(
        namespace.metadata.labels.as_ref().unwrap()["pod-security.kubernetes.io/enforce"],
        "baseline"
    );
}

#[test]
fn a_namespace_belongs_to_the_tenant_one_of_whose_environments_it_is() {
    let tenant_named = |name: &str, short_code: &str| -> Tenant {
        let mut spec = tenant(json!({}));
        spec.short_code = short_code.to_owned();
        Tenant::new(name, spec)
    };
    let tenants = [
        tenant_named("ministry-of-health", "minsa"),
        tenant_named("tax-administration", "hacienda"),
    ];
    let owner = |namespace: &str| {
        tenant_of_namespace(&tenants, namespace).map(|tenant| tenant.metadata.name.clone().unwrap())
    };
    assert_eq!(
        owner("minsa-staging").as_deref(),
        Some("ministry-of-health")
    );
    assert_eq!(
        owner("hacienda-prod").as_deref(),
        Some("tax-administration")
    );
    assert_eq!(owner("hacienda-dev"), None, "not one of its environments");
    assert_eq!(owner("kube-system"), None);
}
