//! `soberana evaluate` and `soberana explain` as a CI pipeline runs them: exit codes, output
//! formats, and errors that point at the file, document and field.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const SOBERANA: &str = env!("CARGO_BIN_EXE_soberana");

const POLICY: &str = r#"
apiVersion: soberana.io/v1alpha1
kind: DataClassification
metadata: {name: restricted}
spec:
  rank: 30
  legalBasis: "Ley 8968, art. 9"
  allowedJurisdictions: [CR]
  allowedSovereigntyTiers: [StateOwned]
---
apiVersion: soberana.io/v1alpha1
kind: DataClassification
metadata: {name: public}
spec: {rank: 0, legalBasis: "Ley 9097"}
---
apiVersion: soberana.io/v1alpha1
kind: Site
metadata: {name: state-dc}
spec:
  provider: Estado
  sovereigntyTier: StateOwned
  jurisdiction: CR
  offeredAvailability: "99.95"
  costIndex: 70
  capacity: {cpuMillicores: 64000, memoryMebibytes: 262144}
---
apiVersion: soberana.io/v1alpha1
kind: Site
metadata: {name: public-cloud-us}
spec:
  provider: Hyperscaler
  sovereigntyTier: ForeignPublic
  jurisdiction: US
  offeredAvailability: "99.99"
  costIndex: 20
  capacity: {cpuMillicores: 640000, memoryMebibytes: 2621440}
---
apiVersion: soberana.io/v1alpha1
kind: Tenant
metadata: {name: ministry-of-health}
spec:
  displayName: Ministerio de Salud
  shortCode: minsa
  highestClassification: restricted
  environments: [{name: prod}]
  quota: {cpuMillicores: 8000, memoryMebibytes: 16384}
"#;

fn workload(name: &str, classification: &str, extra: &str) -> String {
    format!(
        "---\napiVersion: soberana.io/v1alpha1\nkind: Workload\nmetadata: {{name: {name}, namespace: minsa-prod}}\nspec:\n  tenant: ministry-of-health\n  classification: {classification}\n  replicas: 2\n  resources: {{cpuMillicores: 500, memoryMebibytes: 512}}\n{extra}"
    )
}

fn soberana(arguments: &[&str], directory: &Path) -> Output {
    Command::new(SOBERANA)
        .args(arguments)
        .current_dir(directory)
        .output()
        .unwrap()
}

fn scenario(files: &[(&str, &str)]) -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("policy.yaml"), POLICY).unwrap();
    for (name, text) in files {
        std::fs::write(directory.path().join(name), text).unwrap();
    }
    directory
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn all_placeable_exits_zero_with_a_table() {
    let directory = scenario(&[("workloads.yaml", &workload("expediente", "restricted", ""))]);
    let output = soberana(&["evaluate", "-f", "."], directory.path());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let table = stdout(&output);
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("WORKLOAD") && header.contains("OUTCOME"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|line| line.starts_with("minsa-prod/expediente"))
        .unwrap();
    assert!(
        row.contains("Placed") && row.contains("state-dc") && !row.contains("public-cloud-us"),
        "{row}"
    );
}

#[test]
fn an_unplaceable_workload_exits_one_and_says_why() {
    let spread = "  spread: {minimumSites: 2}\n";
    let directory = scenario(&[("workloads.yaml", &workload("archivo", "restricted", spread))]);
    let output = soberana(
        &["evaluate", "-f", "policy.yaml", "workloads.yaml"],
        directory.path(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("minsa-prod/archivo: NotEnoughSitesForSpread"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn json_and_yaml_outputs_hold_every_reason() {
    let directory = scenario(&[("workloads.yaml", &workload("expediente", "restricted", ""))]);
    let json = soberana(&["evaluate", "-f", ".", "-o", "json"], directory.path());
    let decisions: Value = serde_json::from_slice(&json.stdout).unwrap();
    let rejection = &decisions[0]["rejected"][0];
    assert_eq!(rejection["site"], "public-cloud-us");
    let codes: Vec<&str> = rejection["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reason| reason["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["JurisdictionNotAllowed", "SovereigntyTierNotAllowed"]
    );
    assert!(
        rejection["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Ley 8968, art. 9")
    );

    let yaml = soberana(&["evaluate", "-f", ".", "-o", "yaml"], directory.path());
    let from_yaml: Value = serde_norway::from_slice(&yaml.stdout).unwrap();
    assert_eq!(from_yaml, decisions);
}

#[test]
fn explain_shows_scores_and_every_rejection() {
    let directory = scenario(&[("workloads.yaml", &workload("citas", "public", ""))]);
    let output = soberana(&["explain", "citas", "-f", "."], directory.path());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains(
            "Workload minsa-prod/citas (tenant ministry-of-health, classification public)"
        ),
        "{text}"
    );
    assert!(
        text.contains("sovereignty   weight  40 x score 100 =  4000   StateOwned"),
        "{text}"
    );
    assert!(
        text.contains("cost          weight  20 x score  80 =  1600   cost index 20"),
        "{text}"
    );
    assert!(text.contains("Rejected sites (0)"), "{text}");

    let missing = soberana(&["explain", "nothing", "-f", "."], directory.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("no Workload named \"nothing\""),
        "{}",
        stderr(&missing)
    );
}

/// Bad input: exit 2, and an error naming the file, the document and the field.
fn rejected_input(text: &str) -> String {
    let directory = scenario(&[("bad.yaml", text)]);
    let output = soberana(&["evaluate", "-f", "."], directory.path());
    assert_eq!(
        output.status.code(),
        Some(2),
        "stdout: {}\nstderr: {}",
        stdout(&output),
        stderr(&output)
    );
    stderr(&output)
}

#[test]
fn malformed_yaml_names_the_file_and_document() {
    let error = rejected_input(&format!(
        "{}---\nkind: [unclosed\n",
        workload("a", "public", "")
    ));
    assert!(
        error.contains("bad.yaml, document 2: malformed YAML"),
        "{error}"
    );
}

#[test]
fn an_unknown_kind_is_refused() {
    let error = rejected_input("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
    assert!(
        error.contains("bad.yaml, document 1: kind: unknown kind \"ConfigMap\""),
        "{error}"
    );
}

#[test]
fn a_template_over_the_size_limit_is_refused_as_the_operator_refuses_it() {
    let padding = "x".repeat(70 * 1024);
    let error = rejected_input(&workload(
        "a",
        "public",
        &format!(
            "  template:\n    deployment:\n      template:\n        spec:\n          containers: [{{name: app, image: i, env: [{{name: PADDING, value: {padding}}}]}}]\n"
        ),
    ));
    assert!(
        error.contains("bad.yaml, document 1: Workload a: spec.template is")
            && error.contains("at most 65536 bytes"),
        "{error}"
    );
}

#[test]
fn an_unknown_field_is_refused_with_its_path() {
    let error = rejected_input(&workload("a", "public", "  tolerashuns: [maintenance]\n"));
    assert!(
        error.contains("bad.yaml, document 1: Workload a: spec.tolerashuns: unknown field"),
        "{error}"
    );
}

#[test]
fn a_field_of_the_wrong_type_is_refused_with_its_path() {
    let error = rejected_input(
        &workload(
            "a",
            "public",
            "  resources: {cpuMillicores: lots, memoryMebibytes: 1}\n",
        )
        .replace(
            "  resources: {cpuMillicores: 500, memoryMebibytes: 512}\n",
            "",
        ),
    );
    assert!(
        error.contains(
            r#"bad.yaml, document 1: Workload a: spec.resources.cpuMillicores: Invalid value: "string": spec.resources.cpuMillicores in body must be of type integer: "string""#
        ),
        "{error}"
    );
}

const SITE_IN: &str = "apiVersion: soberana.io/v1alpha1\nkind: Site\nmetadata: {name: el-salvador}\nspec:\n  provider: Estado\n  sovereigntyTier: StateOwned\n  offeredAvailability: \"99.95\"\n  capacity: {cpuMillicores: 64000, memoryMebibytes: 262144}\n  jurisdiction: ";

#[test]
fn a_site_in_a_jurisdiction_the_crd_refuses_is_refused_as_the_api_server_refuses_it() {
    for jurisdiction in ["sv", "XXX"] {
        let error = rejected_input(&format!("{SITE_IN}{jurisdiction}\n"));
        assert!(
            error.contains(&format!(
                "bad.yaml, document 1: Site el-salvador: spec.jurisdiction: Invalid value: \"{jurisdiction}\": must be an ISO 3166-1 alpha-2 country code in capitals, e.g. 'CR', 'DO', 'UY'"
            )),
            "{error}"
        );
    }
}

#[test]
fn a_spread_whose_minimum_exceeds_its_maximum_is_refused_not_unplaceable() {
    let spread = "  spread: {minimumSites: 3, maximumSites: 1}\n";
    let error = rejected_input(&workload("archivo", "public", spread));
    assert!(
        error.contains("bad.yaml, document 1: Workload archivo: spec.spread: Invalid value: spread.minimumSites must not exceed spread.maximumSites"),
        "{error}"
    );
}

#[test]
fn every_error_of_every_document_is_reported() {
    let text = format!(
        "{}---\n{SITE_IN}sv\n  costIndex: 101\n  zones: [a]\n  taints: [{{key: k}}, {{key: k}}]\n",
        workload(
            "a",
            "public",
            "  replicas: 0\n  spread: {minimumSites: 3, maximumSites: 1}\n"
        )
        .replace("  replicas: 2\n", "")
    );
    let error = rejected_input(&text);
    let lines: Vec<&str> = error.lines().collect();
    for expected in [
        "bad.yaml, document 1: Workload a: spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
        "bad.yaml, document 1: Workload a: spec.spread: Invalid value: spread.minimumSites must not exceed spread.maximumSites",
        "bad.yaml, document 2: Site el-salvador: spec.costIndex: Invalid value: 101: spec.costIndex in body should be less than or equal to 100",
        r#"bad.yaml, document 2: Site el-salvador: spec.taints[1]: Duplicate value: {"key":"k"}"#,
        r#"bad.yaml, document 2: Site el-salvador: spec.jurisdiction: Invalid value: "sv": must be an ISO 3166-1 alpha-2 country code in capitals, e.g. 'CR', 'DO', 'UY'"#,
    ] {
        assert!(
            lines.iter().any(|line| line.ends_with(expected)),
            "{expected}\nnot in:\n{error}"
        );
    }
    assert_eq!(lines.len(), 5, "{error}");
}

#[test]
fn odd_documents_are_refused_without_panicking() {
    let odd = [
        "[1, 2]\n",
        "apiVersion: soberana.io/v1alpha1\nkind: Site\nmetadata: {name: x}\nspec: [1]\n",
        "apiVersion: soberana.io/v1alpha1\nkind: Site\nmetadata: {name: x}\n",
        "apiVersion: soberana.io/v1alpha1\nkind: Tenant\nmetadata: {name: x}\nspec: {environments: [null, 7, {name: null}], quota: {cpuMillicores: 1e400}}\n",
        "apiVersion: soberana.io/v1alpha1\nkind: Workload\nmetadata: {name: Ü, namespace: -}\nspec: {tenant: {}, replicas: 18446744073709551616, spread: {minimumSites: -1, maximumSites: 1.5}, migrationSource: {site: 5}}\n",
        "apiVersion: soberana.io/v1alpha1\nkind: PlacementRule\nmetadata: {name: x}\nspec: {priority: 1e300, constraints: {spread: null}}\n",
    ];
    for text in odd {
        let error = rejected_input(text);
        assert!(error.starts_with("error: "), "{text}: {error}");
        assert!(!error.contains("panicked"), "{text}: {error}");
    }
}

#[test]
fn a_missing_reference_is_refused_with_the_referring_field() {
    let error = rejected_input(&workload("a", "secret", ""));
    assert!(
        error.contains("bad.yaml, document 1: Workload a: spec.classification: no DataClassification named \"secret\" is defined"),
        "{error}"
    );
}

#[test]
fn a_missing_path_and_an_empty_directory_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let output = soberana(&["evaluate", "-f", "nowhere.yaml"], directory.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("nowhere.yaml: no such file or directory"),
        "{}",
        stderr(&output)
    );
    let output = soberana(&["evaluate", "-f", "."], directory.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no .yaml, .yml or .json files"),
        "{}",
        stderr(&output)
    );
}
