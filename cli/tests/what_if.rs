//! `soberana what-if` as a security team runs it before a policy change: on the national scenario
//! in `examples/` with the proposals in `proposals/`, exit codes, the JSON/YAML shape, the table,
//! and errors naming the file, document and field.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const SOBERANA: &str = env!("CARGO_BIN_EXE_soberana");

fn repository(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn what_if(proposed: &Path, output: &str) -> Output {
    Command::new(SOBERANA)
        .args(["what-if", "-o", output, "-f"])
        .arg(repository("examples"))
        .arg("--proposed")
        .arg(proposed)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn public_data_kept_in_the_country_moves_the_public_services_and_holds_the_foreign_sites_pending() {
    let output = what_if(&repository("proposals/public-data-in-country.yaml"), "json");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let impact: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        impact["changedObjects"],
        serde_json::json!(["DataClassification/public"])
    );
    assert_eq!(impact["workloadsTotal"], 31);
    let affected: Vec<(String, String, String)> = impact["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let sites = |key: &str| {
                item[key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|site| site.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            (
                item["workload"].as_str().unwrap().to_owned(),
                item["change"].as_str().unwrap().to_owned(),
                format!("{} -> {}", sites("from"), sites("to")),
            )
        })
        .collect();
    let moved = |name: &str| {
        (
            name.to_owned(),
            "Moves".to_owned(),
            "public-cloud-us -> public-cloud-cr".to_owned(),
        )
    };
    assert_eq!(
        affected,
        [
            moved("biblioteca-prod/catalogo"),
            moved("biblioteca-prod/repositorio-digital"),
            moved("hacienda-prod/portal-tributario"),
            moved("ict-prod/reservas-turisticas"),
            (
                "ict-prod/turismo-portal".to_owned(),
                "Unplaceable".to_owned(),
                "public-cloud-us,public-cloud-cr -> ".to_owned()
            ),
            moved("inec-prod/datos-abiertos"),
            moved("minae-prod/monitoreo-calidad-aire"),
        ]
    );
    let added = &impact["workloads"][0]["sites"][0]["added"][0];
    assert_eq!(added["code"], "JurisdictionNotAllowed");
    assert_eq!(added["facts"]["actual"], "US");
    assert_eq!(added["source"], "DataClassification/public");

    // Every tenant on a foreign site keeps it, pending a person's confirmation; the tourism board
    // may only use public-cloud-us and public-cloud-cr.
    let tenants = impact["tenants"].as_array().unwrap();
    assert_eq!(
        tenants.len(),
        9,
        "the civil registry, the social-security fund and customs are on no foreign site"
    );
    let tourism = tenants
        .iter()
        .find(|tenant| tenant["tenant"] == "tourism-board")
        .unwrap();
    assert_eq!(tourism["loses"].as_array().unwrap().len(), 1);
    assert_eq!(tourism["loses"][0]["site"], "public-cloud-us");
    assert_eq!(tourism["loses"][0]["fate"], "RemovalPending");
    assert!(tenants.iter().all(|tenant| {
        tenant["loses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|loss| loss["fate"] == "RemovalPending")
    }));
}

#[test]
fn the_table_shows_each_workload_from_to_and_the_reasons_and_each_tenant_losing_a_site() {
    let output = what_if(
        &repository("proposals/public-data-in-country.yaml"),
        "table",
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert!(
        lines.contains(&vec![
            "biblioteca-prod/catalogo",
            "Moves",
            "public-cloud-us",
            "public-cloud-cr"
        ]),
        "{text}"
    );
    assert!(
        lines.contains(&vec![
            "ict-prod/turismo-portal",
            "Unplaceable",
            "public-cloud-us,public-cloud-cr",
            "-"
        ]),
        "{text}"
    );
    assert!(
        text.contains("    + JurisdictionNotAllowed (required one of CR; actual US) [DataClassification/public]: public-cloud-us\n"),
        "{text}"
    );
    assert!(
        lines.iter().any(|line| line.starts_with(&[
            "tourism-board",
            "public-cloud-us",
            "RemovalPending",
            "JurisdictionNotAllowed"
        ])),
        "{text}"
    );
    assert!(text.contains("Judged 7 of 31 workloads again"), "{text}");
    assert!(
        text.ends_with(
            "7 workloads affected (6 Moves, 1 Unplaceable); 9 tenants would lose a site.\n"
        ),
        "{text}"
    );
}

#[test]
fn a_change_no_site_notices_exits_0_and_yaml_has_the_json_shape() {
    let output = what_if(
        &repository("proposals/internal-requires-iso27001.yaml"),
        "table",
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("No workload and no tenant would be affected."));

    let yaml = what_if(
        &repository("proposals/internal-requires-iso27001.yaml"),
        "yaml",
    );
    let json = what_if(
        &repository("proposals/internal-requires-iso27001.yaml"),
        "json",
    );
    let from_yaml: Value = serde_norway::from_slice(&yaml.stdout).unwrap();
    let from_json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(from_yaml, from_json);
    assert_eq!(
        from_json["changedObjects"],
        serde_json::json!(["DataClassification/internal"])
    );
    assert_eq!(from_json["workloadsJudged"], 8, "the internal workloads");
    assert_eq!(from_json["workloads"], serde_json::json!([]));
}

fn proposal(text: &str) -> (tempfile::TempDir, PathBuf) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("proposal.yaml");
    std::fs::write(&path, text).unwrap();
    (directory, path)
}

#[test]
fn bad_proposals_exit_2_naming_the_file_document_and_field() {
    let cases = [
        (
            "apiVersion: soberana.io/v1alpha1\nkind: DataClassification\nmetadata: {name: internal}\nspec: {rank: 10, legalBasis: x, requiredCertificates: [ISO27001]}\n",
            "document 1: DataClassification internal: spec.requiredCertificates: unknown field",
        ),
        (
            "apiVersion: soberana.io/v1alpha1\nkind: Tenant\nmetadata: {name: tourism-board}\nspec: {displayName: T, shortCode: ict, highestClassification: secreto, environments: [{name: prod}], quota: {cpuMillicores: 1, memoryMebibytes: 1}}\n",
            "document 1: Tenant tourism-board: spec.highestClassification: no DataClassification named \"secreto\" is defined",
        ),
        (
            "---\napiVersion: soberana.io/v1alpha1\nkind: Workload\nmetadata: {name: x, namespace: ict-prod}\nspec: {tenant: tourism-board, classification: public, replicas: 1, resources: {cpuMillicores: 1, memoryMebibytes: 1}}\n",
            "document 1: Workload x: --proposed takes Sites, DataClassifications, PlacementRules and Tenants",
        ),
        (
            "apiVersion: soberana.io/v1alpha1\nkind: Site\nmetadata: {name: public-cloud-us}\nspec: {provider: p, sovereigntyTier: ForeignPublic, jurisdiction: US, offeredAvailability: \"101\", capacity: {cpuMillicores: 1, memoryMebibytes: 1}}\n",
            "document 1: Site public-cloud-us: spec.offeredAvailability: Invalid value: \"101\"",
        ),
    ];
    for (text, expected) in cases {
        let (_directory, path) = proposal(text);
        let output = what_if(&path, "table");
        let errors = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{errors}");
        assert!(
            errors.contains(&format!("{}, {expected}", path.display())),
            "expected {expected:?} in:\n{errors}"
        );
        assert!(stdout(&output).is_empty());
    }
}
