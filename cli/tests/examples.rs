//! `soberana evaluate` on the national scenario in `examples/`: residency holds for every
//! workload, and every rejection of a foreign site cites jurisdiction and the legal basis.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

const SOBERANA: &str = env!("CARGO_BIN_EXE_soberana");

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// The objects of one kind in the examples, by name.
fn objects(kind: &str) -> BTreeMap<String, Value> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|extension| extension != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for document in serde_norway::Deserializer::from_str(&text) {
            let object = Value::deserialize(document).unwrap();
            if object["kind"] == kind {
                found.insert(
                    object["metadata"]["name"].as_str().unwrap().to_owned(),
                    object,
                );
            }
        }
    }
    found
}

fn decisions() -> (Option<i32>, Vec<Value>) {
    let output = Command::new(SOBERANA)
        .args(["evaluate", "-o", "json", "-f"])
        .arg(examples())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.is_empty(), "the examples are valid input: {stderr}");
    (
        output.status.code(),
        serde_json::from_slice(&output.stdout).unwrap(),
    )
}

#[test]
fn every_placement_respects_the_classification_of_its_data() {
    let sites = objects("Site");
    let classifications = objects("DataClassification");
    let (code, decisions) = decisions();
    assert!(
        decisions.len() >= 25,
        "the scenario has {} workloads",
        decisions.len()
    );
    let workloads = objects("Workload");
    for decision in &decisions {
        let name = decision["workload"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap();
        let classification =
            &classifications[workloads[name]["spec"]["classification"].as_str().unwrap()]["spec"];
        for chosen in decision["chosenSites"].as_array().unwrap() {
            let site = &sites[chosen.as_str().unwrap()]["spec"];
            for (allowed, fact) in [
                ("allowedJurisdictions", "jurisdiction"),
                ("allowedSovereigntyTiers", "sovereigntyTier"),
            ] {
                let allowed = classification[allowed]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                assert!(
                    allowed.is_empty() || allowed.contains(&site[fact]),
                    "{name} placed on {chosen} with {fact} {}",
                    site[fact]
                );
            }
        }
    }
    let unplaceable = decisions
        .iter()
        .filter(|decision| decision["outcome"] == "Unplaceable")
        .count();
    assert_eq!(code, Some(if unplaceable > 0 { 1 } else { 0 }));
}

#[test]
fn restricted_workloads_stay_on_state_owned_sites_in_country_and_foreign_rejections_cite_the_law() {
    let sites = objects("Site");
    let restricted = &objects("DataClassification")["restricted"]["spec"];
    let legal_basis = restricted["legalBasis"].as_str().unwrap();
    let home: Vec<&Value> = restricted["allowedJurisdictions"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let workloads = objects("Workload");
    let (_, decisions) = decisions();
    let mut checked = 0;
    for decision in decisions.iter().filter(|decision| {
        let name = decision["workload"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap();
        workloads[name]["spec"]["classification"] == "restricted"
    }) {
        checked += 1;
        for chosen in decision["chosenSites"].as_array().unwrap() {
            let site = &sites[chosen.as_str().unwrap()]["spec"];
            assert_eq!(
                site["sovereigntyTier"], "StateOwned",
                "{} on {chosen}",
                decision["workload"]
            );
            assert!(
                home.contains(&&site["jurisdiction"]),
                "{} on {chosen}",
                decision["workload"]
            );
        }
        for rejection in decision["rejected"].as_array().unwrap() {
            let site = &sites[rejection["site"].as_str().unwrap()]["spec"];
            if home.contains(&&site["jurisdiction"]) {
                continue;
            }
            let jurisdiction = rejection["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .find(|reason| reason["code"] == "JurisdictionNotAllowed")
                .unwrap_or_else(|| {
                    panic!(
                        "{} rejected {} without a jurisdiction reason",
                        decision["workload"], rejection["site"]
                    )
                });
            let message = jurisdiction["message"].as_str().unwrap();
            assert!(message.contains(legal_basis), "{message}");
        }
    }
    assert!(
        checked >= 3,
        "the scenario has {checked} restricted workloads"
    );
}

#[test]
fn explain_breaks_the_score_down_for_an_example_workload() {
    let workloads = objects("Workload");
    let name = workloads
        .iter()
        .find(|(_, workload)| workload["spec"]["classification"] == "public")
        .map(|(name, _)| name.clone())
        .unwrap();
    let output = Command::new(SOBERANA)
        .args(["explain", &name, "-f"])
        .arg(examples())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    for criterion in ["sovereignty", "cost", "availability", "proximity"] {
        assert!(
            text.contains(&format!("    {criterion}")),
            "no {criterion} line in:\n{text}"
        );
    }
    assert!(text.contains("Eligible sites, best first"), "{text}");
}
