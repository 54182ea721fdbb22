//! What-if judges only the workloads and tenants a change can affect: on random small estates and
//! random proposals, its answer equals judging every workload and tenant before and after.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use proptest::prelude::*;
use proptest::sample::subsequence;
use serde_json::{Value, json};
use soberana_core::placement::Objects;
use soberana_core::placement::what_if::{Proposal, what_if, what_if_exhaustive};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;

const SITES: usize = 4;
const CLASSIFICATIONS: [&str; 3] = ["open", "internal", "secret"];
const TENANTS: [&str; 3] = ["health", "tax", "library"];
const JURISDICTIONS: [&str; 2] = ["CR", "US"];
const TIERS: [&str; 2] = ["StateOwned", "ForeignPublic"];
const CERTIFICATIONS: [&str; 2] = ["ISO27001", "TierIII"];
const AVAILABILITIES: [&str; 3] = ["99.5", "99.9", "99.99"];

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn site_name(index: usize) -> String {
    format!("site-{index}")
}

fn site(index: usize) -> impl Strategy<Value = Site> {
    (0..2usize, 0..2usize, subsequence(CERTIFICATIONS.to_vec(), 0..=2), 0..3usize, 0..100u32, any::<bool>(), any::<bool>())
        .prop_map(move |(tier, jurisdiction, certifications, offered, cost, gold, tainted)| {
            typed(json!({"apiVersion": "soberana.io/v1alpha1", "kind": "Site",
                "metadata": {"name": site_name(index), "labels": if gold { json!({"tier": "gold"}) } else { json!({}) }},
                "spec": {"provider": format!("provider-{}", index % 2), "sovereigntyTier": TIERS[tier],
                         "jurisdiction": JURISDICTIONS[jurisdiction], "certifications": certifications,
                         "keyCustody": ["StateHeldHsm"], "encryptionInTransit": true,
                         "offeredAvailability": AVAILABILITIES[offered], "costIndex": cost,
                         "capacity": {"cpuMillicores": 10_000, "memoryMebibytes": 10_000},
                         "taints": if tainted { json!([{"key": "maintenance"}]) } else { json!([]) }}}))
        })
}

fn classification(name: &'static str) -> impl Strategy<Value = DataClassification> {
    (0..4u32, subsequence(JURISDICTIONS.to_vec(), 0..=2), subsequence(TIERS.to_vec(), 0..=2), subsequence(CERTIFICATIONS.to_vec(), 0..=2), proptest::option::of(0..3usize))
        .prop_map(move |(rank, jurisdictions, tiers, certifications, minimum)| {
            let mut spec = json!({"rank": rank * 10, "legalBasis": format!("Decree {rank}"),
                "allowedJurisdictions": jurisdictions, "allowedSovereigntyTiers": tiers,
                "requiredCertifications": certifications});
            if let Some(minimum) = minimum {
                spec["minimumAvailability"] = json!(AVAILABILITIES[minimum]);
            }
            typed(json!({"apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification", "metadata": {"name": name}, "spec": spec}))
        })
}

fn rule(name: String) -> impl Strategy<Value = PlacementRule> {
    (-2..3i32, proptest::option::of(0..3usize), proptest::option::of(0..3usize), any::<bool>(), subsequence((0..SITES).collect::<Vec<_>>(), 0..=2), any::<bool>(), proptest::option::of(1..3u32), 0..=100u32)
        .prop_map(move |(priority, tenant, classification, critical, excluded, gold_only, spread, cost)| {
            let mut selector = json!({});
            if let Some(tenant) = tenant {
                selector["tenants"] = json!([TENANTS[tenant]]);
            }
            if let Some(classification) = classification {
                selector["classifications"] = json!([CLASSIFICATIONS[classification]]);
            }
            if critical {
                selector["matchLabels"] = json!({"tier": "critical"});
            }
            let mut constraints = json!({"excludedSites": excluded.into_iter().map(site_name).collect::<Vec<_>>()});
            if gold_only {
                constraints["siteSelector"] = json!({"tier": "gold"});
            }
            if let Some(minimum) = spread {
                constraints["spread"] = json!({"minimumSites": minimum, "across": "Sites"});
            }
            typed(json!({"apiVersion": "soberana.io/v1alpha1", "kind": "PlacementRule", "metadata": {"name": name},
                "spec": {"priority": priority, "selector": selector, "constraints": constraints,
                         "preferences": {"sovereignty": 100 - cost, "cost": cost, "availability": 0, "proximity": 0}}}))
        })
}

fn tenant(name: &'static str) -> impl Strategy<Value = Tenant> {
    (0..3usize, subsequence((0..SITES).collect::<Vec<_>>(), 0..=SITES), subsequence((0..SITES).collect::<Vec<_>>(), 0..=1))
        .prop_map(move |(ceiling, allowed, confirmed)| {
            typed(json!({"apiVersion": "soberana.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
                "spec": {"displayName": name, "shortCode": name, "highestClassification": CLASSIFICATIONS[ceiling],
                         "allowedSites": allowed.into_iter().map(site_name).collect::<Vec<_>>(),
                         "confirmRemovalFrom": confirmed.into_iter().map(site_name).collect::<Vec<_>>(),
                         "environments": [{"name": "prod"}], "quota": {"cpuMillicores": 1, "memoryMebibytes": 1}}}))
        })
}

fn workload(index: usize) -> impl Strategy<Value = Workload> {
    (0..3usize, 0..3usize, any::<bool>(), any::<bool>(), proptest::option::of(0..3usize), subsequence((0..SITES).collect::<Vec<_>>(), 0..=2), 1..5000u64)
        .prop_map(move |(tenant, classification, critical, tolerates, target, running, cpu)| {
            let mut object = json!({"apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
                "metadata": {"name": format!("service-{index}"), "namespace": format!("{}-prod", TENANTS[tenant]),
                             "labels": if critical { json!({"tier": "critical"}) } else { json!({}) }},
                "spec": {"tenant": TENANTS[tenant], "classification": CLASSIFICATIONS[classification], "replicas": 2,
                         "resources": {"cpuMillicores": cpu, "memoryMebibytes": 100},
                         "tolerations": if tolerates { json!(["maintenance"]) } else { json!([]) }}});
            if let Some(target) = target {
                object["spec"]["availabilityTarget"] = json!(AVAILABILITIES[target]);
            }
            // Some workloads were placed by the operator already (sticky), the others not yet.
            if !running.is_empty() {
                object["status"] = json!({"chosenSites": running.into_iter().map(site_name).collect::<Vec<_>>()});
            }
            typed(object)
        })
}

#[derive(Clone, Debug)]
struct Estate {
    sites: Vec<Site>,
    classifications: Vec<DataClassification>,
    rules: Vec<PlacementRule>,
    tenants: Vec<Tenant>,
    workloads: Vec<Workload>,
}

fn estate() -> impl Strategy<Value = Estate> {
    (
        (0..SITES).map(site).collect::<Vec<_>>(),
        CLASSIFICATIONS
            .map(classification)
            .into_iter()
            .collect::<Vec<_>>(),
        (0..3usize).prop_flat_map(|count| {
            (0..count)
                .map(|index| rule(format!("rule-{index}")))
                .collect::<Vec<_>>()
        }),
        TENANTS.map(tenant).into_iter().collect::<Vec<_>>(),
        (1..10usize).prop_flat_map(|count| (0..count).map(workload).collect::<Vec<_>>()),
    )
        .prop_map(
            |(sites, classifications, rules, tenants, workloads)| Estate {
                sites,
                classifications,
                rules,
                tenants,
                workloads,
            },
        )
}

/// A proposal of zero to four objects: any kind, changed or new.
fn proposal() -> impl Strategy<Value = Proposal> {
    (
        proptest::option::of((0..SITES + 1).prop_flat_map(site)),
        proptest::option::of(
            (0..3usize).prop_flat_map(|index| classification(CLASSIFICATIONS[index])),
        ),
        proptest::option::of((0..4usize).prop_flat_map(|index| rule(format!("rule-{index}")))),
        proptest::option::of((0..3usize).prop_flat_map(|index| tenant(TENANTS[index]))),
    )
        .prop_map(|(site, classification, rule, tenant)| Proposal {
            sites: site.into_iter().collect(),
            classifications: classification.into_iter().collect(),
            rules: rule.into_iter().collect(),
            tenants: tenant.into_iter().collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_incremental_answer_equals_judging_everything(estate in estate(), proposal in proposal()) {
        let objects = Objects {
            sites: &estate.sites,
            classifications: &estate.classifications,
            rules: &estate.rules,
            tenants: &estate.tenants,
            ..Objects::default()
        };
        let incremental = what_if(objects, &estate.workloads, &proposal).unwrap();
        let everything = what_if_exhaustive(objects, &estate.workloads, &proposal).unwrap();
        prop_assert_eq!(&incremental.workloads, &everything.workloads);
        prop_assert_eq!(&incremental.tenants, &everything.tenants);
        prop_assert_eq!(&incremental.changed_objects, &everything.changed_objects);
        prop_assert!(incremental.workloads_judged <= everything.workloads_judged);
    }
}
