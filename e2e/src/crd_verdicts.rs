//! The shared fixture `e2e/fixtures/crd-verdicts.yaml`: Soberana objects and the API server's
//! verdict on each, read by the e2e suite (which checks the verdicts against a real API server)
//! and by the CLI's tests (which check that `soberana evaluate` gives the same ones offline).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;
use serde_json::Value;

use crate::soberana_manifests::repository_root;

/// One object and the errors the API server answers to its creation (none: it is accepted).
#[derive(Clone, Debug, Deserialize)]
pub struct Case {
    /// What the object is, for failure messages.
    pub case: String,
    /// The server's status causes, each `field: message` (just the message for causes about the
    /// object as a whole).
    #[serde(default)]
    pub errors: Vec<String>,
    pub object: Value,
}

impl Case {
    /// `Kind name`, as `soberana` names the object in its errors.
    pub fn label(&self) -> String {
        format!(
            "{} {}",
            self.object["kind"].as_str().unwrap_or_default(),
            self.object["metadata"]["name"].as_str().unwrap_or_default()
        )
    }

    fn same_object(&self, other: &Self) -> bool {
        self.object["kind"] == other.object["kind"]
            && self.object["metadata"]["name"] == other.object["metadata"]["name"]
    }
}

/// The fixture's path.
pub fn fixture() -> PathBuf {
    repository_root().join("e2e/fixtures/crd-verdicts.yaml")
}

/// Every case of the fixture.
pub fn cases() -> Result<Vec<Case>> {
    let path = fixture();
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_norway::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The errors `soberana evaluate` (the binary at `soberana`) reports for `case`'s object, each
/// `field: message` as in the fixture; empty when it accepts it. The object is evaluated in a
/// file of its own beside the fixture's accepted objects (but one of its own kind and name), so
/// its references resolve; an error about anything else fails.
pub fn offline_errors(soberana: &Path, case: &Case, cases: &[Case]) -> Result<Vec<String>> {
    let directory = std::env::temp_dir().join(format!(
        "soberana-crd-verdict-{}-{}",
        std::process::id(),
        case.label()
            .replace(|character: char| !character.is_ascii_alphanumeric(), "-")
    ));
    std::fs::create_dir_all(&directory)?;
    let context = cases
        .iter()
        .filter(|other| other.errors.is_empty() && !other.same_object(case))
        .map(|other| serde_norway::to_string(&other.object))
        .collect::<Result<Vec<_>, _>>()?;
    std::fs::write(directory.join("context.yaml"), context.join("---\n"))?;
    std::fs::write(
        directory.join("case.yaml"),
        serde_norway::to_string(&case.object)?,
    )?;
    let output = Command::new(soberana)
        .args(["evaluate", "-f", "."])
        .current_dir(&directory)
        .output()
        .with_context(|| format!("running {}", soberana.display()));
    std::fs::remove_dir_all(&directory)?;
    let output = output?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let prefix = format!("error: ./case.yaml, document 1: {}: ", case.label());
    let errors: Vec<String> = stderr
        .lines()
        .map(|line| {
            line.strip_prefix(&prefix)
                .map(ToOwned::to_owned)
                .with_context(|| format!("{}: an error about something else:\n{stderr}", case.case))
        })
        .collect::<Result<_>>()?;
    match output.status.code() {
        Some(0 | 1) => ensure!(
            errors.is_empty(),
            "{}: exit 0/1 with errors:\n{stderr}",
            case.case
        ),
        Some(2) => ensure!(!errors.is_empty(), "{}: exit 2 without errors", case.case),
        other => bail!(
            "{}: soberana evaluate exited {other:?}:\n{stderr}",
            case.case
        ),
    }
    Ok(errors)
}

/// `errors`, sorted: the API server's order of errors follows Go's map order, so only the set
/// is compared.
pub fn sorted(mut errors: Vec<String>) -> Vec<String> {
    errors.sort();
    errors
}
