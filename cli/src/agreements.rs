//! `soberana exchanges`: an institution's interoperability agreements as one row each, the same
//! whether judged offline from manifests or read live through the API, printed as a table, JSON
//! or YAML.

use serde::Serialize;

use crate::offline::report::aligned;

/// One agreement and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgreementRow {
    pub name: String,
    /// `tenant/environment/workload`.
    pub provider: String,
    pub ports: Vec<String>,
    /// `tenant (environments)`, with the Workloads when the agreement names some.
    pub consumer: String,
    pub classification: String,
    pub purpose: String,
    pub legal_basis: String,
    /// RFC 3339.
    pub not_after: String,
    /// `Pending`, `Active`, `Refused`, `Expired`, `Revoked`, or `-` when not judged yet.
    pub state: String,
    pub open_on: Vec<String>,
    /// `provider-site ← consumer-site, …` for paths that would cross sites (not opened).
    pub cross_site: Vec<String>,
    pub reasons: Vec<String>,
}

/// The consumer column: `tenant (env, env)`, then `: workload, workload` when narrowed.
pub fn consumer_label(tenant: &str, environments: &[String], workloads: &[String]) -> String {
    let mut label = format!("{tenant} ({})", environments.join(", "));
    if !workloads.is_empty() {
        label.push_str(&format!(": {}", workloads.join(", ")));
    }
    label
}

/// A table: one line per agreement, then each one's reasons indented under it.
pub fn table(rows: &[AgreementRow]) -> String {
    let mut cells = vec![[
        "AGREEMENT".to_owned(),
        "PROVIDER".to_owned(),
        "CONSUMER".to_owned(),
        "CLASSIFICATION".to_owned(),
        "STATE".to_owned(),
        "EXPIRES".to_owned(),
        "OPEN ON".to_owned(),
    ]];
    for row in rows {
        cells.push([
            row.name.clone(),
            row.provider.clone(),
            row.consumer.clone(),
            row.classification.clone(),
            row.state.clone(),
            row.not_after.clone(),
            if row.open_on.is_empty() {
                "-".to_owned()
            } else {
                row.open_on.join(", ")
            },
        ]);
    }
    let mut text = aligned(&cells);
    for row in rows
        .iter()
        .filter(|row| !row.reasons.is_empty() || !row.cross_site.is_empty())
    {
        text.push_str(&format!("\n{} ({}):\n", row.name, row.state));
        for reason in &row.reasons {
            text.push_str(&format!("  - {reason}\n"));
        }
        for path in &row.cross_site {
            text.push_str(&format!(
                "  - needs the site-to-site path {path} (not opened)\n"
            ));
        }
    }
    text
}
