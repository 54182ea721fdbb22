//! `soberana policies` for every example site matches the reviewed snapshot in
//! `cli/tests/snapshots/`: a change to the compiled admission policies shows up in review.
//! Regenerate with `make policies` after an intended change.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::path::{Path, PathBuf};
use std::process::Command;

const SOBERANA: &str = env!("CARGO_BIN_EXE_soberana");

fn manifest_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

#[test]
fn compiled_policies_of_every_example_site_match_their_snapshots() {
    let snapshots = manifest_directory().join("tests/snapshots");
    let mut checked = 0;
    for entry in std::fs::read_dir(&snapshots).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(site) = file
            .strip_prefix("residency-")
            .and_then(|rest| rest.strip_suffix(".yaml"))
        else {
            continue;
        };
        let output = Command::new(SOBERANA)
            .args(["policies", "--site", site, "-f"])
            .arg(manifest_directory().join("../examples"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let expected = std::fs::read_to_string(&path).unwrap();
        assert!(
            String::from_utf8_lossy(&output.stdout) == expected,
            "the compiled policies of site {site} differ from {}; review the change and run `make policies`",
            path.display()
        );
        checked += 1;
    }
    assert_eq!(checked, 6, "one snapshot per example site");
}

#[test]
fn an_unknown_site_is_a_clear_error() {
    let output = Command::new(SOBERANA)
        .args(["policies", "--site", "atlantis", "-f"])
        .arg(manifest_directory().join("../examples"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--site \"atlantis\": no such Site"),
        "{stderr}"
    );
    assert!(
        stderr.contains("state-dc-primary"),
        "the known sites are listed: {stderr}"
    );
}
