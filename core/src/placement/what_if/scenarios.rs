//! What-if on a small estate: three sites, three classifications, three tenants, six workloads,
//! where every expected answer can be worked out by hand.
//!
//! Sites (all encrypt in transit, hold keys in a state HSM, keep 2 backups at home):
//! `state-a` StateOwned CR, ISO27001 + TierIII, cost 70, 99.95 %; `cloud-cr` ForeignPublic CR,
//! no certification, cost 10, 99.99 %; `cloud-us` ForeignPublic US, ISO27001, cost 5, 99.95 %.
//! One rule makes every workload prefer the cheapest eligible site.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use serde_json::{Value, json};

use super::*;
use crate::placement::ReasonCode;

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn site(
    name: &str,
    tier: &str,
    jurisdiction: &str,
    certifications: &[&str],
    cost: u32,
    offered: &str,
) -> Site {
    typed(json!({"apiVersion": "soberana.io/v1alpha1", "kind": "Site",
        "metadata": {"name": name, "labels": {"operated-by": if tier == "StateOwned" { "state" } else { "provider" }}},
        "spec": {"provider": name, "sovereigntyTier": tier, "jurisdiction": jurisdiction,
                 "certifications": certifications, "keyCustody": ["StateHeldHsm"], "encryptionInTransit": true,
                 "backup": {"copies": 2, "jurisdiction": jurisdiction}, "offeredAvailability": offered,
                 "capacity": {"cpuMillicores": 100_000, "memoryMebibytes": 100_000}, "costIndex": cost}}))
}

fn classification(name: &str, rank: u32, extra: Value) -> DataClassification {
    let mut spec = json!({"rank": rank, "legalBasis": format!("Decreto {rank}")});
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    typed(
        json!({"apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification", "metadata": {"name": name}, "spec": spec}),
    )
}

fn internal(certifications: &[&str]) -> DataClassification {
    classification(
        "internal",
        10,
        json!({"allowedJurisdictions": ["CR", "US"], "requiredCertifications": certifications}),
    )
}

fn tenant(name: &str, ceiling: &str, allowed: &[&str]) -> Tenant {
    typed(
        json!({"apiVersion": "soberana.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
        "spec": {"displayName": name, "shortCode": name, "highestClassification": ceiling, "allowedSites": allowed,
                 "environments": [{"name": "prod"}], "quota": {"cpuMillicores": 1, "memoryMebibytes": 1}}}),
    )
}

fn rule(name: &str, spec: Value) -> PlacementRule {
    typed(
        json!({"apiVersion": "soberana.io/v1alpha1", "kind": "PlacementRule", "metadata": {"name": name}, "spec": spec}),
    )
}

fn workload(
    name: &str,
    tenant: &str,
    classification: &str,
    target: Option<&str>,
    running: &[&str],
) -> Workload {
    let mut object = json!({"apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
        "metadata": {"name": name, "namespace": format!("{tenant}-prod")},
        "spec": {"tenant": tenant, "classification": classification, "replicas": 1,
                 "resources": {"cpuMillicores": 100, "memoryMebibytes": 100}}});
    if let Some(target) = target {
        object["spec"]["availabilityTarget"] = json!(target);
    }
    if !running.is_empty() {
        object["status"] = json!({"chosenSites": running});
    }
    typed(object)
}

struct Estate {
    sites: Vec<Site>,
    classifications: Vec<DataClassification>,
    rules: Vec<PlacementRule>,
    tenants: Vec<Tenant>,
    workloads: Vec<Workload>,
}

fn estate() -> Estate {
    Estate {
        sites: vec![
            site(
                "state-a",
                "StateOwned",
                "CR",
                &["ISO27001", "TierIII"],
                70,
                "99.95",
            ),
            site("cloud-cr", "ForeignPublic", "CR", &[], 10, "99.99"),
            site("cloud-us", "ForeignPublic", "US", &["ISO27001"], 5, "99.95"),
        ],
        classifications: vec![
            classification("public", 0, json!({})),
            internal(&[]),
            classification(
                "restricted",
                30,
                json!({"allowedJurisdictions": ["CR"],
                "allowedSovereigntyTiers": ["StateOwned"], "requiredCertifications": ["ISO27001"]}),
            ),
        ],
        rules: vec![rule(
            "cost-first",
            json!({"preferences": {"sovereignty": 0, "cost": 100, "availability": 0, "proximity": 0}}),
        )],
        tenants: vec![
            tenant("health", "restricted", &[]),
            tenant("library", "public", &[]),
            tenant("tax", "internal", &["cloud-cr", "state-a"]),
        ],
        workloads: vec![
            // Everywhere; cheapest is cloud-us.
            workload("portal", "library", "public", None, &[]),
            // state-a only.
            workload("records", "health", "restricted", None, &[]),
            // Everywhere; cheapest is cloud-us.
            workload("scheduling", "health", "internal", None, &[]),
            // tax may use cloud-cr and state-a; cheapest is cloud-cr.
            workload("billing", "tax", "internal", None, &[]),
            // Only cloud-cr offers 99.99 %.
            workload("ledger", "tax", "internal", Some("99.99"), &[]),
            // Placed by the operator on cloud-cr, the only site offering 99.99 %.
            workload(
                "archive",
                "health",
                "internal",
                Some("99.99"),
                &["cloud-cr"],
            ),
        ],
    }
}

impl Estate {
    fn what_if(&self, proposal: &Proposal) -> Impact {
        let objects = Objects {
            sites: &self.sites,
            classifications: &self.classifications,
            rules: &self.rules,
            tenants: &self.tenants,
            ..Objects::default()
        };
        let impact = what_if(objects, &self.workloads, proposal).unwrap();
        let everything = what_if_exhaustive(objects, &self.workloads, proposal).unwrap();
        assert_eq!(
            impact.workloads, everything.workloads,
            "incremental and exhaustive differ"
        );
        assert_eq!(
            impact.tenants, everything.tenants,
            "incremental and exhaustive differ"
        );
        impact
    }
}

/// Each affected workload as (name, change, from, to, lost sites).
fn summary(impact: &Impact) -> Vec<(&str, ChangeKind, String, String, String)> {
    impact
        .workloads
        .iter()
        .map(|item| {
            (
                item.workload.as_str(),
                item.change,
                item.from.join(","),
                item.to.join(","),
                item.lost_sites.join(","),
            )
        })
        .collect()
}

fn owned(
    rows: &[(&'static str, ChangeKind, &str, &str, &str)],
) -> Vec<(&'static str, ChangeKind, String, String, String)> {
    rows.iter()
        .map(|(name, kind, from, to, lost)| {
            (
                *name,
                *kind,
                (*from).to_owned(),
                (*to).to_owned(),
                (*lost).to_owned(),
            )
        })
        .collect()
}

#[test]
fn internal_requiring_iso27001_moves_strands_and_unplaces_exactly_the_internal_workloads_off_cloud_cr()
 {
    let estate = estate();
    let impact = estate.what_if(&Proposal {
        classifications: vec![internal(&["ISO27001"])],
        ..Proposal::default()
    });
    assert_eq!(impact.changed_objects, ["DataClassification/internal"]);
    assert_eq!(
        (impact.workloads_total, impact.workloads_judged),
        (6, 4),
        "only the internal workloads are judged"
    );
    // records runs on state-a only already: its refused sites gain a reason, its outcome stays.
    assert_eq!(
        summary(&impact),
        owned(&[
            (
                "health-prod/archive",
                ChangeKind::Stranded,
                "cloud-cr",
                "cloud-cr",
                "cloud-cr"
            ),
            (
                "health-prod/scheduling",
                ChangeKind::EligibilityChanges,
                "cloud-us",
                "cloud-us",
                "cloud-cr"
            ),
            (
                "tax-prod/billing",
                ChangeKind::Moves,
                "cloud-cr",
                "state-a",
                "cloud-cr"
            ),
            (
                "tax-prod/ledger",
                ChangeKind::Unplaceable,
                "cloud-cr",
                "",
                "cloud-cr"
            ),
        ])
    );
    let billing = &impact.workloads[2];
    assert_eq!(billing.sites.len(), 1);
    let cloud_cr = &billing.sites[0];
    assert_eq!(
        (cloud_cr.site.as_str(), cloud_cr.before, cloud_cr.after),
        ("cloud-cr", Verdict::Eligible, Verdict::Rejected)
    );
    assert!(cloud_cr.lifted.is_empty());
    assert_eq!(cloud_cr.added.len(), 1);
    assert_eq!(cloud_cr.added[0].code, ReasonCode::CertificationMissing);
    assert_eq!(
        (
            cloud_cr.added[0].facts.required.as_str(),
            cloud_cr.added[0].facts.actual.as_str()
        ),
        ("ISO27001", "none")
    );
    assert_eq!(cloud_cr.added[0].source, "DataClassification/internal");
    assert!(
        impact.workloads[0]
            .why
            .as_deref()
            .unwrap()
            .contains("site cloud-cr may no longer host it")
    );
    assert!(
        impact.workloads[3]
            .why
            .as_deref()
            .unwrap()
            .contains("none of the 3 sites")
    );
    assert!(
        impact.tenants.is_empty(),
        "the least sensitive classification did not change"
    );
}

#[test]
fn a_rule_keeping_health_on_state_sites_acts_on_health_workloads_only() {
    let estate = estate();
    let proposal = Proposal {
        rules: vec![rule(
            "health-at-home",
            json!({"selector": {"tenants": ["health"]},
            "constraints": {"siteSelector": {"operated-by": "state"}}}),
        )],
        ..Proposal::default()
    };
    let impact = estate.what_if(&proposal);
    assert_eq!(
        (impact.workloads_judged, impact.changed_objects.clone()),
        (3, vec!["PlacementRule/health-at-home".to_owned()])
    );
    // records runs on state-a only already: its refused sites gain a reason, its outcome stays.
    assert_eq!(
        summary(&impact),
        owned(&[
            (
                "health-prod/archive",
                ChangeKind::Stranded,
                "cloud-cr",
                "cloud-cr",
                "cloud-cr"
            ),
            (
                "health-prod/scheduling",
                ChangeKind::Moves,
                "cloud-us",
                "state-a",
                "cloud-cr,cloud-us"
            ),
        ])
    );
    let scheduling = &impact.workloads[1];
    let added: Vec<(&str, ReasonCode)> = scheduling
        .sites
        .iter()
        .flat_map(|change| {
            change
                .added
                .iter()
                .map(|reason| (change.site.as_str(), reason.code))
        })
        .collect();
    assert_eq!(
        added,
        [
            ("cloud-cr", ReasonCode::SiteSelectorMismatch),
            ("cloud-us", ReasonCode::SiteSelectorMismatch)
        ]
    );
}

#[test]
fn a_tenant_narrowed_by_a_person_is_removed_from_the_site_it_no_longer_allows() {
    let estate = estate();
    let narrowed = estate.what_if(&Proposal {
        tenants: vec![tenant("tax", "internal", &["state-a"])],
        ..Proposal::default()
    });
    assert_eq!(narrowed.workloads_judged, 2, "tax's two workloads");
    assert_eq!(
        summary(&narrowed),
        owned(&[
            (
                "tax-prod/billing",
                ChangeKind::Moves,
                "cloud-cr",
                "state-a",
                "cloud-cr"
            ),
            (
                "tax-prod/ledger",
                ChangeKind::Unplaceable,
                "cloud-cr",
                "",
                "cloud-cr"
            ),
        ])
    );
    assert_eq!(
        narrowed.tenants,
        [TenantImpact {
            tenant: "tax".to_owned(),
            loses: vec![SiteLoss {
                site: "cloud-cr".to_owned(),
                fate: Fate::Removed,
                why: "spec.allowedSites no longer lists it".to_owned(),
                reasons: Vec::new()
            }],
            gains: Vec::new(),
        }]
    );
}

#[test]
fn a_site_only_a_policy_rules_out_is_held_removal_pending_for_every_tenant_on_it() {
    let estate = estate();
    let stricter_public =
        classification("public", 0, json!({"requiredCertifications": ["ISO27001"]}));
    let policy = estate.what_if(&Proposal {
        classifications: vec![stricter_public],
        ..Proposal::default()
    });
    let losses: Vec<(&str, &str, Fate)> = policy
        .tenants
        .iter()
        .flat_map(|impact| {
            impact
                .loses
                .iter()
                .map(|loss| (impact.tenant.as_str(), loss.site.as_str(), loss.fate))
        })
        .collect();
    assert_eq!(
        losses,
        [
            ("health", "cloud-cr", Fate::RemovalPending),
            ("library", "cloud-cr", Fate::RemovalPending),
            ("tax", "cloud-cr", Fate::RemovalPending)
        ]
    );
    let health = &policy.tenants[0].loses[0];
    assert!(
        health.why.contains("lacks the ISO27001 certification"),
        "{health:?}"
    );
    let reasons: Vec<(ReasonCode, &str, &str)> = health
        .reasons
        .iter()
        .map(|reason| {
            (
                reason.code,
                reason.facts.required.as_str(),
                reason.source.as_str(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [(
            ReasonCode::CertificationMissing,
            "ISO27001",
            "DataClassification/public"
        )]
    );
}

#[test]
fn no_change_means_no_impact_and_nothing_judged() {
    let estate = estate();
    for proposal in [
        Proposal::default(),
        Proposal {
            classifications: vec![internal(&[])],
            sites: vec![estate.sites[1].clone()],
            ..Proposal::default()
        },
    ] {
        let impact = estate.what_if(&proposal);
        assert!(impact.is_empty(), "{impact:?}");
        assert!(impact.changed_objects.is_empty());
        assert_eq!(impact.workloads_judged, 0);
    }
}

#[test]
fn a_new_site_is_judged_for_every_workload_and_shows_as_gained() {
    let estate = estate();
    let impact = estate.what_if(&Proposal {
        sites: vec![site(
            "state-b",
            "StateOwned",
            "CR",
            &["ISO27001", "TierIII"],
            60,
            "99.95",
        )],
        ..Proposal::default()
    });
    assert_eq!(impact.workloads_judged, 6);
    let records = impact
        .workloads
        .iter()
        .find(|item| item.workload == "health-prod/records")
        .unwrap();
    assert_eq!(
        (
            records.change,
            records.to.clone(),
            records.gained_sites.clone()
        ),
        (
            ChangeKind::Moves,
            vec!["state-b".to_owned()],
            vec!["state-b".to_owned()]
        )
    );
    let gains: Vec<(&str, Vec<String>)> = impact
        .tenants
        .iter()
        .map(|item| (item.tenant.as_str(), item.gains.clone()))
        .collect();
    assert_eq!(
        gains,
        [
            ("health", vec!["state-b".to_owned()]),
            ("library", vec!["state-b".to_owned()])
        ],
        "tax lists its sites"
    );
}

#[test]
fn a_proposal_naming_an_object_twice_is_refused() {
    let estate = estate();
    let objects = Objects {
        sites: &estate.sites,
        classifications: &estate.classifications,
        ..Objects::default()
    };
    let error = what_if(
        objects,
        &[],
        &Proposal {
            classifications: vec![internal(&[]), internal(&["X"])],
            ..Proposal::default()
        },
    );
    assert_eq!(
        error,
        Err(WhatIfError::ProposedTwice {
            kind: "DataClassification",
            name: "internal".to_owned()
        })
    );
}
