//! Availability SLOs generated from the objects: recording rules for each objective's error
//! ratio over every window, multi-window multi-burn-rate alerts (SRE workbook), and Soberana-wide
//! alerts, as one Prometheus rule file. Pure: the CLI prints it, the operator applies it.

pub mod budget_alerts;
pub mod burn_rate;
pub mod objective;
pub mod options;
pub mod platform_alerts;
pub mod recording;
pub mod rule_file;
pub mod runbook;
pub mod validation;
pub mod window;

use budget_alerts::budget_alerts;
use objective::Objective;
use options::{Options, Scope};
use platform_alerts::{platform_alerts, probes_absent};
use recording::recording_rules;
use rule_file::{RuleFile, RuleGroup};

/// The rule file for `objectives` (those of the objects, see
/// [`objective::object_objectives`]): one group per objective, so that each evaluates its
/// windows in order, plus, unless the scope is the objects only, the API's objectives and the
/// Soberana-wide alerts.
pub fn rule_file(objectives: &[Objective], options: &Options) -> RuleFile {
    let mut groups = Vec::new();
    if options.scope != Scope::Platform {
        groups.extend(objectives.iter().map(|objective| group(objective, options)));
    }
    if options.scope != Scope::Objects {
        groups.extend(
            options
                .api
                .objectives()
                .iter()
                .map(|objective| group(objective, options)),
        );
        groups.push(RuleGroup {
            name: "soberana-alerts".to_owned(),
            rules: platform_alerts(options),
        });
    }
    RuleFile { groups }
}

fn group(objective: &Objective, options: &Options) -> RuleGroup {
    let mut rules = recording_rules(objective);
    rules.extend(budget_alerts(objective, &options.runbook_base));
    rules.extend(probes_absent(objective, options));
    RuleGroup {
        name: group_name(objective),
        rules,
    }
}

/// `soberana-slo-<kind>`, then the objective's identity: `soberana-slo-site-state-dc`,
/// `soberana-slo-workload-hacienda-prod/ledger`. Distinct objectives get distinct names by
/// construction (the kinds' prefixes differ, and a site's name and a workload's
/// `namespace/name` are unique), where joining the tenant and `namespace/name` with `-` was
/// ambiguous (tenant `a` with `b-c/d` and tenant `a-b` with `c/d`): Prometheus refuses a file
/// that repeats a group name, which would silence every institution's alerts.
pub fn group_name(objective: &Objective) -> String {
    let kind = objective.kind();
    match objective.identity() {
        Some(identity) => format!("soberana-slo-{kind}-{identity}"),
        None => format!("soberana-slo-{kind}"),
    }
}
