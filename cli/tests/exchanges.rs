//! `soberana exchanges` offline on the national scenario in `examples/`: each agreement judged as
//! the operator would (workloads placed by the engine first), the residency refusal with its
//! sites, a tenant's view, a judgement at another time, and bad input refused naming what is
//! wrong.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const SOBERANA: &str = env!("CARGO_BIN_EXE_soberana");

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn exchanges(extra: &[&str]) -> Output {
    Command::new(SOBERANA)
        .arg("exchanges")
        .args(extra)
        .arg("-f")
        .arg(examples())
        .output()
        .unwrap()
}

fn judged(extra: &[&str]) -> (Option<i32>, Vec<Value>) {
    let mut arguments = vec!["-o", "json"];
    arguments.extend_from_slice(extra);
    let output = exchanges(&arguments);
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        output.status.code(),
        serde_json::from_slice(&output.stdout).unwrap(),
    )
}

fn states(rows: &[Value]) -> Vec<(String, String)> {
    rows.iter()
        .map(|row| {
            (
                row["name"].as_str().unwrap().to_owned(),
                row["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_examples_have_two_active_agreements_and_one_refused_for_residency() {
    let (code, rows) = judged(&["--at", "2026-12-01T00:00:00Z"]);
    assert_eq!(code, Some(1), "a refused agreement fails the gate");
    assert_eq!(
        states(&rows),
        [
            (
                "hacienda-factura-para-aduanas".to_owned(),
                "Active".to_owned()
            ),
            (
                "registro-civil-padron-para-ccss".to_owned(),
                "Active".to_owned()
            ),
            (
                "registro-civil-padron-para-minsa".to_owned(),
                "Refused".to_owned()
            ),
        ]
    );
    // Customs' clearance service and the invoicing service both run on state-dc-primary.
    assert_eq!(rows[0]["openOn"], serde_json::json!(["state-dc-primary"]));
    assert_eq!(rows[0]["ports"], serde_json::json!(["8443/TCP"]));
    // The ministry's tenancy reaches the foreign regions and the national cloud: each is named.
    let reasons: Vec<&str> = rows[2]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reason| reason.as_str().unwrap())
        .collect();
    for site in [
        "national-cloud",
        "public-cloud-br",
        "public-cloud-cr",
        "public-cloud-us",
    ] {
        assert!(
            reasons
                .iter()
                .any(|reason| reason.starts_with(&format!("site {site} "))),
            "{site}: {reasons:?}"
        );
    }
    assert!(
        !reasons
            .iter()
            .any(|reason| reason.starts_with("site state-dc"))
    );
    assert!(
        reasons
            .last()
            .unwrap()
            .starts_with("classification restricted's legal basis: Ley N.º 8968")
    );
    assert!(rows[2]["openOn"].as_array().unwrap().is_empty());
}

#[test]
fn the_table_lists_each_agreement_then_why_the_refused_one_is_refused() {
    let output = exchanges(&["--at", "2026-12-01T00:00:00Z"]);
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("AGREEMENT"), "{text}");
    assert!(
        lines[2].starts_with("registro-civil-padron-para-ccss")
            && lines[2].contains("civil-registry/prod/padron-electoral")
            && lines[2].contains("social-security-fund (prod)")
            && lines[2].ends_with("state-dc-alternate, state-dc-primary"),
        "{text}"
    );
    assert!(
        text.contains("\nregistro-civil-padron-para-minsa (Refused):\n  - site "),
        "{text}"
    );
}

#[test]
fn a_tenant_sees_its_own_agreements_and_expiry_is_judged_at_the_given_time() {
    let (code, rows) = judged(&[
        "--tenant",
        "customs-service",
        "--at",
        "2026-12-01T00:00:00Z",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(
        states(&rows),
        [(
            "hacienda-factura-para-aduanas".to_owned(),
            "Active".to_owned()
        )]
    );
    let (_, later) = judged(&[
        "--tenant",
        "customs-service",
        "--at",
        "2028-01-01T00:00:00Z",
    ]);
    assert_eq!(
        states(&later),
        [(
            "hacienda-factura-para-aduanas".to_owned(),
            "Expired".to_owned()
        )]
    );
    assert_eq!(
        later[0]["reasons"][0],
        "expired at 2027-12-31T23:59:59Z (validity.notAfter)"
    );
    let (_, early) = judged(&[
        "--tenant",
        "customs-service",
        "--at",
        "2026-02-01T00:00:00Z",
    ]);
    assert_eq!(
        states(&early),
        [(
            "hacienda-factura-para-aduanas".to_owned(),
            "Pending".to_owned()
        )]
    );
}

#[test]
fn bad_input_is_refused_naming_the_flag_or_the_field() {
    let output = exchanges(&["--at", "next tuesday"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--at \"next tuesday\" is not an RFC 3339 time"),
        "{stderr}"
    );

    let stderr = on_changed_examples(
        "typo",
        ("tenant: customs-service", "tenant: customs-servise"),
    );
    assert!(
        stderr.contains("DataExchange hacienda-factura-para-aduanas: spec.consumer.tenant: no Tenant named \"customs-servise\" is defined"),
        "{stderr}"
    );
    let stderr = on_changed_examples(
        "backwards",
        (
            "notAfter: \"2027-12-31T23:59:59Z\"",
            "notAfter: \"2025-12-31T23:59:59Z\"",
        ),
    );
    assert!(
        stderr.contains("DataExchange hacienda-factura-para-aduanas: spec.validity: Invalid value: validity.notBefore must be before validity.notAfter"),
        "the API server's own rule, offline: {stderr}"
    );
}

/// `soberana exchanges` on a copy of the examples whose agreements have `change` made; its
/// standard error, after checking it exits 2.
fn on_changed_examples(label: &str, change: (&str, &str)) -> String {
    let directory =
        std::env::temp_dir().join(format!("soberana-exchanges-{label}-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    for entry in std::fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|extension| extension == "yaml")
        {
            let text = std::fs::read_to_string(&path).unwrap();
            let text = if path.ends_with("exchanges.yaml") {
                text.replace(change.0, change.1)
            } else {
                text
            };
            std::fs::write(directory.join(path.file_name().unwrap()), text).unwrap();
        }
    }
    let output = Command::new(SOBERANA)
        .args(["exchanges", "-f"])
        .arg(&directory)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&directory).unwrap();
    assert_eq!(output.status.code(), Some(2));
    String::from_utf8_lossy(&output.stderr).into_owned()
}
