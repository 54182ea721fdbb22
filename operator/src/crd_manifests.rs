//! The CRD manifests in `crds/`, rendered from the Rust types in `soberana-core`.

use std::path::{Path, PathBuf};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use soberana_core::resources::custom_resource_definitions;

/// One CRD manifest: its file name in `crds/` and its YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrdManifest {
    pub file_name: String,
    pub yaml: String,
}

/// Header of every generated file, so nobody edits one by hand.
const HEADER: &str =
    "# Generated from the Rust types in core/src/resources by `make crds`; do not edit.\n";

/// Renders every CRD to YAML, one file per CRD, named `<plural>.<group>.yaml`.
pub fn render_crd_manifests() -> Result<Vec<CrdManifest>, serde_norway::Error> {
    custom_resource_definitions().iter().map(render).collect()
}

fn render(definition: &CustomResourceDefinition) -> Result<CrdManifest, serde_norway::Error> {
    let name = definition.metadata.name.clone().unwrap_or_default();
    Ok(CrdManifest {
        file_name: format!("{name}.yaml"),
        yaml: format!("{HEADER}{}", serde_norway::to_string(definition)?),
    })
}

/// The `crds/` directory of this repository.
pub fn crds_directory() -> PathBuf {
    let operator = Path::new(env!("CARGO_MANIFEST_DIR"));
    operator.parent().unwrap_or(operator).join("crds")
}
