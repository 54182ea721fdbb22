//! What Prometheus would refuse in a rule file, found before the file is written. Prometheus
//! refuses a rule file whole: one repeated group name or one malformed rule would silence every
//! institution's alerts, so a file that fails here is never applied (the operator keeps the last
//! good one and says why). The checks follow Prometheus' own (`rulefmt`), a little stricter
//! where that is simpler: names in the classic metric and label name alphabets.

use std::collections::{BTreeMap, BTreeSet};

use super::rule_file::{Rule, RuleFile};
use super::window::PromDuration;

/// One reason Prometheus would refuse the file (or, for a repeated series, fail every evaluation
/// of it), naming the group and rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleFileError {
    #[error("a rule group has no name")]
    UnnamedGroup,
    #[error("rule group {0:?} is repeated")]
    RepeatedGroup(String),
    #[error("group {group:?}: {rule:?} is not a valid {what} name")]
    InvalidName {
        group: String,
        rule: String,
        what: &'static str,
    },
    #[error("group {group:?}: rule {rule:?} has an empty expression")]
    EmptyExpression { group: String, rule: String },
    #[error("group {group:?}: rule {rule:?} has an invalid label name {label:?}")]
    InvalidLabel {
        group: String,
        rule: String,
        label: String,
    },
    #[error("group {group:?}: alert {rule:?} has an invalid duration {value:?}")]
    InvalidDuration {
        group: String,
        rule: String,
        value: String,
    },
    #[error(
        "group {group:?}: recording rule {record:?} with labels {labels} repeats one of group {first:?}"
    )]
    RepeatedSeries {
        group: String,
        first: String,
        record: String,
        labels: String,
    },
}

/// Every reason Prometheus would refuse `file`, in file order; empty when it would load it.
pub fn validate(file: &RuleFile) -> Vec<RuleFileError> {
    let mut errors = Vec::new();
    let mut groups = BTreeSet::new();
    // (record, labels) → the group that records it first.
    let mut series: BTreeMap<(String, String), String> = BTreeMap::new();
    for group in &file.groups {
        if group.name.is_empty() {
            errors.push(RuleFileError::UnnamedGroup);
        } else if !groups.insert(group.name.as_str()) {
            errors.push(RuleFileError::RepeatedGroup(group.name.clone()));
        }
        for rule in &group.rules {
            check_rule(&group.name, rule, &mut series, &mut errors);
        }
    }
    errors
}

fn check_rule(
    group: &str,
    rule: &Rule,
    series: &mut BTreeMap<(String, String), String>,
    errors: &mut Vec<RuleFileError>,
) {
    let (name, expr, labels, what) = match rule {
        Rule::Recording(recording) => (
            &recording.record,
            &recording.expr,
            &recording.labels,
            "recording rule",
        ),
        Rule::Alerting(alert) => (&alert.alert, &alert.expr, &alert.labels, "alert"),
    };
    let valid_name = match rule {
        Rule::Recording(_) => is_metric_name(name),
        Rule::Alerting(_) => is_label_name(name),
    };
    if !valid_name {
        errors.push(RuleFileError::InvalidName {
            group: group.to_owned(),
            rule: name.clone(),
            what,
        });
    }
    if expr.trim().is_empty() {
        errors.push(RuleFileError::EmptyExpression {
            group: group.to_owned(),
            rule: name.clone(),
        });
    }
    for label in labels.keys() {
        if !is_label_name(label) || label == "__name__" {
            errors.push(RuleFileError::InvalidLabel {
                group: group.to_owned(),
                rule: name.clone(),
                label: label.clone(),
            });
        }
    }
    match rule {
        Rule::Alerting(alert) => {
            let duration = alert.for_duration.as_deref();
            if let Some(value) = duration.filter(|value| PromDuration::parse(value).is_none()) {
                errors.push(RuleFileError::InvalidDuration {
                    group: group.to_owned(),
                    rule: name.clone(),
                    value: value.to_owned(),
                });
            }
        }
        Rule::Recording(recording) => {
            let labels = super::objective::selector(&recording.labels);
            let key = (recording.record.clone(), labels.clone());
            if let Some(first) = series.get(&key) {
                errors.push(RuleFileError::RepeatedSeries {
                    group: group.to_owned(),
                    first: first.clone(),
                    record: recording.record.clone(),
                    labels,
                });
            } else {
                series.insert(key, group.to_owned());
            }
        }
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn is_metric_name(name: &str) -> bool {
    name_in(name, |character| character == '_' || character == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn is_label_name(name: &str) -> bool {
    name_in(name, |character| character == '_')
}

fn name_in(name: &str, also: impl Fn(char) -> bool) -> bool {
    let mut characters = name.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || also(first))
        && characters.all(|character| character.is_ascii_alphanumeric() || also(character))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::slo::rule_file::{AlertingRule, Annotations, RecordingRule, RuleGroup};

    fn recording(record: &str, labels: &[(&str, &str)]) -> Rule {
        Rule::Recording(RecordingRule {
            record: record.to_owned(),
            expr: "vector(1)".to_owned(),
            labels: labels
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        })
    }

    fn alert(name: &str, expr: &str, for_duration: Option<&str>) -> Rule {
        Rule::Alerting(AlertingRule {
            alert: name.to_owned(),
            expr: expr.to_owned(),
            for_duration: for_duration.map(ToOwned::to_owned),
            labels: BTreeMap::new(),
            annotations: Annotations {
                summary: String::new(),
                description: String::new(),
                runbook_url: String::new(),
            },
        })
    }

    fn file(groups: Vec<(&str, Vec<Rule>)>) -> RuleFile {
        RuleFile {
            groups: groups
                .into_iter()
                .map(|(name, rules)| RuleGroup {
                    name: name.to_owned(),
                    rules,
                })
                .collect(),
        }
    }

    #[test]
    fn a_file_prometheus_loads_passes() {
        let good = file(vec![
            (
                "soberana-slo-workload-a-prod/w",
                vec![
                    recording("soberana:slo_objective:ratio", &[("workload", "a-prod/w")]),
                    alert(
                        "SoberanaWorkloadErrorBudgetBurn",
                        "vector(1) > 0",
                        Some("5m"),
                    ),
                ],
            ),
            (
                "soberana-slo-workload-b-prod/w",
                vec![recording(
                    "soberana:slo_objective:ratio",
                    &[("workload", "b-prod/w")],
                )],
            ),
        ]);
        assert_eq!(validate(&good), []);
    }

    #[test]
    fn a_repeated_group_name_is_refused_naming_it() {
        let repeated = file(vec![
            ("soberana-slo-workload-a-x-prod-w-1", vec![]),
            ("soberana-slo-workload-a-x-prod-w-1", vec![]),
            ("", vec![]),
        ]);
        let messages: Vec<String> = validate(&repeated)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            [
                "rule group \"soberana-slo-workload-a-x-prod-w-1\" is repeated",
                "a rule group has no name",
            ]
        );
    }

    #[test]
    fn malformed_rules_are_refused_naming_the_group_the_rule_and_the_field() {
        let malformed = file(vec![(
            "g",
            vec![
                recording("soberana:slo-objective", &[("ok", "v")]),
                recording("soberana:ok", &[("bad-label", "v"), ("__name__", "x")]),
                alert("Has Space", "", Some("5 minutes")),
            ],
        )]);
        let messages: Vec<String> = validate(&malformed)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            [
                "group \"g\": \"soberana:slo-objective\" is not a valid recording rule name",
                "group \"g\": rule \"soberana:ok\" has an invalid label name \"__name__\"",
                "group \"g\": rule \"soberana:ok\" has an invalid label name \"bad-label\"",
                "group \"g\": \"Has Space\" is not a valid alert name",
                "group \"g\": rule \"Has Space\" has an empty expression",
                "group \"g\": alert \"Has Space\" has an invalid duration \"5 minutes\"",
            ]
        );
    }

    #[test]
    fn the_same_series_recorded_twice_is_refused() {
        let twice = file(vec![
            ("one", vec![recording("r:x", &[("workload", "a/b")])]),
            ("two", vec![recording("r:x", &[("workload", "a/b")])]),
        ]);
        assert_eq!(
            validate(&twice),
            [RuleFileError::RepeatedSeries {
                group: "two".to_owned(),
                first: "one".to_owned(),
                record: "r:x".to_owned(),
                labels: "{workload=\"a/b\"}".to_owned(),
            }]
        );
    }
}
