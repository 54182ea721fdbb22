//! helm and kubeconform from `SOBERANA_TOOLS_BIN` (built from their Go modules by
//! `e2e/scripts/build-tools.sh`; `make test` passes the directory), run against the repository's
//! charts with their own Helm directories, so that a test never reads or writes the user's.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, ensure};
use soberana_e2e::soberana_manifests::repository_root;
use soberana_e2e::test_tool;

/// The Kubernetes version charts are rendered for: the harness' (the charts need ≥ 1.30).
pub const KUBE_VERSION: &str = "1.36.3";
/// The release namespace of both charts, as the e2e install uses it.
pub const NAMESPACE: &str = "soberana-system";

/// A chart of the repository: `soberana` or `soberana-member`.
pub fn chart(name: &str) -> PathBuf {
    repository_root().join("charts").join(name)
}

/// Runs helm with `arguments`; Helm's cache, configuration and data live under `home`.
pub fn helm(home: &Path, arguments: &[&str]) -> Result<Output> {
    Command::new(test_tool("helm")?)
        .args(arguments)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .context("running helm")
}

/// Runs helm and returns its standard output, failing with its standard error.
pub fn helm_ok(home: &Path, arguments: &[&str]) -> Result<String> {
    let output = helm(home, arguments)?;
    ensure!(
        output.status.success(),
        "helm {} failed ({}):\n{}{}",
        arguments.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).context("helm printed something other than UTF-8")
}

/// `helm template` of `chart` as release `chart` in the e2e namespace, with extra arguments.
pub fn template(home: &Path, chart_name: &str, extra: &[&str]) -> Result<String> {
    helm_ok(
        home,
        &template_arguments(&chart(chart_name), chart_name, extra),
    )
}

/// The same, answered as helm answered: for a rendering that must fail.
pub fn template_output(home: &Path, chart_name: &str, extra: &[&str]) -> Result<Output> {
    helm(
        home,
        &template_arguments(&chart(chart_name), chart_name, extra),
    )
}

fn template_arguments<'a>(chart: &'a Path, chart_name: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut arguments = vec![
        "template",
        chart_name,
        chart.to_str().unwrap_or_default(),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
    ];
    arguments.extend_from_slice(extra);
    arguments
}

/// The `ci/` values file that turns every option of the soberana chart on.
pub fn all_options_on() -> PathBuf {
    chart("soberana").join("ci").join("all-on-values.yaml")
}

/// The YAML documents of a rendering, parsed (empty documents dropped).
pub fn documents(rendered: &str) -> Result<Vec<serde_json::Value>> {
    let mut parsed = Vec::new();
    for document in serde_norway::Deserializer::from_str(rendered) {
        let value: serde_json::Value = serde::Deserialize::deserialize(document)
            .context("helm rendered a document that is not YAML")?;
        if !value.is_null() {
            parsed.push(value);
        }
    }
    Ok(parsed)
}

/// Runs kubeconform `-strict` over `manifests` (a file) with the schemas of `schemas` only
/// (no network), skipping `skip` kinds; fails with its report.
pub fn kubeconform(manifests: &Path, schemas: &Path, skip: &[&str]) -> Result<String> {
    let location = format!(
        "{}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
        schemas.display()
    );
    let mut command = Command::new(test_tool("kubeconform")?);
    command.args(["-strict", "-summary", "-output", "text", "-schema-location"]);
    command.arg(&location);
    if !skip.is_empty() {
        command.args(["-skip", &skip.join(",")]);
    }
    let output = command
        .arg(manifests)
        .output()
        .context("running kubeconform")?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    ensure!(
        output.status.success(),
        "kubeconform -strict refused {}:\n{report}",
        manifests.display()
    );
    Ok(report)
}
