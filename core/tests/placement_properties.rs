//! Properties of the placement engine over generated scenarios.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::subsequence;
use serde_json::{Value, json};
use soberana_core::placement::{
    Decision, Objects, Outcome, ReasonCodes, Snapshot, evaluate, judge, reference,
};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;

const JURISDICTIONS: [&str; 3] = ["CR", "PA", "US"];
const TIERS: [&str; 3] = ["StateOwned", "NationalProvider", "ForeignPublic"];
const CERTIFICATIONS: [&str; 3] = ["ISO27001", "TierIII", "SOC2"];
const AVAILABILITIES: [&str; 5] = ["99.0", "99.5", "99.9", "99.95", "99.99"];

/// Everything one evaluation needs.
#[derive(Clone, Debug)]
struct Scenario {
    sites: Vec<Site>,
    classifications: Vec<DataClassification>,
    rules: Vec<PlacementRule>,
    tenants: Vec<Tenant>,
    workload: Workload,
}

impl Scenario {
    fn decide(&self) -> Decision {
        let snapshot = Snapshot::new(Objects {
            sites: &self.sites,
            classifications: &self.classifications,
            rules: &self.rules,
            tenants: &self.tenants,
            ..Objects::default()
        })
        .unwrap();
        evaluate(&snapshot, &self.workload).unwrap()
    }
}

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn site_strategy(index: usize) -> impl Strategy<Value = Site> {
    (
        0..3usize,
        0..3usize,
        subsequence(CERTIFICATIONS.to_vec(), 0..=3),
        subsequence(vec!["StateHeldHsm", "CustomerManaged", "ProviderManaged"], 0..=3),
        any::<bool>(),
        (0..3u32, 0..3usize),
        0..5usize,
        (0..20_000u64, 0..20_000u64),
        subsequence(vec!["a", "b", "c"], 0..=2),
        (0..3usize, proptest::option::of(0..=100u32), any::<bool>(), any::<bool>()),
    )
        .prop_map(move |(tier, jurisdiction, certifications, custody, transit, (copies, backup_in), availability, (cpu, memory), zones, (provider, cost, tainted, labelled))| {
            let name = format!("site-{index}");
            let labels = if labelled { json!({"tier": "gold"}) } else { json!({}) };
            typed(json!({
                "apiVersion": "soberana.io/v1alpha1", "kind": "Site",
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    "provider": format!("provider-{provider}"), "sovereigntyTier": TIERS[tier],
                    "jurisdiction": JURISDICTIONS[jurisdiction], "certifications": certifications,
                    "keyCustody": custody, "encryptionInTransit": transit,
                    "backup": {"copies": copies, "jurisdiction": JURISDICTIONS[backup_in]},
                    "offeredAvailability": AVAILABILITIES[availability],
                    "capacity": {"cpuMillicores": cpu, "memoryMebibytes": memory},
                    "zones": zones, "costIndex": cost,
                    "taints": if tainted { json!([{"key": "maintenance"}]) } else { json!([]) }
                }
            }))
        })
}

fn classification_strategy(
    name: &'static str,
    rank: u32,
) -> impl Strategy<Value = DataClassification> {
    (
        subsequence(JURISDICTIONS.to_vec(), 0..=3),
        subsequence(TIERS.to_vec(), 0..=3),
        subsequence(CERTIFICATIONS.to_vec(), 0..=2),
        proptest::option::of(prop_oneof![Just("StateHeldHsm"), Just("CustomerManaged"), Just("ProviderManaged")]),
        any::<bool>(),
        proptest::option::of((1..3u32, any::<bool>())),
        proptest::option::of(0..5usize),
    )
        .prop_map(move |(jurisdictions, tiers, certifications, custody, transit, backup, minimum)| {
            let mut spec = json!({
                "rank": rank, "legalBasis": format!("Decree {rank}"),
                "allowedJurisdictions": jurisdictions, "allowedSovereigntyTiers": tiers,
                "requiredCertifications": certifications, "encryptionInTransit": transit
            });
            if let Some(custody) = custody {
                spec["encryptionAtRest"] = json!({"keyCustody": custody});
            }
            if let Some((copies, same)) = backup {
                spec["backup"] = json!({"copies": copies, "sameJurisdiction": same});
            }
            if let Some(minimum) = minimum {
                spec["minimumAvailability"] = json!(AVAILABILITIES[minimum]);
            }
            typed(json!({"apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification", "metadata": {"name": name}, "spec": spec}))
        })
}

fn rule_strategy(index: usize, site_count: usize) -> impl Strategy<Value = PlacementRule> {
    (
        -5..5i32,
        subsequence((0..site_count).collect::<Vec<_>>(), 0..=site_count.min(2)),
        any::<bool>(),
        proptest::option::of((1..3u32, 0..3usize)),
        proptest::option::of((0..=100u32, 0..=100u32, 0..=100u32)),
        any::<bool>(),
    )
        .prop_map(move |(priority, excluded, selector, spread, preferences, only_sensitive)| {
            let excluded: Vec<String> = excluded.iter().map(|site| format!("site-{site}")).collect();
            let mut spec = json!({
                "priority": priority,
                "selector": if only_sensitive { json!({"classifications": ["sensitive"]}) } else { json!({}) },
                "constraints": {"excludedSites": excluded, "siteSelector": if selector { json!({"tier": "gold"}) } else { json!({}) }}
            });
            if let Some((minimum, across)) = spread {
                let across = ["Sites", "Zones", "Providers"][across];
                spec["constraints"]["spread"] = json!({"minimumSites": minimum, "maximumSites": minimum + 1, "across": across});
            }
            if let Some((sovereignty, cost, availability)) = preferences {
                spec["preferences"] = json!({"sovereignty": sovereignty, "cost": cost, "availability": availability});
            }
            typed(json!({"apiVersion": "soberana.io/v1alpha1", "kind": "PlacementRule", "metadata": {"name": format!("rule-{index}")}, "spec": spec}))
        })
}

fn scenario_strategy() -> impl Strategy<Value = Scenario> {
    (1..8usize)
        .prop_flat_map(|site_count| {
            (
                (0..site_count).map(site_strategy).collect::<Vec<_>>(),
                classification_strategy("open", 0),
                classification_strategy("sensitive", 10),
                (0..3usize).prop_flat_map(move |rule_count| (0..rule_count).map(|index| rule_strategy(index, site_count)).collect::<Vec<_>>()),
                (any::<bool>(), subsequence((0..site_count).collect::<Vec<_>>(), 0..=site_count)),
                (any::<bool>(), any::<bool>(), 1..4u32, proptest::option::of(0..5usize), 0..3000u64),
            )
        })
        .prop_map(|(sites, open, sensitive, rules, (ceiling_high, allowed), (sensitive_workload, tolerates, replicas, target, cpu))| {
            let allowed: Vec<String> = allowed.iter().map(|site| format!("site-{site}")).collect();
            let tenant = typed(json!({
                "apiVersion": "soberana.io/v1alpha1", "kind": "Tenant", "metadata": {"name": "agency"},
                "spec": {"displayName": "Agency", "shortCode": "agency",
                         "highestClassification": if ceiling_high { "sensitive" } else { "open" },
                         "environments": [{"name": "prod"}], "quota": {"cpuMillicores": 1, "memoryMebibytes": 1},
                         "allowedSites": allowed}
            }));
            let mut spec = json!({
                "tenant": "agency", "classification": if sensitive_workload { "sensitive" } else { "open" },
                "replicas": replicas, "resources": {"cpuMillicores": cpu, "memoryMebibytes": 100},
                "tolerations": if tolerates { json!(["maintenance"]) } else { json!([]) }
            });
            if let Some(target) = target {
                spec["availabilityTarget"] = json!(AVAILABILITIES[target]);
            }
            let workload = typed(json!({
                "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
                "metadata": {"name": "service", "namespace": "agency-prod"}, "spec": spec
            }));
            Scenario { sites, classifications: vec![open, sensitive], rules, tenants: vec![tenant], workload }
        })
}

fn eligible(decision: &Decision) -> BTreeSet<String> {
    decision.eligible_sites().map(str::to_owned).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_chosen_site_is_never_one_a_hard_filter_rejects(scenario in scenario_strategy()) {
        let decision = scenario.decide();
        let rejected: BTreeSet<&str> = decision.rejected.iter().map(|rejection| rejection.site.as_str()).collect();
        prop_assert_eq!(eligible(&decision).len() + rejected.len(), scenario.sites.len(), "every site is judged once");
        for rejection in &decision.rejected {
            prop_assert!(!rejection.reasons.is_empty(), "{} rejected without a reason", rejection.site);
        }
        for chosen in &decision.chosen_sites {
            prop_assert!(!rejected.contains(chosen.as_str()), "{} chosen although rejected", chosen);
            prop_assert!(eligible(&decision).contains(chosen));
        }
        match decision.outcome {
            Outcome::Placed => {
                let count = decision.chosen_sites.len() as u32;
                prop_assert!(count >= decision.required_sites.minimum && count <= decision.required_sites.maximum);
            }
            Outcome::Unplaceable => {
                prop_assert!(decision.chosen_sites.is_empty());
                prop_assert!(decision.unplaceable.is_some());
            }
        }
    }

    #[test]
    fn decisions_are_deterministic_and_independent_of_input_order(scenario in scenario_strategy(), rotation in 0..8usize) {
        let first = scenario.decide();
        prop_assert_eq!(&first, &scenario.decide());
        let mut shuffled = scenario.clone();
        shuffled.sites.reverse();
        let length = shuffled.sites.len();
        shuffled.sites.rotate_left(rotation % length);
        shuffled.rules.reverse();
        shuffled.classifications.reverse();
        prop_assert_eq!(first, shuffled.decide());
    }

    #[test]
    fn adding_a_constraint_never_enlarges_the_eligible_set(scenario in scenario_strategy(), victim in 0..8usize, which in 0..3usize) {
        let before = eligible(&scenario.decide());
        let mut constrained = scenario.clone();
        match which {
            0 => constrained.rules.push(typed(json!({
                "apiVersion": "soberana.io/v1alpha1", "kind": "PlacementRule", "metadata": {"name": "added"},
                "spec": {"constraints": {"excludedSites": [format!("site-{}", victim % scenario.sites.len())]}}
            }))),
            1 => constrained.rules.push(typed(json!({
                "apiVersion": "soberana.io/v1alpha1", "kind": "PlacementRule", "metadata": {"name": "added"},
                "spec": {"constraints": {"siteSelector": {"tier": "gold"}}}
            }))),
            _ => for classification in &mut constrained.classifications {
                classification.spec.required_certifications.push("TierIII".to_owned());
            },
        }
        let after = eligible(&constrained.decide());
        prop_assert!(after.is_subset(&before), "{:?} grew to {:?}", before, after);
    }

    #[test]
    fn removing_a_site_never_makes_another_site_eligible(scenario in scenario_strategy(), victim in 0..8usize) {
        let before = scenario.decide();
        let mut reduced = scenario.clone();
        let removed = reduced.sites.remove(victim % scenario.sites.len());
        let removed_name = removed.metadata.name.unwrap();
        let after = reduced.decide();
        let mut expected = eligible(&before);
        expected.remove(&removed_name);
        prop_assert_eq!(eligible(&after), expected);
    }

    /// The compiled engine decides exactly as the plain reference evaluation, reasons and all,
    /// including on sites whose last probe found them not ready and for workloads whose data
    /// lives on one of the sites; and the codes it judges by are the codes of the reasons shown.
    #[test]
    fn the_compiled_engine_decides_as_the_reference_evaluation(
        scenario in scenario_strategy(),
        not_ready in proptest::collection::vec(any::<bool>(), 8),
        data_on in proptest::option::of(0..8usize),
    ) {
        let mut scenario = scenario;
        for (site, down) in scenario.sites.iter_mut().zip(&not_ready) {
            if *down {
                site.status = Some(typed(json!({"conditions": [{
                    "type": "Ready", "status": "False", "reason": "Unreachable", "message": "down",
                    "lastTransitionTime": "2026-12-01T00:00:00Z"}]})));
            }
        }
        if let Some(index) = data_on.filter(|index| *index < scenario.sites.len()) {
            scenario.workload.spec.data_location =
                Some(typed(json!({"site": format!("site-{index}")})));
        }
        let snapshot = Snapshot::new(Objects {
            sites: &scenario.sites,
            classifications: &scenario.classifications,
            rules: &scenario.rules,
            tenants: &scenario.tenants,
            ..Objects::default()
        })
        .unwrap();
        let compiled = evaluate(&snapshot, &scenario.workload).unwrap();
        prop_assert_eq!(&compiled, &reference::evaluate(&snapshot, &scenario.workload).unwrap());
        let judgement = judge(&snapshot, &scenario.workload).unwrap();
        let judged: Vec<ReasonCodes> = judgement.rejected.iter().map(|rejected| rejected.codes).collect();
        let shown: Vec<ReasonCodes> = compiled
            .rejected
            .iter()
            .map(|rejection| rejection.reasons.iter().map(|reason| reason.code).collect())
            .collect();
        prop_assert_eq!(judged, shown);
    }
}
