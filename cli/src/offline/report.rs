//! How decisions read on a terminal: a table of all workloads, and the full reasoning for one.

use std::fmt::Write;

use soberana_core::placement::{Decision, Outcome};

use crate::offline::evaluate::Evaluated;

/// One row per workload: where it goes, or that it cannot go anywhere.
pub fn decisions_table(decisions: &[Evaluated]) -> String {
    let mut rows = vec![[
        "WORKLOAD".to_owned(),
        "TENANT".to_owned(),
        "CLASSIFICATION".to_owned(),
        "OUTCOME".to_owned(),
        "SITES".to_owned(),
        "ELIGIBLE".to_owned(),
        "REJECTED".to_owned(),
    ]];
    for Evaluated {
        decision,
        tenant,
        classification,
    } in decisions
    {
        let sites = if decision.chosen_sites.is_empty() {
            decision
                .unplaceable
                .as_ref()
                .map_or_else(String::new, |why| why.code.clone())
        } else {
            decision.chosen_sites.join(",")
        };
        rows.push([
            decision.workload.clone(),
            tenant.clone(),
            classification.clone(),
            outcome(decision.outcome).to_owned(),
            sites,
            decision.eligible.len().to_string(),
            decision.rejected.len().to_string(),
        ]);
    }
    aligned(&rows)
}

/// Rows as columns padded to their widest cell, two spaces apart, no trailing blanks.
pub fn aligned<const COLUMNS: usize>(rows: &[[String; COLUMNS]]) -> String {
    let widths: Vec<usize> = (0..COLUMNS)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut table = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(table, "{}", cells.join("  ").trim_end());
    }
    table
}

/// The whole reasoning for one decision: spread, rules, every score and every rejection.
pub fn explanation(evaluated: &Evaluated) -> String {
    let Evaluated {
        decision,
        tenant,
        classification,
    } = evaluated;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Workload {} (tenant {tenant}, classification {classification})",
        decision.workload
    );
    match (&decision.outcome, &decision.unplaceable) {
        (Outcome::Placed, _) => {
            let _ = writeln!(
                text,
                "Outcome: Placed on {}",
                decision.chosen_sites.join(", ")
            );
        }
        (Outcome::Unplaceable, Some(why)) => {
            let _ = writeln!(text, "Outcome: Unplaceable ({}): {}", why.code, why.message);
        }
        (Outcome::Unplaceable, None) => {
            let _ = writeln!(text, "Outcome: Unplaceable");
        }
    }
    let required = &decision.required_sites;
    let maximum = if required.maximum == u32::MAX {
        "any".to_owned()
    } else {
        required.maximum.to_string()
    };
    let _ = writeln!(
        text,
        "Needs: {} to {maximum} sites, distinct {}",
        required.minimum,
        required.across.to_lowercase()
    );
    let rules = if decision.matched_rules.is_empty() {
        "none".to_owned()
    } else {
        decision.matched_rules.join(", ")
    };
    let _ = writeln!(text, "Placement rules: {rules}");

    write_eligible(&mut text, decision);
    write_rejected(&mut text, decision);
    text
}

/// The eligible sites, best first, each with its weighted criteria.
fn write_eligible(text: &mut String, decision: &Decision) {
    let _ = writeln!(
        *text,
        "\nEligible sites, best first ({}):",
        decision.eligible.len()
    );
    if decision.eligible.is_empty() {
        let _ = writeln!(*text, "  none");
    }
    for score in &decision.eligible {
        let chosen = if decision.chosen_sites.contains(&score.site) {
            "  [chosen]"
        } else {
            ""
        };
        let _ = writeln!(*text, "  {}  total {}{chosen}", score.site, score.total);
        for criterion in &score.criteria {
            let _ = writeln!(
                *text,
                "    {:<13} weight {:>3} x score {:>3} = {:>5}   {}",
                criterion.criterion,
                criterion.weight,
                criterion.score,
                criterion.weighted,
                criterion.basis
            );
        }
    }
}

/// The rejected sites, each with every reason.
fn write_rejected(text: &mut String, decision: &Decision) {
    let _ = writeln!(*text, "\nRejected sites ({}):", decision.rejected.len());
    if decision.rejected.is_empty() {
        let _ = writeln!(*text, "  none");
    }
    for rejection in &decision.rejected {
        let _ = writeln!(*text, "  {}", rejection.site);
        for reason in &rejection.reasons {
            let _ = writeln!(
                *text,
                "    {} (required {}; actual {}) [{}]\n      {}",
                reason.code,
                reason.facts.required,
                reason.facts.actual,
                reason.source,
                reason.message
            );
        }
    }
}

/// The reasons unplaceable workloads could not be placed, one line each.
pub fn unplaceable_summary(decisions: &[Evaluated]) -> String {
    let mut text = String::new();
    for Evaluated { decision, .. } in decisions {
        if let Some(why) = &decision.unplaceable {
            let _ = writeln!(text, "{}: {}: {}", decision.workload, why.code, why.message);
        }
    }
    text
}

fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Placed => "Placed",
        Outcome::Unplaceable => "Unplaceable",
    }
}
