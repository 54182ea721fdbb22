//! Writes the CRD manifests into `crds/` and the chart's CRD templates into
//! `charts/soberana/templates/crds/`, and the agreements' approval policy into
//! `charts/soberana/files/exchange-approvals.yaml` (`make crds`), or with `--check` fails when the files differ
//! from what the Rust types generate.

use std::process::ExitCode;

use anyhow::{Context, Result};
use std::path::Path;

use soberana_operator::crd_manifests::{
    CrdManifest, approval_policy_file, chart_crds_directory, crds_directory,
    render_approval_policy, render_chart_crd_templates, render_crd_manifests,
};

fn main() -> ExitCode {
    match run(std::env::args().any(|argument| argument == "--check")) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("crdgen: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Returns whether the files are (now) up to date.
fn run(check_only: bool) -> Result<bool> {
    let manifests = render_crd_manifests().context("rendering CRDs")?;
    let templates = render_chart_crd_templates().context("rendering the chart's CRDs")?;
    let crds = write(&crds_directory(), &manifests, check_only)?;
    let chart = write(&chart_crds_directory(), &templates, check_only)?;
    let policy_path = approval_policy_file();
    let policy = write(
        policy_path.parent().unwrap_or(&policy_path),
        &[CrdManifest {
            file_name: "exchange-approvals.yaml".to_owned(),
            yaml: render_approval_policy().context("rendering the approval policy")?,
        }],
        check_only,
    )?;
    Ok(crds && chart && policy)
}

/// Writes (or checks) `manifests` in `directory`; returns whether they were up to date.
fn write(directory: &Path, manifests: &[CrdManifest], check_only: bool) -> Result<bool> {
    std::fs::create_dir_all(directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    let mut up_to_date = true;
    for manifest in manifests {
        let path = directory.join(&manifest.file_name);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == manifest.yaml {
            continue;
        }
        if check_only {
            eprintln!("crdgen: {} is out of date; run `make crds`", path.display());
            up_to_date = false;
        } else {
            std::fs::write(&path, &manifest.yaml)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("crdgen: wrote {}", path.display());
        }
    }
    Ok(up_to_date)
}
