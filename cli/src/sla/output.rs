//! An SLA report as a table for people, JSON for tools, or CSV for spreadsheets.

use clap::ValueEnum;
use serde::Serialize;

use super::budget::ReportRow;
use super::window::ReportWindow;
use crate::offline::report::aligned;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    from: String,
    to: String,
    prometheus: &'a str,
    rows: &'a [ReportRow],
}

/// The report in `format`.
pub fn render(
    rows: &[ReportRow],
    window: &ReportWindow,
    prometheus: &str,
    format: ReportFormat,
) -> Result<String, String> {
    match format {
        ReportFormat::Table => Ok(table(rows, window, prometheus)),
        ReportFormat::Json => {
            let document = Document {
                from: window.from.to_string(),
                to: window.to.to_string(),
                prometheus,
                rows,
            };
            serde_json::to_string_pretty(&document)
                .map(|text| text + "\n")
                .map_err(|error| format!("rendering JSON: {error}"))
        }
        ReportFormat::Csv => Ok(csv(rows)),
    }
}

fn table(rows: &[ReportRow], window: &ReportWindow, prometheus: &str) -> String {
    let mut lines = vec![
        [
            "KIND",
            "TENANT",
            "WORKLOAD",
            "SITE",
            "AVAILABILITY",
            "TARGET",
            "DOWNTIME",
            "BUDGET SPENT",
            "BUDGET LEFT",
        ]
        .map(str::to_owned),
    ];
    for row in rows {
        let subject = &row.subject;
        let site = if subject.kind == "workload" && subject.site.is_empty() {
            "(all)".to_owned()
        } else {
            subject.site.clone()
        };
        lines.push([
            subject.kind.to_owned(),
            dash(&subject.tenant),
            dash(&subject.workload),
            site,
            percent(Some(row.availability)),
            percent(row.target),
            format!("{:.1} min", row.downtime_minutes),
            row.budget_spent_percent
                .map_or_else(|| "-".to_owned(), |spent| format!("{spent:.1} %")),
            match (row.budget_remaining_percent(), row.budget_remaining_minutes) {
                (Some(left), Some(minutes)) => format!("{left:.1} % ({minutes:.1} min)"),
                _ => "-".to_owned(),
            },
        ]);
    }
    format!(
        "Availability from {} to {} ({:.1} days), from Prometheus at {prometheus}\n\n{}",
        window.from,
        window.to,
        window.seconds() as f64 / 86_400.0,
        aligned(&lines)
    )
}

fn csv(rows: &[ReportRow]) -> String {
    let mut text = String::from(
        "kind,tenant,workload,site,availability,target,downtime_minutes,budget_minutes,budget_spent_percent,budget_remaining_minutes\n",
    );
    let number = |value: Option<f64>| value.map_or_else(String::new, |value| format!("{value:.6}"));
    for row in rows {
        let subject = &row.subject;
        let fields = [
            subject.kind.to_owned(),
            field(&subject.tenant),
            field(&subject.workload),
            field(&subject.site),
            number(Some(row.availability)),
            number(row.target),
            number(Some(row.downtime_minutes)),
            number(row.budget_minutes),
            number(row.budget_spent_percent),
            number(row.budget_remaining_minutes),
        ];
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    text
}

/// A CSV field, quoted when it holds a separator or a quote.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text.to_owned()
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{:.4} %", value * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::budget::Subject;

    fn rows() -> Vec<ReportRow> {
        let day = 86_400;
        vec![
            ReportRow::new(
                Subject {
                    kind: "site",
                    tenant: String::new(),
                    workload: String::new(),
                    site: "state-dc".to_owned(),
                },
                0.9995,
                Some(0.999),
                day,
            ),
            ReportRow::new(
                Subject {
                    kind: "workload",
                    tenant: "hacienda".to_owned(),
                    workload: "hacienda-prod/portal".to_owned(),
                    site: String::new(),
                },
                1.0,
                None,
                day,
            ),
        ]
    }

    fn window() -> ReportWindow {
        ReportWindow {
            from: "2026-11-01T00:00:00Z"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
            to: "2026-11-02T00:00:00Z"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        }
    }

    #[test]
    fn the_table_shows_each_subject_against_its_target_with_the_budget() {
        let text = table(&rows(), &window(), "http://prometheus:9090");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Availability from 2026-11-01T00:00:00Z to 2026-11-02T00:00:00Z (1.0 days), from Prometheus at http://prometheus:9090"
        );
        assert!(lines[3].starts_with("site"), "{text}");
        for expected in [
            "state-dc",
            "99.9500 %",
            "99.9000 %",
            "0.7 min",
            "50.0 %",
            "50.0 % (0.7 min)",
        ] {
            assert!(lines[3].contains(expected), "{expected} in {}", lines[3]);
        }
        assert!(
            lines[4].contains("hacienda-prod/portal") && lines[4].contains("(all)"),
            "{text}"
        );
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_row_with_empty_fields_for_no_target() {
        let text = csv(&rows());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[2],
            "workload,hacienda,hacienda-prod/portal,,1.000000,,0.000000,,,"
        );
        assert_eq!(field("a,b"), "\"a,b\"");
    }
}
