//! Where a placed workload runs as sites fail and policies change (sticky placement, failover,
//! stranding), and what it becomes on a member site.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use serde_json::json;
use soberana_core::placement::decision::{RequiredSites, SiteRejection, SiteScore, Unplaceable};
use soberana_core::placement::{Decision, Outcome, Reason, ReasonCode};
use soberana_core::propagation::{
    MemberObjectError, Replacement, SiteHealth, member_namespace, member_objects, replace,
};
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;

fn decision(chosen: &[&str], eligible: &[&str], rejected: &[(&str, ReasonCode)]) -> Decision {
    Decision {
        workload: "ns/w".to_owned(),
        outcome: if chosen.is_empty() {
            Outcome::Unplaceable
        } else {
            Outcome::Placed
        },
        chosen_sites: chosen.iter().map(|site| (*site).to_owned()).collect(),
        required_sites: RequiredSites {
            minimum: 1,
            maximum: 1,
            across: "Sites".to_owned(),
        },
        eligible: eligible
            .iter()
            .map(|site| SiteScore {
                site: (*site).to_owned(),
                total: 1,
                criteria: Vec::new(),
            })
            .collect(),
        rejected: rejected
            .iter()
            .map(|(site, code)| SiteRejection {
                site: (*site).to_owned(),
                reasons: vec![Reason::new(
                    *code,
                    "x",
                    "y",
                    "Site/s",
                    format!("{site} fails {code}"),
                )],
            })
            .collect(),
        matched_rules: Vec::new(),
        unplaceable: chosen.is_empty().then(|| Unplaceable {
            code: "NoEligibleSite".to_owned(),
            message: "none of the 3 sites may host this workload".to_owned(),
        }),
    }
}

fn sites(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[test]
fn a_new_workload_goes_where_the_engine_chose() {
    let fresh = decision(&["a"], &["a", "b"], &[]);
    assert_eq!(
        replace(&[], &fresh, 60, |_| SiteHealth::Ready),
        Replacement::Place {
            sites: sites(&["a"])
        }
    );
    let nowhere = decision(&[], &[], &[("a", ReasonCode::JurisdictionNotAllowed)]);
    assert_eq!(
        replace(&[], &nowhere, 60, |_| SiteHealth::Ready),
        Replacement::Unplaceable
    );
}

#[test]
fn placement_is_sticky_while_the_site_stays_eligible() {
    // The engine now prefers b (say a returned from an outage), but a is still fine.
    let now = decision(&["b"], &["a", "b"], &[]);
    assert_eq!(
        replace(&sites(&["a"]), &now, 60, |_| SiteHealth::Ready),
        Replacement::Keep {
            sites: sites(&["a"])
        }
    );
    // A site down within the grace period (the engine rejects it as not ready) is kept.
    let down = decision(&["b"], &["b"], &[("a", ReasonCode::SiteNotReady)]);
    assert_eq!(
        replace(&sites(&["a"]), &down, 60, |_| SiteHealth::DownWithinGrace),
        Replacement::Keep {
            sites: sites(&["a"])
        }
    );
}

#[test]
fn a_site_down_beyond_the_grace_period_is_left_for_an_eligible_one() {
    let down = decision(&["b"], &["b"], &[("a", ReasonCode::SiteNotReady)]);
    let moved = replace(&sites(&["a"]), &down, 60, |site| {
        if site == "a" {
            SiteHealth::DownBeyondGrace
        } else {
            SiteHealth::Ready
        }
    });
    assert_eq!(
        moved,
        Replacement::FailOver {
            from: sites(&["a"]),
            to: sites(&["b"]),
            reason: "site a has not been Ready for more than 60s".to_owned()
        }
    );
}

#[test]
fn with_nowhere_to_go_the_workload_stays_where_it_is() {
    let down = decision(
        &[],
        &[],
        &[
            ("a", ReasonCode::SiteNotReady),
            ("b", ReasonCode::SovereigntyTierNotAllowed),
        ],
    );
    let Replacement::Stranded {
        sites: kept,
        reason,
    } = replace(&sites(&["a"]), &down, 60, |_| SiteHealth::DownBeyondGrace)
    else {
        panic!("expected the workload to stay");
    };
    assert_eq!(kept, sites(&["a"]));
    assert!(
        reason.contains("site a has not been Ready for more than 60s"),
        "{reason}"
    );
    assert!(
        reason.contains("no other site may host it: none of the 3 sites"),
        "{reason}"
    );
}

#[test]
fn a_site_made_ineligible_by_policy_is_left_even_when_it_is_up() {
    let changed = decision(&["b"], &["b"], &[("a", ReasonCode::CertificationMissing)]);
    let Replacement::Move { from, to, reason } =
        replace(&sites(&["a"]), &changed, 60, |_| SiteHealth::Ready)
    else {
        panic!("expected a move");
    };
    assert_eq!((from, to), (sites(&["a"]), sites(&["b"])));
    assert_eq!(
        reason,
        "site a may no longer host it: a fails CertificationMissing"
    );
    // Capacity alone does not evict what already runs there.
    let full = decision(&["b"], &["b"], &[("a", ReasonCode::InsufficientCapacity)]);
    assert_eq!(
        replace(&sites(&["a"]), &full, 60, |_| SiteHealth::Ready),
        Replacement::Keep {
            sites: sites(&["a"])
        }
    );
}

fn tenant() -> Tenant {
    serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Tenant", "metadata": {"name": "health"},
        "spec": {"displayName": "Health", "shortCode": "minsa", "highestClassification": "restricted",
                 "environments": [{"name": "prod"}, {"name": "staging"}],
                 "quota": {"cpuMillicores": 1, "memoryMebibytes": 1}}
    }))
    .unwrap()
}

fn workload(namespace: &str, template: serde_json::Value) -> Workload {
    serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
        "metadata": {"name": "records", "namespace": namespace},
        "spec": {"tenant": "health", "classification": "confidential",
                 "resources": {"cpuMillicores": 1, "memoryMebibytes": 1}, "replicas": 3,
                 "template": template}
    }))
    .unwrap()
}

#[test]
fn member_objects_carry_the_classification_replicas_and_selector() {
    let template = json!({
        "deployment": {"template": {"metadata": {"labels": {"app": "records"}},
                                    "spec": {"containers": [{"name": "app", "image": "i"}]}}},
        "service": {"ports": [{"port": 80}]}
    });
    let records = workload("minsa-prod", template);
    let namespace = member_namespace(&records, &tenant().spec).unwrap();
    let objects = member_objects(&records, &namespace).unwrap();
    assert_eq!(objects.len(), 2);
    let deployment = &objects[0];
    assert_eq!(deployment["metadata"]["namespace"], "minsa-prod");
    assert_eq!(
        deployment["metadata"]["labels"]["soberana.io/classification"],
        "confidential"
    );
    assert_eq!(deployment["spec"]["replicas"], 3);
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(pod_labels["soberana.io/classification"], "confidential");
    assert_eq!(
        pod_labels["app"], "records",
        "the template's own labels stay"
    );
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"]["soberana.io/workload"],
        "records"
    );
    assert_eq!(
        objects[1]["spec"]["selector"]["soberana.io/workload"],
        "records"
    );
    // What the restricted Pod Security level of tenant namespaces requires, by default.
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(
        pod["containers"][0]["securityContext"],
        json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}})
    );
    // What placement reserved per replica is what each Pod requests, and its bound.
    let reserved = json!({"cpu": "1m", "memory": "1Mi"});
    assert_eq!(
        pod["containers"][0]["resources"],
        json!({"requests": reserved, "limits": reserved})
    );
}

#[test]
fn a_template_with_resources_of_its_own_or_several_containers_keeps_them() {
    let own = json!({"deployment": {"template": {"spec": {"containers": [
        {"name": "app", "image": "i", "resources": {"requests": {"cpu": "2"}}}
    ]}}}});
    let objects = member_objects(&workload("minsa-prod", own), "minsa-prod").unwrap();
    assert_eq!(
        objects[0]["spec"]["template"]["spec"]["containers"][0]["resources"],
        json!({"requests": {"cpu": "2"}})
    );
    let two = json!({"deployment": {"template": {"spec": {"containers": [
        {"name": "app", "image": "i"}, {"name": "sidecar", "image": "j"}
    ]}}}});
    let objects = member_objects(&workload("minsa-prod", two), "minsa-prod").unwrap();
    let containers = &objects[0]["spec"]["template"]["spec"]["containers"];
    assert!(containers[0].get("resources").is_none() && containers[1].get("resources").is_none());
}

#[test]
fn a_template_that_sets_its_own_security_context_keeps_it() {
    let template = json!({
        "deployment": {"template": {"spec": {
            "securityContext": {"runAsUser": 1000},
            "containers": [{"name": "app", "image": "i", "securityContext": {"readOnlyRootFilesystem": true}}]
        }}}
    });
    let objects = member_objects(&workload("minsa-prod", template), "minsa-prod").unwrap();
    let pod = &objects[0]["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"], json!({"runAsUser": 1000}));
    assert_eq!(
        pod["containers"][0]["securityContext"],
        json!({"readOnlyRootFilesystem": true})
    );
}

#[test]
fn a_workload_outside_its_tenants_namespaces_or_with_a_bad_template_is_refused() {
    let elsewhere = workload("default", json!({"deployment": {}}));
    let error = member_namespace(&elsewhere, &tenant().spec).unwrap_err();
    assert_eq!(
        error.to_string(),
        "metadata.namespace \"default\" is not one of tenant health's namespaces (minsa-prod, minsa-staging); a Workload lives in its tenant's <shortCode>-<environment> namespace"
    );
    let bad = workload("minsa-prod", json!({"deployment": {"template": "nginx"}}));
    assert!(matches!(
        member_objects(&bad, "minsa-prod"),
        Err(MemberObjectError::NotAnObject { .. })
    ));
}
