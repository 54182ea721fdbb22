//! Offline = server: `soberana evaluate` refuses exactly the objects of the shared fixture
//! (`e2e/fixtures/crd-verdicts.yaml`) that the API server refuses, with the server's errors —
//! the e2e suite (`e2e/tests/crds.rs`) checks the same fixture against a real API server.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::path::Path;

use soberana_e2e::crd_verdicts::{cases, offline_errors, sorted};

const SOBERANA: &str = env!("CARGO_BIN_EXE_soberana");

#[test]
fn evaluate_gives_every_object_the_api_servers_verdict_and_errors() {
    let cases = cases().unwrap();
    assert!(
        cases.iter().filter(|case| case.errors.is_empty()).count() >= 5
            && cases.iter().filter(|case| !case.errors.is_empty()).count() >= 20,
        "the fixture lost its cases"
    );
    let mut disagreements = Vec::new();
    for case in &cases {
        let offline = sorted(offline_errors(Path::new(SOBERANA), case, &cases).unwrap());
        let server = sorted(case.errors.clone());
        if offline != server {
            disagreements.push(format!(
                "{} ({}):\n  server:  {server:#?}\n  offline: {offline:#?}",
                case.case,
                case.label()
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
