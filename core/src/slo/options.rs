//! What the generator may be told: which rules, how long conditions must hold before alerting,
//! the API's objectives and where runbooks are. The defaults are the production ones; tests
//! shorten the `for:` durations.

use super::objective::ApiObjectives;
use super::runbook::DEFAULT_RUNBOOK_BASE;
use super::window::PromDuration;

/// Which rules a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Both below: a complete rule file.
    All,
    /// What needs no objects: the API's objectives and the Soberana-wide alerts (the chart's
    /// PrometheusRule).
    Platform,
    /// What the objects define: one objective per Site and per Workload with a target (what
    /// the operator writes to the cluster).
    Objects,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub scope: Scope,
    /// How long a site's probes must fail before it is unreachable.
    pub site_unreachable_for: PromDuration,
    /// How long a residency, stranded or unplaceable condition must last before it alerts.
    pub condition_for: PromDuration,
    /// How long a key series may be missing before it alerts.
    pub absent_for: PromDuration,
    pub api: ApiObjectives,
    /// The operations guide; each alert's runbook is a section of it.
    pub runbook_base: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            scope: Scope::All,
            site_unreachable_for: PromDuration::minutes(5),
            condition_for: PromDuration::minutes(5),
            absent_for: PromDuration::minutes(10),
            api: ApiObjectives::default(),
            runbook_base: DEFAULT_RUNBOOK_BASE.to_owned(),
        }
    }
}
