//! `soberana sla report`: what an agency attaches to its monthly SLA review — availability per
//! site and per tenant workload over a window, against the target, with the error budget spent
//! and left, read from the Prometheus that scrapes Soberana.

pub mod budget;
pub mod output;
pub mod prometheus;
pub mod queries;
pub mod window;

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use k8s_openapi::jiff::Timestamp;

use output::{ReportFormat, render};
use prometheus::Prometheus;
use queries::report_rows;
use window::ReportWindow;

#[derive(Debug, Clone, Args)]
pub struct SlaReportArgs {
    /// The Prometheus that scrapes the Soberana operator (and loads `soberana slo rules`).
    #[arg(long, env = "SOBERANA_PROMETHEUS")]
    pub prometheus: String,
    /// A calendar month in UTC, as YYYY-MM (default: the last 30 days).
    #[arg(long)]
    pub month: Option<String>,
    /// Start of the window (RFC 3339); default 30 days before --to.
    #[arg(long)]
    pub from: Option<String>,
    /// End of the window (RFC 3339); default now.
    #[arg(long)]
    pub to: Option<String>,
    #[arg(short = 'o', long, value_enum, default_value_t = ReportFormat::Table)]
    pub output: ReportFormat,
}

/// Runs the report: exit 0 with the report, 1 when Prometheus cannot answer or has no Soberana
/// series, 2 on bad options.
pub fn sla_report(args: &SlaReportArgs) -> ExitCode {
    let prepared = ReportWindow::from_options(
        args.month.as_deref(),
        args.from.as_deref(),
        args.to.as_deref(),
        Timestamp::now(),
    )
    .and_then(|window| Prometheus::new(&args.prometheus).map(|client| (window, client)));
    let (window, client) = match prepared {
        Ok(prepared) => prepared,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let report = runtime
        .block_on(report_rows(&client, &window))
        .and_then(|(rows, notes)| {
            render(&rows, &window, &args.prometheus, args.output).map(|text| (text, notes))
        });
    match report {
        Ok((text, notes)) => {
            for note in notes {
                eprintln!("note: {note}");
            }
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
