//! What an SLA report asks Prometheus, and how the answers become rows: per site (the
//! operator's probes), per workload and site (the rollout gauges) and per workload overall (the
//! `soberana slo rules` recording of "fully available on at least one site").

use std::collections::BTreeMap;

use soberana_core::slo::objective::WORKLOAD_AVAILABLE;

use super::budget::{ReportRow, Subject};
use super::prometheus::{Prometheus, Sample};
use super::window::ReportWindow;

/// The rows of the report for `window`, sorted sites first; an error when Prometheus cannot
/// answer or has no Soberana series in the window.
pub async fn report_rows(
    prometheus: &Prometheus,
    window: &ReportWindow,
) -> Result<(Vec<ReportRow>, Vec<String>), String> {
    let range = format!("{}s", window.seconds());
    let at = window.to.as_second();
    let ask = |promql: String| async move { prometheus.query(&promql, at).await };
    let probes = format!("soberana_site_probes_total[{range}]");
    let sites = ask(format!(
        "(sum by (site) (increase(soberana_site_probes_total{{result=\"success\"}}[{range}])) or 0 * sum by (site) (increase({probes})))\n/ sum by (site) (increase({probes}))"
    ))
    .await?;
    let site_targets = ask(format!(
        "max by (site) (last_over_time(soberana_site_offered_availability_ratio[{range}]))"
    ))
    .await?;
    let per_site = ask(format!(
        "avg by (tenant, workload, site) (avg_over_time(soberana_workload_available[{range}]))"
    ))
    .await?;
    let overall = ask(format!(
        "avg by (tenant, workload) (avg_over_time({WORKLOAD_AVAILABLE}[{range}]))"
    ))
    .await?;
    let workload_targets = ask(format!(
        "max by (tenant, workload) (last_over_time(soberana_workload_availability_target_ratio[{range}]))"
    ))
    .await?;
    if sites.is_empty() && per_site.is_empty() {
        return Err(format!(
            "Prometheus has no soberana_site_probes_total or soberana_workload_available between {} and {}: is it scraping the Soberana operator?",
            window.from, window.to
        ));
    }
    let mut notes = Vec::new();
    if overall.is_empty() && !per_site.is_empty() {
        notes.push(format!("no {WORKLOAD_AVAILABLE} in the window: load the rules of `soberana slo rules` into Prometheus for each workload's availability over all its sites"));
    }
    let site_target = by_labels(&site_targets, &["site"]);
    let workload_target = by_labels(&workload_targets, &["tenant", "workload"]);
    let seconds = window.seconds();
    let mut rows: Vec<ReportRow> = Vec::new();
    for sample in &sites {
        let subject = subject("site", &sample.labels);
        let target = site_target.get(&vec![subject.site.clone()]).copied();
        rows.push(ReportRow::new(subject, sample.value, target, seconds));
    }
    for sample in overall.iter().chain(&per_site) {
        let subject = subject("workload", &sample.labels);
        let target = workload_target
            .get(&vec![subject.tenant.clone(), subject.workload.clone()])
            .copied();
        rows.push(ReportRow::new(subject, sample.value, target, seconds));
    }
    rows.sort_by(|left, right| left.subject.cmp(&right.subject));
    Ok((rows, notes))
}

fn subject(kind: &'static str, labels: &BTreeMap<String, String>) -> Subject {
    let label = |name: &str| labels.get(name).cloned().unwrap_or_default();
    Subject {
        kind,
        tenant: label("tenant"),
        workload: label("workload"),
        site: label("site"),
    }
}

fn by_labels(samples: &[Sample], names: &[&str]) -> BTreeMap<Vec<String>, f64> {
    samples
        .iter()
        .map(|sample| {
            let key = names
                .iter()
                .map(|name| sample.labels.get(*name).cloned().unwrap_or_default())
                .collect();
            (key, sample.value)
        })
        .collect()
}
