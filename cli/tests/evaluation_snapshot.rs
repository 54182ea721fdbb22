//! `soberana evaluate -o json` over `examples/` matches the reviewed snapshot in
//! `cli/tests/snapshots/evaluate-examples.json`, byte for byte: a change to any decision, score or
//! reason sentence shows up in review. (The snapshot was written by the engine before it was
//! compiled, so the compiled engine explains exactly as the plain one did.) Regenerate with
//! `make policies` after an intended change.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::path::Path;
use std::process::Command;

const SOBERANA: &str = env!("CARGO_BIN_EXE_soberana");

#[test]
fn evaluating_the_examples_explains_every_decision_as_the_snapshot_does() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(SOBERANA)
        .args(["evaluate", "-o", "json", "-f"])
        .arg(manifest.join("../examples"))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "the examples hold an unplaceable workload: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let snapshot = manifest.join("tests/snapshots/evaluate-examples.json");
    let expected = std::fs::read_to_string(&snapshot).unwrap();
    assert!(
        String::from_utf8_lossy(&output.stdout) == expected,
        "`soberana evaluate -o json -f examples/` differs from {}; review the change and run `make policies`",
        snapshot.display()
    );
}
