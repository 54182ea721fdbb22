//! The recording rules of one objective: its target, and its error ratio over every window.

use super::objective::{Objective, WORKLOAD_AVAILABLE};
use super::rule_file::{RecordingRule, Rule};
use super::window::{WINDOWS, error_ratio_record};

/// The recorded target of every objective, for dashboards and `soberana sla report`.
pub const OBJECTIVE_RECORD: &str = "soberana:slo_objective:ratio";

/// Target, instant availability (workloads), then the error ratios from the shortest window to
/// the period (which reads the 5-minute one).
pub fn recording_rules(objective: &Objective) -> Vec<Rule> {
    let labels = objective.labels();
    let mut rules = vec![RecordingRule {
        record: OBJECTIVE_RECORD.to_owned(),
        expr: format!(
            "vector({})",
            f64::from(objective.target.parts_per_million()) / 1_000_000.0
        ),
        labels: labels.clone(),
    }];
    if let Some(instant) = objective.instant_availability() {
        rules.push(RecordingRule {
            record: WORKLOAD_AVAILABLE.to_owned(),
            expr: instant,
            labels: labels.clone(),
        });
    }
    rules.extend(WINDOWS.iter().map(|window| RecordingRule {
        record: error_ratio_record(*window),
        expr: objective.error_ratio(*window),
        labels: labels.clone(),
    }));
    rules.into_iter().map(Rule::Recording).collect()
}
