//! The generated rules judged by Prometheus' own `promtool`: `check rules` on the rules of the
//! examples, and `test rules` with synthetic series where each alert must fire, and must not
//! (cli/tests/fixtures/slo/alerts.test.yaml).

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use soberana_e2e::soberana_manifests::repository_root;

const SOBERANA: &str = env!("CARGO_BIN_EXE_soberana");

fn promtool() -> PathBuf {
    soberana_e2e::test_tool("promtool").unwrap_or_else(|error| panic!("{error:#}"))
}

fn succeeded(what: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn generate(arguments: &[&str], into: &Path) {
    let output = Command::new(SOBERANA)
        .args(["slo", "rules"])
        .args(arguments)
        .current_dir(repository_root())
        .output()
        .unwrap();
    std::fs::write(into, succeeded("soberana slo rules", &output)).unwrap();
}

#[test]
fn promtool_accepts_the_rules_of_the_examples_and_of_the_chart() {
    let directory = tempfile::tempdir().unwrap();
    let examples = directory.path().join("examples.rules.yaml");
    generate(&["-f", "examples/"], &examples);
    let chart = repository_root().join("charts/soberana/files/prometheus-rules.yaml");
    let output = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&examples)
        .arg(&chart)
        .output()
        .unwrap();
    let report = succeeded("promtool check rules", &output);
    assert!(report.contains("SUCCESS"), "{report}");
}

#[test]
fn each_alert_fires_when_it_must_and_not_otherwise() {
    let directory = tempfile::tempdir().unwrap();
    generate(
        &["-f", "cli/tests/fixtures/slo/estate.yaml"],
        &directory.path().join("rules.yaml"),
    );
    let tests = directory.path().join("alerts.test.yaml");
    std::fs::copy(
        repository_root().join("cli/tests/fixtures/slo/alerts.test.yaml"),
        &tests,
    )
    .unwrap();
    let output = Command::new(promtool())
        .args(["test", "rules"])
        .arg(&tests)
        .current_dir(directory.path())
        .output()
        .unwrap();
    let report = succeeded("promtool test rules", &output);
    assert!(report.contains("SUCCESS"), "{report}");
}

/// Tenant `a` (namespace `x-prod`) with Workload `w-1`, and tenant `a-x` (namespace `prod-w`)
/// with Workload `1`: their groups were both `soberana-slo-workload-a-x-prod-w-1` when names
/// were joined with `-`, and promtool (like Prometheus) refuses a file that repeats a group.
#[test]
fn workloads_whose_names_ran_together_still_load_under_promtool() {
    let directory = tempfile::tempdir().unwrap();
    let tenant = |name: &str, code: &str, environment: &str| {
        format!(
            "apiVersion: soberana.io/v1alpha1\nkind: Tenant\nmetadata: {{name: {name}}}\nspec:\n  displayName: {name}\n  shortCode: {code}\n  highestClassification: public\n  environments: [{{name: {environment}}}]\n  quota: {{cpuMillicores: 8000, memoryMebibytes: 16384}}\n"
        )
    };
    let workload = |namespace: &str, name: &str, tenant: &str| {
        format!(
            "apiVersion: soberana.io/v1alpha1\nkind: Workload\nmetadata: {{name: \"{name}\", namespace: {namespace}}}\nspec:\n  tenant: {tenant}\n  classification: public\n  replicas: 1\n  resources: {{cpuMillicores: 100, memoryMebibytes: 128}}\n  availabilityTarget: \"99.9\"\n"
        )
    };
    let estate = [
        "apiVersion: soberana.io/v1alpha1\nkind: DataClassification\nmetadata: {name: public}\nspec: {rank: 0, legalBasis: \"Ley 9097\"}\n".to_owned(),
        tenant("a", "x", "prod"),
        tenant("a-x", "prod", "w"),
        workload("x-prod", "w-1", "a"),
        workload("prod-w", "1", "a-x"),
    ]
    .join("---\n");
    let manifests = directory.path().join("estate.yaml");
    std::fs::write(&manifests, estate).unwrap();
    let rules = directory.path().join("rules.yaml");
    generate(&["-f", manifests.to_str().unwrap()], &rules);
    let text = std::fs::read_to_string(&rules).unwrap();
    assert!(
        text.contains("workload: x-prod/w-1") && text.contains("workload: prod-w/1"),
        "{text}"
    );
    let output = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    let report = succeeded("promtool check rules", &output);
    assert!(report.contains("SUCCESS"), "{report}");
}
