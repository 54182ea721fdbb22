//! The CRD manifests in `crds/`, rendered from the Rust types in `soberana-core`, and the same CRDs
//! as templates of the Helm chart (`charts/soberana/templates/crds/`), so that `helm upgrade`
//! updates them (Helm's `crds/` directory is installed once and never upgraded).

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

/// Header of every generated chart template.
const CHART_HEADER: &str = "{{- /* Generated from the Rust types in core/src/resources by `make crds`; do not edit. */}}\n";

/// The chart's values decide whether the CRDs are installed, and whether uninstalling the release
/// keeps them (and so every Site, Tenant and Workload).
const CHART_METADATA: &str = "  labels:
    {{- include \"soberana.labels\" . | nindent 4 }}
  {{- if .Values.crds.keep }}
  annotations:
    helm.sh/resource-policy: keep
  {{- end }}
";

/// Renders every CRD as a template of the chart, one file per CRD, named as in `crds/`: the same
/// YAML behind `crds.enabled`, with the release's labels and `crds.keep`'s annotation.
pub fn render_chart_crd_templates() -> Result<Vec<CrdManifest>, serde_norway::Error> {
    custom_resource_definitions()
        .iter()
        .map(render_chart_template)
        .collect()
}

fn render_chart_template(
    definition: &CustomResourceDefinition,
) -> Result<CrdManifest, serde_norway::Error> {
    let name = definition.metadata.name.clone().unwrap_or_default();
    let yaml = serde_norway::to_string(definition)?;
    // Helm would read `{{` in a description or rule as a template action.
    let yaml = yaml.replace("{{", "{{ \"{{\" }}");
    let named = format!("metadata:\n  name: {name}\n");
    let yaml = yaml.replacen(&named, &format!("{named}{CHART_METADATA}"), 1);
    Ok(CrdManifest {
        file_name: format!("{name}.yaml"),
        yaml: format!("{CHART_HEADER}{{{{- if .Values.crds.enabled }}}}\n{yaml}{{{{- end }}}}\n"),
    })
}

/// The root of this repository.
fn repository_root() -> PathBuf {
    let operator = Path::new(env!("CARGO_MANIFEST_DIR"));
    operator.parent().unwrap_or(operator).to_owned()
}

/// The `crds/` directory of this repository.
pub fn crds_directory() -> PathBuf {
    repository_root().join("crds")
}

/// The chart's directory of CRD templates.
pub fn chart_crds_directory() -> PathBuf {
    repository_root()
        .join("charts")
        .join("soberana")
        .join("templates")
        .join("crds")
}

/// The management cluster's approval policy and its binding (`make crds` writes them with the
/// CRDs): the chart installs this file (`templates/exchange-approvals.yaml`), and so does the
/// e2e harness, so both enforce exactly what the operator checks is in force.
pub fn approval_policy_file() -> PathBuf {
    repository_root()
        .join("charts")
        .join("soberana")
        .join("files")
        .join("exchange-approvals.yaml")
}

/// The approval policy and binding as one YAML file, with a header saying where they come from.
pub fn render_approval_policy() -> Result<String, serde_norway::Error> {
    // k8s-openapi writes each object's `apiVersion` and `kind`.
    let policy = soberana_core::exchange::approval_policy();
    let binding = soberana_core::exchange::approval_policy_binding();
    Ok(format!(
        "# Generated from core/src/exchange/approval_policy.rs by `make crds`; do not edit.\n\
         # An agreement's approval may be set or changed only by the identity it names; the\n\
         # operator honours no approval while this policy and binding are missing or altered.\n\
         {}---\n{}",
        serde_norway::to_string(&policy)?,
        serde_norway::to_string(&binding)?
    ))
}
