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
