//! `soberana slo rules` as an operator runs it: the rule file from manifests, the chart's
//! platform rules kept generated, errors naming what is wrong, every runbook link landing on a
//! section of docs/operations.md, and every exported metric documented there.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::collections::BTreeSet;
use std::process::{Command, Output};

use soberana_core::slo::rule_file::RuleFile;
use soberana_core::slo::runbook::heading_anchor;

use soberana_e2e::soberana_manifests::repository_root;

const SOBERANA: &str = env!("CARGO_BIN_EXE_soberana");

fn soberana(arguments: &[&str]) -> Output {
    Command::new(SOBERANA)
        .args(arguments)
        .current_dir(repository_root())
        .output()
        .unwrap()
}

fn rules(arguments: &[&str]) -> RuleFile {
    let output = soberana(arguments);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_norway::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_examples_get_an_objective_per_site_and_per_targeted_workload() {
    let file = rules(&["slo", "rules", "-f", "examples/"]);
    let sites = file
        .groups
        .iter()
        .filter(|group| group.name.starts_with("soberana-slo-site-"))
        .count();
    let workloads = file
        .groups
        .iter()
        .filter(|group| group.name.starts_with("soberana-slo-workload-"))
        .count();
    assert_eq!(sites, 6, "one per example site");
    assert!(
        workloads >= 4,
        "every example workload with a target: {workloads}"
    );
    assert!(
        file.groups
            .iter()
            .any(|group| group.name == "soberana-alerts")
    );
}

#[test]
fn the_charts_platform_rules_are_the_generated_ones() {
    let output = soberana(&["slo", "rules", "--only", "platform"]);
    assert!(output.status.success());
    let committed = std::fs::read_to_string(
        repository_root().join("charts/soberana/files/prometheus-rules.yaml"),
    )
    .unwrap_or_default();
    assert!(
        committed == String::from_utf8_lossy(&output.stdout),
        "charts/soberana/files/prometheus-rules.yaml differs from `soberana slo rules --only platform`: run `make prometheus-rules`"
    );
}

#[test]
fn bad_input_is_refused_naming_what_is_wrong() {
    let directory = tempfile::tempdir().unwrap();
    let estate =
        std::fs::read_to_string(repository_root().join("cli/tests/fixtures/slo/estate.yaml"))
            .unwrap()
            .replace(
                "offeredAvailability: \"99.9\"",
                "offeredAvailability: \"high\"",
            );
    let file = directory.path().join("estate.yaml");
    std::fs::write(&file, estate).unwrap();
    let output = soberana(&["slo", "rules", "-f", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("estate.yaml") && stderr.contains("spec.offeredAvailability"),
        "{stderr}"
    );

    let output = soberana(&["slo", "rules"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("-f/--filename is required"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = soberana(&[
        "slo",
        "rules",
        "--only",
        "platform",
        "--site-unreachable-for",
        "5 minutes",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a duration"));
}

/// The anchors of every heading in docs/operations.md.
fn operations_anchors() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repository_root().join("docs/operations.md")).unwrap();
    text.lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| heading_anchor(heading.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_runbook_url_lands_on_a_section_of_the_operations_guide() {
    let anchors = operations_anchors();
    let file = rules(&["slo", "rules", "-f", "examples/"]);
    let mut checked = 0;
    for alert in file.alerts() {
        let (document, anchor) = alert.annotations.runbook_url.split_once('#').unwrap();
        assert!(document.ends_with("/docs/operations.md"), "{}", alert.alert);
        assert!(
            anchors.contains(anchor),
            "{}: no heading in docs/operations.md has the anchor #{anchor}",
            alert.alert
        );
        checked += 1;
    }
    assert!(checked > 12);
}

/// Every metric name registered in the operator's and the API's code.
fn registered_metrics() -> BTreeSet<String> {
    let pattern = regex::Regex::new(
        r#"(?s)registry\s*\.\s*(?:counters?|gauges?|histograms|ratios)\(\s*"(soberana_[a-z_]+)""#,
    )
    .unwrap();
    let mut names = BTreeSet::new();
    let mut directories = vec![
        repository_root().join("operator/src"),
        repository_root().join("api/src"),
    ];
    while let Some(directory) = directories.pop() {
        for entry in std::fs::read_dir(directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                directories.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                names.extend(
                    pattern
                        .captures_iter(&text)
                        .map(|found| found[1].to_owned()),
                );
            }
        }
    }
    names
}

#[test]
fn every_exported_metric_is_in_the_metrics_reference() {
    let text = std::fs::read_to_string(repository_root().join("docs/operations.md")).unwrap();
    let names = registered_metrics();
    assert!(names.len() > 25, "found only {names:?}");
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| !text.contains(&format!("| `{name}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/operations.md's metrics reference: {missing:?}"
    );
}
