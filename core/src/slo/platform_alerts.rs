//! Alerts that need no objective: conditions the operator's and API's gauges show directly
//! (a site unreachable, residency broken or not in force, workloads stranded or unplaceable, an
//! interoperability agreement about to expire) and
//! the absence of their metrics, which would otherwise silence every other alert.

use std::collections::BTreeMap;

use super::objective::Objective;
use super::options::Options;
use super::rule_file::{AlertingRule, Annotations, Rule};
use super::runbook::runbook_url;
use super::window::PromDuration;

/// Soberana-wide alerts, the same whatever the objects.
pub fn platform_alerts(options: &Options) -> Vec<Rule> {
    let condition = options.condition_for;
    let absent = options.absent_for;
    [
        alert("SoberanaSiteUnreachable", "soberana_site_up == 0", options.site_unreachable_for, "page",
            "Site {{ $labels.site }} is unreachable",
            "The operator's probes of site {{ $labels.site }}'s API server have failed for {{ $labels.for }}: tenants cannot be provisioned there and workloads on it fail over once their grace period ends."),
        alert("SoberanaResidencyViolation", "soberana_residency_violations > 0", condition, "page",
            "Objects of classification {{ $labels.classification }} break residency on site {{ $labels.site }}",
            "The last scan of site {{ $labels.site }} found {{ $value }} existing object(s) labelled {{ $labels.classification }} that the site may not hold (admitted before the policy, or by someone bypassing it)."),
        alert("SoberanaResidencyPolicyNotInForce", "soberana_residency_policies_enforced == 0", condition, "page",
            "Residency admission policies are not in force on site {{ $labels.site }}",
            "The compiled residency policies of site {{ $labels.site }} could not be applied or the API server does not enforce them yet: new objects there are not checked against the data classifications."),
        alert("SoberanaWorkloadStranded", "soberana_workload_stranded == 1", condition, "ticket",
            "Workload {{ $labels.workload }} of tenant {{ $labels.tenant }} is stranded",
            "The workload should leave a failed or ineligible site but no eligible site can take it."),
        alert("SoberanaWorkloadUnplaceable", "soberana_workload_unplaceable == 1", condition, "ticket",
            "Workload {{ $labels.workload }} of tenant {{ $labels.tenant }} cannot be placed",
            "No site satisfies the workload's classification, placement rules, availability target and capacity; `soberana explain` says why for each site."),
        alert("SoberanaExchangeExpiringSoon", "soberana_exchange_expiring_within_14_days == 1", condition, "ticket",
            "Agreement {{ $labels.exchange }} ({{ $labels.provider }} → {{ $labels.consumer }}) expires within 14 days",
            "The interoperability agreement is in force and its validity.notAfter is less than 14 days away; when it passes, Soberana closes the path and the consumer's calls to the provider stop. Renew it (a new notAfter, approved by both sides) or let it end on purpose."),
        alert("SoberanaOperatorMetricsAbsent", "absent(soberana_operator_build_info)", absent, "page",
            "Prometheus has no metrics from the Soberana operator",
            "No series soberana_operator_build_info has been scraped: the operator is down or not scraped, and every site, residency and workload alert is blind."),
        alert("SoberanaAPIMetricsAbsent", "absent(soberana_api_build_info)", absent, "page",
            "Prometheus has no metrics from the Soberana API",
            "No series soberana_api_build_info has been scraped: the API is down or not scraped, and its SLO alerts are blind."),
    ]
    .into_iter()
    .map(|alert| Rule::Alerting(alert.with_runbook(&options.runbook_base)))
    .collect()
}

/// Per site: its probes must be seen, or its availability objective cannot be judged.
pub fn probes_absent(objective: &Objective, options: &Options) -> Option<Rule> {
    let site = objective.labels().remove("site")?;
    let quoted = serde_json::to_string(&site).unwrap_or_default();
    let mut rule = alert(
        "SoberanaSiteProbesAbsent",
        "",
        options.absent_for,
        "ticket",
        "",
        "",
    );
    rule.expr = format!("absent(soberana_site_probes_total{{site={quoted}}})");
    rule.labels.insert("site".to_owned(), site.clone());
    rule.annotations.summary = format!("No probe results for site {site}");
    rule.annotations.description = format!(
        "Prometheus has no soberana_site_probes_total for site {site}: the operator does not probe it (is the Site deleted, or the operator not leading?), so its availability cannot be measured."
    );
    Some(Rule::Alerting(rule.with_runbook(&options.runbook_base)))
}

fn alert(
    name: &str,
    expr: &str,
    for_duration: PromDuration,
    severity: &str,
    summary: &str,
    description: &str,
) -> AlertingRule {
    AlertingRule {
        alert: name.to_owned(),
        expr: expr.to_owned(),
        for_duration: Some(for_duration.to_string()),
        labels: BTreeMap::from([("severity".to_owned(), severity.to_owned())]),
        annotations: Annotations {
            summary: summary.to_owned(),
            description: description.replace("{{ $labels.for }}", &for_duration.to_string()),
            runbook_url: String::new(),
        },
    }
}

trait WithRunbook {
    fn with_runbook(self, base: &str) -> Self;
}

impl WithRunbook for AlertingRule {
    fn with_runbook(mut self, base: &str) -> Self {
        self.annotations.runbook_url = runbook_url(base, &self.alert);
        self
    }
}
