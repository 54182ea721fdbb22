//! How a what-if reads on a terminal: each affected workload on one row (from → to, the kind of
//! change), under it one line per changed reason (the same reason on several sites once, naming
//! them), then each tenant's lost or gained sites, then a summary line.

use std::collections::BTreeMap;
use std::fmt::Write;

use soberana_core::placement::Reason;
use soberana_core::placement::what_if::{ChangeKind, Impact, Verdict, WorkloadImpact};

use crate::offline::report::aligned;

/// The whole impact as text.
pub fn impact_table(impact: &Impact) -> String {
    let mut text = String::new();
    let changed = if impact.changed_objects.is_empty() {
        "nothing (every proposed object equals the current one)".to_owned()
    } else {
        impact.changed_objects.join(", ")
    };
    let _ = writeln!(text, "Changed: {changed}");
    let _ = writeln!(
        text,
        "Judged {} of {} workloads again; the others cannot be affected by this change.",
        impact.workloads_judged, impact.workloads_total
    );
    if !impact.workloads.is_empty() {
        text.push('\n');
        text.push_str(&workloads_table(&impact.workloads));
    }
    if !impact.tenants.is_empty() {
        text.push('\n');
        text.push_str(&tenants_table(impact));
    }
    let _ = writeln!(text, "\n{}", summary(impact));
    text
}

fn workloads_table(workloads: &[WorkloadImpact]) -> String {
    let sites = |sites: &[String]| {
        if sites.is_empty() {
            "-".to_owned()
        } else {
            sites.join(",")
        }
    };
    let rows: Vec<[String; 4]> = workloads
        .iter()
        .map(|item| {
            [
                item.workload.clone(),
                change_name(item.change).to_owned(),
                sites(&item.from),
                sites(&item.to),
            ]
        })
        .collect();
    let header = ["WORKLOAD", "CHANGE", "FROM", "TO"].map(str::to_owned);
    let widths: Vec<usize> = (0..4)
        .map(|column| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: &[String; 4]| {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        cells.join("  ").trim_end().to_owned()
    };
    let mut text = format!("{}\n", line(&header));
    for (row, item) in rows.iter().zip(workloads) {
        let _ = writeln!(text, "{}", line(row));
        for detail in details(item) {
            let _ = writeln!(text, "    {detail}");
        }
    }
    text
}

/// The changed reasons of one workload, one per line: `-` a reason lifted, `+` one added, each
/// with the sites it applies to; then why, when the workload cannot be placed or judged.
fn details(item: &WorkloadImpact) -> Vec<String> {
    let mut grouped: BTreeMap<(char, String), Vec<&str>> = BTreeMap::new();
    for change in &item.sites {
        for reason in &change.lifted {
            grouped
                .entry(('-', statement(reason)))
                .or_default()
                .push(&change.site);
        }
        for reason in &change.added {
            grouped
                .entry(('+', statement(reason)))
                .or_default()
                .push(&change.site);
        }
        if change.before == Verdict::Absent {
            grouped
                .entry(('+', "new site, eligible".to_owned()))
                .or_default()
                .push(&change.site);
        }
    }
    let mut lines: Vec<String> = grouped
        .into_iter()
        .map(|((sign, statement), sites)| format!("{sign} {statement}: {}", sites.join(", ")))
        .collect();
    if matches!(
        item.change,
        ChangeKind::Unplaceable | ChangeKind::Unjudgeable | ChangeKind::Judgeable
    ) && let Some(why) = &item.why
    {
        lines.push(format!("why: {why}"));
    }
    lines
}

/// A reason as code, facts compared and source, e.g.
/// `CertificationMissing (required TierIII; actual ISO27001) [DataClassification/internal]`.
fn statement(reason: &Reason) -> String {
    format!(
        "{} (required {}; actual {}) [{}]",
        reason.code, reason.facts.required, reason.facts.actual, reason.source
    )
}

fn tenants_table(impact: &Impact) -> String {
    let mut rows = vec![[
        "TENANT".to_owned(),
        "SITE".to_owned(),
        "WOULD BE".to_owned(),
        "WHY".to_owned(),
    ]];
    for tenant in &impact.tenants {
        for loss in &tenant.loses {
            let why = if loss.reasons.is_empty() {
                loss.why.clone()
            } else {
                loss.reasons
                    .iter()
                    .map(statement)
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            rows.push([
                tenant.tenant.clone(),
                loss.site.clone(),
                format!("{:?}", loss.fate),
                why,
            ]);
        }
        for site in &tenant.gains {
            rows.push([
                tenant.tenant.clone(),
                site.clone(),
                "Provisioned".to_owned(),
                "it qualifies for the site".to_owned(),
            ]);
        }
    }
    aligned(&rows)
}

/// One sentence: how many workloads change, by kind, and how many tenants lose sites.
pub fn summary(impact: &Impact) -> String {
    if impact.is_empty() {
        return "No workload and no tenant would be affected.".to_owned();
    }
    let kinds: Vec<String> = KINDS
        .iter()
        .filter_map(|kind| {
            let count = impact
                .workloads
                .iter()
                .filter(|item| item.change == *kind)
                .count();
            (count > 0).then(|| format!("{count} {}", change_name(*kind)))
        })
        .collect();
    let losing = impact
        .tenants
        .iter()
        .filter(|tenant| !tenant.loses.is_empty())
        .count();
    format!(
        "{} workload{} affected{}; {losing} tenant{} would lose a site.",
        impact.workloads.len(),
        if impact.workloads.len() == 1 { "" } else { "s" },
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        },
        if losing == 1 { "" } else { "s" }
    )
}

/// Every kind of change, in the order the summary counts them.
const KINDS: [ChangeKind; 7] = [
    ChangeKind::Moves,
    ChangeKind::Stranded,
    ChangeKind::Unplaceable,
    ChangeKind::Placeable,
    ChangeKind::EligibilityChanges,
    ChangeKind::Unjudgeable,
    ChangeKind::Judgeable,
];

fn change_name(change: ChangeKind) -> &'static str {
    match change {
        ChangeKind::Moves => "Moves",
        ChangeKind::Stranded => "Stranded",
        ChangeKind::Unplaceable => "Unplaceable",
        ChangeKind::Placeable => "Placeable",
        ChangeKind::EligibilityChanges => "EligibilityChanges",
        ChangeKind::Unjudgeable => "Unjudgeable",
        ChangeKind::Judgeable => "Judgeable",
    }
}
