//! SLO rules generated from the objects: which objectives the objects carry, the recording rules
//! of each, the burn-rate alerts with the SRE workbook's thresholds, and the Soberana-wide alerts.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use serde_json::{Value, json};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;
use soberana_core::slo::objective::{Objective, Subject, object_objectives};
use soberana_core::slo::options::{Options, Scope};
use soberana_core::slo::rule_file::{Rule, RuleFile};
use soberana_core::slo::validation::validate;
use soberana_core::slo::window::PromDuration;

fn site(name: &str, offered: &str) -> Site {
    serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Site", "metadata": {"name": name},
        "spec": {
            "provider": "state", "sovereigntyTier": "StateOwned", "jurisdiction": "CR",
            "offeredAvailability": offered, "certifications": [], "keyCustody": ["StateHeldHsm"],
            "encryptionInTransit": true, "backup": {"copies": 2, "jurisdiction": "CR"},
            "capacity": {"cpuMillicores": 1000, "memoryMebibytes": 1000, "storageGibibytes": 10}
        }
    }))
    .unwrap()
}

fn classification(name: &str, minimum: Option<&str>) -> DataClassification {
    let mut spec = json!({"rank": 10, "legalBasis": "Ley 8968"});
    if let Some(minimum) = minimum {
        spec["minimumAvailability"] = Value::from(minimum);
    }
    serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification",
        "metadata": {"name": name}, "spec": spec
    }))
    .unwrap()
}

fn tenant(name: &str, short_code: &str, environment: &str) -> Tenant {
    serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
        "spec": {
            "displayName": name, "shortCode": short_code,
            "owners": [{"kind": "Group", "name": "admins"}],
            "highestClassification": "restricted",
            "environments": [{"name": environment}],
            "quota": {"cpuMillicores": 1000, "memoryMebibytes": 1000, "storageGibibytes": 10, "pods": 10}
        }
    }))
    .unwrap()
}

fn workload(name: &str, classification: &str, target: Option<&str>) -> Workload {
    tenant_workload("hacienda", "hacienda-prod", name, classification, target)
}

fn tenant_workload(
    tenant: &str,
    namespace: &str,
    name: &str,
    classification: &str,
    target: Option<&str>,
) -> Workload {
    let mut spec = json!({
        "tenant": tenant, "classification": classification, "replicas": 2,
        "resources": {"cpuMillicores": 100, "memoryMebibytes": 100}
    });
    if let Some(target) = target {
        spec["availabilityTarget"] = Value::from(target);
    }
    serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
        "metadata": {"name": name, "namespace": namespace}, "spec": spec
    }))
    .unwrap()
}

fn estate() -> Vec<Objective> {
    object_objectives(
        &[site("state-dc", "99.9")],
        &[
            workload("tax-portal", "public", Some("99.95")),
            workload("ledger", "restricted", None),
            workload("batch", "public", None),
        ],
        &[
            classification("public", None),
            classification("restricted", Some("99.5")),
        ],
        &[tenant("hacienda", "hacienda", "prod")],
    )
    .unwrap()
}

fn generated(options: &Options) -> RuleFile {
    soberana_core::slo::rule_file(&estate(), options)
}

#[test]
fn objectives_come_from_the_sites_the_workloads_and_their_classifications() {
    let objectives: Vec<(Subject, String)> = estate()
        .into_iter()
        .map(|objective| (objective.subject, objective.target.to_string()))
        .collect();
    let workload = |name: &str| Subject::Workload {
        tenant: "hacienda".to_owned(),
        workload: format!("hacienda-prod/{name}"),
    };
    assert_eq!(
        objectives,
        [
            (
                Subject::Site {
                    site: "state-dc".to_owned()
                },
                "99.9%".to_owned()
            ),
            // No target of its own: its classification's minimum.
            (workload("ledger"), "99.5%".to_owned()),
            (workload("tax-portal"), "99.95%".to_owned()),
        ],
        "a workload with no target and none from its classification has no objective"
    );
}

#[test]
fn an_invalid_target_is_refused_naming_the_object_and_field() {
    let errors = object_objectives(
        &[site("state-dc", "99.9.9")],
        &[workload("ledger", "restricted", None)],
        &[classification("restricted", Some("101"))],
        &[tenant("hacienda", "hacienda", "prod")],
    )
    .unwrap_err();
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "Site state-dc: spec.offeredAvailability \"99.9.9\" is not a percentage between 0 and 100 with up to 4 decimals",
            "DataClassification restricted: spec.minimumAvailability \"101\" is not a percentage between 0 and 100 with up to 4 decimals",
        ]
    );
}

#[test]
fn every_objective_records_its_target_and_error_ratio_over_every_window() {
    let file = generated(&Options::default());
    let site_group = file
        .groups
        .iter()
        .find(|group| group.name == "soberana-slo-site-state-dc")
        .unwrap();
    let records: Vec<(&str, &str)> = site_group
        .rules
        .iter()
        .filter_map(|rule| match rule {
            Rule::Recording(recording) => {
                Some((recording.record.as_str(), recording.expr.as_str()))
            }
            Rule::Alerting(_) => None,
        })
        .collect();
    let names: Vec<&str> = records.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "soberana:slo_objective:ratio",
            "soberana:slo_error:ratio_rate5m",
            "soberana:slo_error:ratio_rate30m",
            "soberana:slo_error:ratio_rate1h",
            "soberana:slo_error:ratio_rate2h",
            "soberana:slo_error:ratio_rate6h",
            "soberana:slo_error:ratio_rate1d",
            "soberana:slo_error:ratio_rate3d",
            "soberana:slo_error:ratio_rate30d",
        ]
    );
    assert_eq!(records[0].1, "vector(0.999)");
    assert_eq!(
        records[1].1,
        "(sum(rate(soberana_site_probes_total{site=\"state-dc\",result=\"failure\"}[5m])) or vector(0))\n/\nsum(rate(soberana_site_probes_total{site=\"state-dc\"}[5m]))"
    );
    assert_eq!(
        records[8].1,
        "avg_over_time(soberana:slo_error:ratio_rate5m{site=\"state-dc\",slo=\"site\"}[30d])"
    );
}

#[test]
fn burn_rate_alerts_follow_the_sre_workbook() {
    let file = generated(&Options::default());
    let site_alerts: Vec<_> = file
        .alerts()
        .filter(|alert| alert.alert == "SoberanaSiteErrorBudgetBurn")
        .collect();
    assert_eq!(site_alerts.len(), 2);
    let page = site_alerts[0];
    assert_eq!(page.labels["severity"], "page");
    assert_eq!(page.labels["site"], "state-dc");
    let selector = "{site=\"state-dc\",slo=\"site\"}";
    for (long, short, factor) in [("1h", "5m", "14.4"), ("6h", "30m", "6")] {
        let condition = format!(
            "(soberana:slo_error:ratio_rate{long}{selector} > ({factor} * 0.001))\n  and\n  (soberana:slo_error:ratio_rate{short}{selector} > ({factor} * 0.001))"
        );
        assert!(
            page.expr.contains(&condition),
            "{condition} in {}",
            page.expr
        );
    }
    let ticket = site_alerts[1];
    assert_eq!(ticket.labels["severity"], "ticket");
    for (long, short, factor) in [("1d", "2h", "3"), ("3d", "6h", "1")] {
        let condition =
            format!("(soberana:slo_error:ratio_rate{long}{selector} > ({factor} * 0.001))");
        assert!(
            ticket.expr.contains(&condition),
            "{condition} in {}",
            ticket.expr
        );
        assert!(
            ticket
                .expr
                .contains(&format!("ratio_rate{short}{selector}"))
        );
    }
}

#[test]
fn every_alert_says_what_happened_and_where_its_runbook_is() {
    let file = generated(&Options::default());
    let mut names: Vec<&str> = file.alerts().map(|alert| alert.alert.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names,
        [
            "SoberanaAPIErrorBudgetBurn",
            "SoberanaAPILatencyBudgetBurn",
            "SoberanaAPIMetricsAbsent",
            "SoberanaExchangeExpiringSoon",
            "SoberanaOperatorMetricsAbsent",
            "SoberanaResidencyPolicyNotInForce",
            "SoberanaResidencyViolation",
            "SoberanaSiteErrorBudgetBurn",
            "SoberanaSiteProbesAbsent",
            "SoberanaSiteUnreachable",
            "SoberanaWorkloadErrorBudgetBurn",
            "SoberanaWorkloadStranded",
            "SoberanaWorkloadUnplaceable",
        ]
    );
    for alert in file.alerts() {
        assert!(!alert.annotations.summary.is_empty(), "{}", alert.alert);
        assert!(!alert.annotations.description.is_empty(), "{}", alert.alert);
        assert_eq!(
            alert.annotations.runbook_url,
            format!(
                "https://github.com/soberana/soberana/blob/main/docs/operations.md#{}",
                alert.alert.to_lowercase()
            )
        );
        assert!(alert.labels.contains_key("severity"), "{}", alert.alert);
    }
}

#[test]
fn the_scope_splits_what_the_objects_define_from_what_they_do_not() {
    let platform = generated(&Options {
        scope: Scope::Platform,
        ..Options::default()
    });
    let platform_groups: Vec<&str> = platform
        .groups
        .iter()
        .map(|group| group.name.as_str())
        .collect();
    assert_eq!(
        platform_groups,
        [
            "soberana-slo-api-availability",
            "soberana-slo-api-latency",
            "soberana-alerts"
        ]
    );
    let objects = generated(&Options {
        scope: Scope::Objects,
        ..Options::default()
    });
    let object_groups: Vec<&str> = objects
        .groups
        .iter()
        .map(|group| group.name.as_str())
        .collect();
    assert_eq!(
        object_groups,
        [
            "soberana-slo-site-state-dc",
            "soberana-slo-workload-hacienda-prod/ledger",
            "soberana-slo-workload-hacienda-prod/tax-portal",
        ]
    );
}

#[test]
fn alert_durations_default_to_production_and_can_be_shortened() {
    let unreachable_for = |file: &RuleFile| {
        file.alerts()
            .find(|alert| alert.alert == "SoberanaSiteUnreachable")
            .and_then(|alert| alert.for_duration.clone())
    };
    assert_eq!(
        unreachable_for(&generated(&Options::default())).as_deref(),
        Some("5m")
    );
    let short = generated(&Options {
        site_unreachable_for: PromDuration::seconds(5),
        ..Options::default()
    });
    assert_eq!(unreachable_for(&short).as_deref(), Some("5s"));
}

/// Tenant `a` (namespace `x-prod`) with Workload `w-1`, and tenant `a-x` (namespace `prod-w`)
/// with Workload `1`: joined with `-`, both groups were `soberana-slo-workload-a-x-prod-w-1`,
/// and Prometheus refuses a file that repeats a group name (every institution's alerts).
#[test]
fn workloads_whose_names_ran_together_get_groups_of_their_own() {
    let objectives = object_objectives(
        &[],
        &[
            tenant_workload("a", "x-prod", "w-1", "public", Some("99.9")),
            tenant_workload("a-x", "prod-w", "1", "public", Some("99.9")),
        ],
        &[classification("public", None)],
        &[tenant("a", "x", "prod"), tenant("a-x", "prod", "w")],
    )
    .unwrap();
    let file = soberana_core::slo::rule_file(
        &objectives,
        &Options {
            scope: Scope::Objects,
            ..Options::default()
        },
    );
    let names: Vec<&str> = file
        .groups
        .iter()
        .map(|group| group.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "soberana-slo-workload-x-prod/w-1",
            "soberana-slo-workload-prod-w/1"
        ]
    );
    assert_eq!(validate(&file), []);
}

/// A Workload's `spec.tenant` is believed only when that Tenant holds the Workload's namespace:
/// one naming another institution (or a Tenant yielding its short code to an earlier one) gets
/// no objective, so it cannot speak in that institution's alerts or collide with its groups.
#[test]
fn only_workloads_whose_tenant_holds_their_namespace_have_objectives() {
    let mut earlier = tenant("hacienda", "hacienda", "prod");
    earlier.metadata.creation_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-01-01T00:00:00Z".parse().unwrap(),
        ));
    let mut later = tenant("impostor", "hacienda", "prod");
    later.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2026-06-01T00:00:00Z".parse().unwrap(),
    ));
    let objectives = object_objectives(
        &[],
        &[
            tenant_workload("hacienda", "hacienda-prod", "own", "public", Some("99.9")),
            // Another institution's name on hacienda's namespace.
            tenant_workload("mep", "hacienda-prod", "claims-mep", "public", Some("99.9")),
            // The Tenant exists, but the namespace is not one of its own.
            tenant_workload("mep", "other-prod", "elsewhere", "public", Some("99.9")),
            // The Tenant yields the short code to hacienda, created first.
            tenant_workload(
                "impostor",
                "hacienda-prod",
                "yielded",
                "public",
                Some("99.9"),
            ),
            // No such Tenant.
            tenant_workload("ghost", "ghost-prod", "nobody", "public", Some("99.9")),
        ],
        &[classification("public", None)],
        &[earlier, later, tenant("mep", "mep", "prod")],
    )
    .unwrap();
    let subjects: Vec<Subject> = objectives
        .into_iter()
        .map(|objective| objective.subject)
        .collect();
    assert_eq!(
        subjects,
        [Subject::Workload {
            tenant: "hacienda".to_owned(),
            workload: "hacienda-prod/own".to_owned(),
        }]
    );
}
