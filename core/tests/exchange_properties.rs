//! Properties of agreement decisions over generated estates: whatever the sites, tenancies,
//! placements, approvals and time, no agreement is active while a site where its consumer runs
//! or may run is in a jurisdiction its classification forbids, and no path ever opens outside
//! an active agreement or on a site where one end does not run, nor while the management
//! cluster does not prove who gave the approvals.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::collections::BTreeSet;

use k8s_openapi::jiff::Timestamp;
use proptest::prelude::*;
use proptest::sample::subsequence;
use serde_json::{Value, json};
use soberana_core::exchange::{ApprovalPolicyState, ExchangeObjects, decide};
use soberana_core::placement::{Objects, Snapshot};
use soberana_core::resources::data_exchange::{DataExchangeSpec, ExchangeState};
use soberana_core::resources::workload::Workload;

const JURISDICTIONS: [&str; 3] = ["CR", "PA", "US"];
const SITES: usize = 4;

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn site_name(index: usize) -> String {
    format!("site-{index}")
}

#[derive(Clone, Debug)]
struct Estate {
    jurisdictions: Vec<usize>,
    allowed: Vec<&'static str>,
    consumer_allowed: Vec<usize>,
    provider_sites: Vec<usize>,
    consumer_sites: Vec<Vec<usize>>,
    approved: (bool, bool),
    hours: i64,
    /// Whether the approval policy is in force on the management cluster.
    proven: bool,
}

fn estate() -> impl Strategy<Value = Estate> {
    let indices: Vec<usize> = (0..SITES).collect();
    (
        proptest::collection::vec(0..JURISDICTIONS.len(), SITES),
        subsequence(JURISDICTIONS.to_vec(), 1..=3),
        subsequence(indices.clone(), 0..=SITES),
        subsequence(indices.clone(), 0..=SITES),
        proptest::collection::vec(subsequence(indices, 0..=SITES), 0..3),
        (any::<bool>(), any::<bool>()),
        -48i64..48,
        any::<bool>(),
    )
        .prop_map(
            |(
                jurisdictions,
                allowed,
                consumer_allowed,
                provider_sites,
                consumer_sites,
                approved,
                hours,
                proven,
            )| Estate {
                jurisdictions,
                allowed,
                consumer_allowed,
                provider_sites,
                consumer_sites,
                approved,
                hours,
                proven,
            },
        )
}

fn workload(namespace: &str, name: &str, tenant: &str, sites: &[usize]) -> Workload {
    let sites: Vec<String> = sites.iter().map(|index| site_name(*index)).collect();
    typed(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"tenant": tenant, "classification": "sensitive", "replicas": 1,
                 "resources": {"cpuMillicores": 1, "memoryMebibytes": 1}},
        "status": {"chosenSites": sites},
    }))
}

fn tenant(name: &str, code: &str, allowed: &[usize], owner: &str) -> Value {
    let allowed: Vec<String> = allowed.iter().map(|index| site_name(*index)).collect();
    json!({"apiVersion": "soberana.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
           "spec": {"displayName": name, "shortCode": code, "highestClassification": "sensitive",
                    "environments": [{"name": "prod"}], "allowedSites": allowed,
                    "owners": [{"kind": "User", "name": owner}],
                    "quota": {"cpuMillicores": 1, "memoryMebibytes": 1, "storageGibibytes": 1}}})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_agreement_is_active_for_a_consumer_site_its_classification_forbids(estate in estate()) {
        let sites: Vec<_> = (0..SITES).map(|index| typed(json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "Site", "metadata": {"name": site_name(index)},
            "spec": {"provider": "p", "sovereigntyTier": "StateOwned",
                     "jurisdiction": JURISDICTIONS[estate.jurisdictions[index]],
                     "offeredAvailability": "99.9", "capacity": {"cpuMillicores": 1000, "memoryMebibytes": 1000}}
        }))).collect::<Vec<_>>();
        let classifications = [
            typed(json!({"apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification", "metadata": {"name": "open"},
                         "spec": {"rank": 0, "legalBasis": "none"}})),
            typed(json!({"apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification", "metadata": {"name": "sensitive"},
                         "spec": {"rank": 20, "legalBasis": "law", "allowedJurisdictions": estate.allowed}})),
        ];
        let tenants = [
            typed(tenant("provider", "prov", &[], "a")),
            typed(tenant("consumer", "cons", &estate.consumer_allowed, "b")),
        ];
        let snapshot = Snapshot::new(Objects { sites: &sites, classifications: &classifications, tenants: &tenants, ..Objects::default() }).unwrap();
        let mut workloads = vec![workload("prov-prod", "service", "provider", &estate.provider_sites)];
        for (index, placed) in estate.consumer_sites.iter().enumerate() {
            workloads.push(workload("cons-prod", &format!("caller-{index}"), "consumer", placed));
        }
        let mut approvals = json!({});
        if estate.approved.0 { approvals["provider"] = json!({"approvedBy": "a"}); }
        if estate.approved.1 { approvals["consumer"] = json!({"approvedBy": "b"}); }
        let spec: DataExchangeSpec = typed(json!({
            "provider": {"tenant": "provider", "environment": "prod", "workload": "service", "ports": [{"port": 443}]},
            "consumer": {"tenant": "consumer", "environments": ["prod"]},
            "classification": "sensitive", "purpose": "p", "legalBasis": "l",
            "validity": {"notBefore": "2026-06-01T00:00:00Z", "notAfter": "2026-06-02T00:00:00Z"},
            "approvals": approvals,
        }));
        let now = "2026-06-01T00:00:00Z".parse::<Timestamp>().unwrap()
            + k8s_openapi::jiff::SignedDuration::from_hours(estate.hours);
        let approval_policy = if estate.proven {
            ApprovalPolicyState::InForce
        } else {
            ApprovalPolicyState::Unproven("missing".to_owned())
        };
        let decision = decide(&spec, &ExchangeObjects { snapshot: &snapshot, workloads: &workloads, approval_policy: &approval_policy }, now);

        let forbidden = |index: usize| !estate.allowed.contains(&JURISDICTIONS[estate.jurisdictions[index]]);
        let consumer_running: BTreeSet<usize> = estate.consumer_sites.iter().flatten().copied().collect();
        // Where the consumer may run: its allowed sites (all when none are listed) that can host
        // its least sensitive data (any site: "open" has no requirement), and where it runs.
        let consumer_may_run: BTreeSet<usize> = if estate.consumer_allowed.is_empty() { (0..SITES).collect() } else { estate.consumer_allowed.iter().copied().collect() };
        let consumer_sites: BTreeSet<usize> = consumer_may_run.union(&consumer_running).copied().collect();
        if decision.state == ExchangeState::Active {
            for index in consumer_sites.iter().chain(&estate.provider_sites) {
                prop_assert!(!forbidden(*index), "active with {} in {} forbidden: {decision:?}", site_name(*index), JURISDICTIONS[estate.jurisdictions[*index]]);
            }
            prop_assert!(estate.proven && estate.approved.0 && estate.approved.1 && (0..24).contains(&estate.hours));
        } else {
            prop_assert!(decision.paths.is_empty());
        }
        for path in &decision.paths {
            let index: usize = path.site.trim_start_matches("site-").parse().unwrap();
            prop_assert!(estate.provider_sites.contains(&index) && consumer_running.contains(&index));
        }
        // And the converse: a compliant, approved agreement in force with a placed provider is active.
        let compliant = !consumer_sites.iter().chain(&estate.provider_sites).any(|index| forbidden(*index));
        if compliant && estate.proven && estate.approved.0 && estate.approved.1 && (0..24).contains(&estate.hours) && !estate.provider_sites.is_empty() {
            prop_assert_eq!(decision.state, ExchangeState::Active, "{:?}", decision.reasons);
        }
    }
}
