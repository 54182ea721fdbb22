//! The Prometheus rule file document: groups of recording and alerting rules. The same `groups`
//! are the `spec` of a `PrometheusRule` (monitoring.coreos.com/v1).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A rule file: what `promtool check rules` reads and `rule_files:` loads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

/// Rules evaluated together, in order (a recording rule may read one recorded above it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Rule {
    Recording(RecordingRule),
    Alerting(AlertingRule),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordingRule {
    pub record: String,
    pub expr: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertingRule {
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub for_duration: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub annotations: Annotations,
}

/// What a person reading the alert needs: one line, the detail, and where the runbook is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Annotations {
    pub summary: String,
    pub description: String,
    pub runbook_url: String,
}

impl RuleFile {
    /// Every alerting rule, in file order.
    pub fn alerts(&self) -> impl Iterator<Item = &AlertingRule> {
        self.groups
            .iter()
            .flat_map(|group| &group.rules)
            .filter_map(|rule| match rule {
                Rule::Alerting(alert) => Some(alert),
                Rule::Recording(_) => None,
            })
    }

    /// Every recording rule, in file order.
    pub fn recordings(&self) -> impl Iterator<Item = &RecordingRule> {
        self.groups
            .iter()
            .flat_map(|group| &group.rules)
            .filter_map(|rule| match rule {
                Rule::Recording(recording) => Some(recording),
                Rule::Alerting(_) => None,
            })
    }
}
