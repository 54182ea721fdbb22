//! Which workloads and tenants a change can affect, found from the changed objects alone so that
//! the rest are never judged again. Each rule follows from what `evaluate` and `sites_for_tenant`
//! read; the property test `core/tests/what_if_properties.rs` checks the answer against judging
//! everything.

use std::collections::BTreeSet;

use kube::ResourceExt;

use crate::placement::resolve::label;
use crate::placement::rules::matching_rules;
use crate::placement::snapshot::PreparedRule;
use crate::resources::placement_rule::PlacementRule;
use crate::resources::tenant::Tenant;
use crate::resources::workload::Workload;

use super::changes::Changes;

/// The positions in `workloads` of every workload the change can affect, in order.
///
/// - A changed **Site** affects every workload: each decision judges every site (eligible with a
///   score, or rejected with reasons), so any fact of any site can change any workload's eligible
///   sites, reasons or ranking. Sites change rarely; the answer is then as costly as judging all.
/// - A changed **DataClassification** affects the workloads classified with it (its requirements
///   are their hard filters) and, when its rank changes or it is new, the workloads of tenants
///   whose ceiling it is (the ceiling check compares ranks).
/// - A changed **PlacementRule** affects the workloads its old or its new selector matches: a rule
///   acts on no other workload.
/// - A changed **Tenant** affects its own workloads (its ceiling and allowed sites).
pub fn affected_workloads(
    changes: &Changes<'_>,
    current_tenants: &[Tenant],
    workloads: &[Workload],
) -> Vec<usize> {
    if !changes.sites.changed.is_empty() {
        return (0..workloads.len()).collect();
    }
    let classifications: BTreeSet<&str> = changes
        .classifications
        .changed
        .iter()
        .map(|change| change.name.as_str())
        .collect();
    let reranked: BTreeSet<&str> = changes
        .classifications
        .changed
        .iter()
        .filter(|change| {
            change
                .old
                .is_none_or(|old| old.spec.rank != change.new.spec.rank)
        })
        .map(|change| change.name.as_str())
        .collect();
    let mut tenants: BTreeSet<String> = changes
        .tenants
        .changed
        .iter()
        .map(|change| change.name.clone())
        .collect();
    tenants.extend(
        current_tenants
            .iter()
            .chain(&changes.tenants.objects)
            .filter(|tenant| reranked.contains(tenant.spec.highest_classification.as_str()))
            .map(ResourceExt::name_any),
    );
    let rules = changed_rules(&changes.rules.changed);
    workloads
        .iter()
        .enumerate()
        .filter(|(_, workload)| {
            classifications.contains(workload.spec.classification.as_str())
                || tenants.contains(&workload.spec.tenant)
                || selected_by_any(&rules, workload)
        })
        .map(|(position, _)| position)
        .collect()
}

/// The names of the tenants whose sites the change can affect. A tenant's sites depend on its
/// allowed sites, on the sites' facts and on the least sensitive classification: so a changed
/// Site or a different least sensitive classification affects every tenant, a changed Tenant
/// itself, and placement rules none.
pub fn affected_tenants(
    changes: &Changes<'_>,
    current_tenants: &[Tenant],
    lowest_changed: bool,
) -> BTreeSet<String> {
    if !changes.sites.changed.is_empty() || lowest_changed {
        return current_tenants
            .iter()
            .chain(&changes.tenants.objects)
            .map(ResourceExt::name_any)
            .collect();
    }
    changes
        .tenants
        .changed
        .iter()
        .map(|change| change.name.clone())
        .collect()
}

/// The old and the new form of every changed rule, each prepared as the engine matches it.
fn changed_rules(changed: &[super::changes::Changed<'_, PlacementRule>]) -> Vec<PreparedRule> {
    changed
        .iter()
        .flat_map(|change| change.old.into_iter().chain(std::iter::once(&change.new)))
        .enumerate()
        .map(|(index, rule)| PreparedRule {
            name: rule.name_any(),
            spec: rule.spec.clone(),
            index,
        })
        .collect()
}

/// Whether any of `rules` selects `workload`, by the engine's own matching (its `spec.labels`
/// over its metadata labels, as `evaluate` sees them).
fn selected_by_any(rules: &[PreparedRule], workload: &Workload) -> bool {
    if rules.is_empty() {
        return false;
    }
    !matching_rules(rules, &workload.spec, |key| label(workload, key)).is_empty()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::placement::what_if::changes::{keep_nothing, keep_site_status, merge};

    fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).unwrap_or_else(|error| panic!("{error}"))
    }

    fn classification(name: &str, rank: u32, certifications: &[&str]) -> Value {
        json!({"apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification", "metadata": {"name": name},
               "spec": {"rank": rank, "legalBasis": "Ley 8968", "requiredCertifications": certifications}})
    }

    fn tenant(name: &str, ceiling: &str) -> Tenant {
        typed(
            json!({"apiVersion": "soberana.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
                     "spec": {"displayName": name, "shortCode": name, "highestClassification": ceiling,
                              "environments": [{"name": "prod"}], "quota": {"cpuMillicores": 1, "memoryMebibytes": 1}}}),
        )
    }

    fn workload(name: &str, tenant: &str, classification: &str, labels: Value) -> Workload {
        typed(
            json!({"apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
                     "metadata": {"name": name, "namespace": format!("{tenant}-prod"), "labels": labels},
                     "spec": {"tenant": tenant, "classification": classification, "replicas": 1,
                              "resources": {"cpuMillicores": 1, "memoryMebibytes": 1}}}),
        )
    }

    struct Fixture {
        classifications: Vec<crate::resources::data_classification::DataClassification>,
        rules: Vec<PlacementRule>,
        tenants: Vec<Tenant>,
        workloads: Vec<Workload>,
    }

    fn fixture() -> Fixture {
        Fixture {
            classifications: vec![
                typed(classification("public", 0, &[])),
                typed(classification("internal", 10, &[])),
            ],
            rules: vec![typed(
                json!({"apiVersion": "soberana.io/v1alpha1", "kind": "PlacementRule",
                "metadata": {"name": "critical"}, "spec": {"selector": {"matchLabels": {"tier": "critical"}}}}),
            )],
            tenants: vec![tenant("health", "internal"), tenant("library", "public")],
            workloads: vec![
                workload("portal", "library", "public", json!({})),
                workload("records", "health", "internal", json!({})),
                workload("alerts", "health", "public", json!({"tier": "critical"})),
            ],
        }
    }

    fn affected(fixture: &Fixture, proposal: Proposal) -> Vec<usize> {
        let changes = Changes {
            sites: merge("Site", &[], &[], keep_site_status).unwrap_or_else(|e| panic!("{e}")),
            classifications: merge(
                "DataClassification",
                &fixture.classifications,
                &proposal.classifications,
                keep_nothing,
            )
            .unwrap_or_else(|e| panic!("{e}")),
            rules: merge(
                "PlacementRule",
                &fixture.rules,
                &proposal.rules,
                keep_nothing,
            )
            .unwrap_or_else(|e| panic!("{e}")),
            tenants: merge("Tenant", &fixture.tenants, &proposal.tenants, keep_nothing)
                .unwrap_or_else(|e| panic!("{e}")),
        };
        affected_workloads(&changes, &fixture.tenants, &fixture.workloads)
    }

    use crate::placement::what_if::Proposal;

    #[test]
    fn a_classification_affects_its_workloads_and_on_a_new_rank_its_tenants_workloads() {
        let fixture = fixture();
        let stricter = Proposal {
            classifications: vec![typed(classification("internal", 10, &["ISO27001"]))],
            ..Proposal::default()
        };
        assert_eq!(
            affected(&fixture, stricter),
            [1],
            "only records is classified internal"
        );
        let reranked = Proposal {
            classifications: vec![typed(classification("internal", 5, &[]))],
            ..Proposal::default()
        };
        assert_eq!(
            affected(&fixture, reranked),
            [1, 2],
            "health's ceiling is internal"
        );
    }

    #[test]
    fn a_rule_affects_what_its_old_or_new_selector_matches_and_a_tenant_its_own() {
        let fixture = fixture();
        let retargeted = Proposal {
            rules: vec![typed(
                json!({"apiVersion": "soberana.io/v1alpha1", "kind": "PlacementRule",
                "metadata": {"name": "critical"}, "spec": {"selector": {"tenants": ["library"]}}}),
            )],
            ..Proposal::default()
        };
        assert_eq!(
            affected(&fixture, retargeted),
            [0, 2],
            "library's now, alerts before"
        );
        let tenant = Proposal {
            tenants: vec![tenant("library", "internal")],
            ..Proposal::default()
        };
        assert_eq!(affected(&fixture, tenant), [0]);
        assert!(affected(&fixture, Proposal::default()).is_empty());
    }
}
