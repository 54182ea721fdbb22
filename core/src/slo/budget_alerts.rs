//! The burn-rate alerts of one objective: a page and a ticket, each firing when either of its two
//! window pairs burns the error budget faster than its factor (see [`super::burn_rate::POLICY`]).

use super::burn_rate::{Severity, windows_of};
use super::objective::{Objective, Subject};
use super::rule_file::{AlertingRule, Annotations, Rule};
use super::runbook::runbook_url;
use super::window::error_ratio_record;

/// The alert of each kind of objective; its runbook is the section of the same name.
pub fn budget_alert_name(objective: &Objective) -> &'static str {
    match objective.subject {
        Subject::Site { .. } => "SoberanaSiteErrorBudgetBurn",
        Subject::Workload { .. } => "SoberanaWorkloadErrorBudgetBurn",
        Subject::ApiAvailability => "SoberanaAPIErrorBudgetBurn",
        Subject::ApiLatency { .. } => "SoberanaAPILatencyBudgetBurn",
    }
}

/// The page and the ticket of `objective`.
pub fn budget_alerts(objective: &Objective, runbook_base: &str) -> Vec<Rule> {
    [Severity::Page, Severity::Ticket]
        .into_iter()
        .map(|severity| Rule::Alerting(budget_alert(objective, severity, runbook_base)))
        .collect()
}

fn budget_alert(objective: &Objective, severity: Severity, runbook_base: &str) -> AlertingRule {
    let selector = objective.selector();
    let budget = objective.error_budget();
    let conditions: Vec<String> = windows_of(severity)
        .map(|window| {
            let threshold = format!("({} * {budget})", window.factor);
            format!(
                "(\n  ({long}{selector} > {threshold})\n  and\n  ({short}{selector} > {threshold})\n)",
                long = error_ratio_record(window.long),
                short = error_ratio_record(window.short),
            )
        })
        .collect();
    let name = budget_alert_name(objective);
    let mut labels = objective.labels();
    labels.insert("severity".to_owned(), severity.label().to_owned());
    AlertingRule {
        alert: name.to_owned(),
        expr: conditions.join("\nor\n"),
        for_duration: None,
        labels,
        annotations: Annotations {
            summary: summary(objective, severity),
            description: format!(
                "{} The objective is {} over 30 days; the error ratio is {{{{ $value | humanizePercentage }}}} over the long window, burning the error budget {} times faster than it allows.",
                subject_sentence(objective),
                objective.target,
                windows_of(severity)
                    .map(|window| format!(
                        "{}× ({} and {})",
                        window.factor, window.long, window.short
                    ))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            runbook_url: runbook_url(runbook_base, name),
        },
    }
}

fn summary(objective: &Objective, severity: Severity) -> String {
    let pace = match severity {
        Severity::Page => "fast",
        Severity::Ticket => "slowly",
    };
    match &objective.subject {
        Subject::Site { .. } => {
            format!("Site {{{{ $labels.site }}}} is burning its availability error budget {pace}")
        }
        Subject::Workload { .. } => format!(
            "Workload {{{{ $labels.workload }}}} of tenant {{{{ $labels.tenant }}}} is burning its availability error budget {pace}"
        ),
        Subject::ApiAvailability => {
            format!("The Soberana API is burning its availability error budget {pace}")
        }
        Subject::ApiLatency { .. } => {
            format!("The Soberana API is burning its latency error budget {pace}")
        }
    }
}

fn subject_sentence(objective: &Objective) -> String {
    match &objective.subject {
        Subject::Site { .. } => "The site's API server fails the operator's probes.".to_owned(),
        Subject::Workload { .. } => {
            "The workload is not fully available on any of its sites.".to_owned()
        }
        Subject::ApiAvailability => "API calls end in server errors.".to_owned(),
        Subject::ApiLatency { threshold } => {
            format!("API calls take longer than {threshold} s.")
        }
    }
}
