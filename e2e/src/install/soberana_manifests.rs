//! Installing Soberana's CRDs (`crds/`) and YAML scenarios (`examples/`) into a harness cluster
//! with server-side apply, as an operator would with `kubectl apply --server-side`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, Client};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::harness::wait::wait_until;
use crate::install::exchange_approvals::{apply_agreement, install_approval_policy};

/// The field manager of everything the harness applies.
pub const FIELD_MANAGER: &str = "soberana-e2e";

/// The repository's `crds/` directory.
pub fn crds_directory() -> PathBuf {
    repository_root().join("crds")
}

/// The repository's `examples/` directory.
pub fn examples_directory() -> PathBuf {
    repository_root().join("examples")
}

/// The root of this repository.
pub fn repository_root() -> PathBuf {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR"));
    e2e.parent().unwrap_or(e2e).to_owned()
}

/// Applies every CRD in `crds/` and waits until each is established, then the chart's approval
/// policy that ships with them; returns the CRDs' names.
pub async fn install_crds(client: &Client) -> Result<Vec<String>> {
    let definitions: Api<CustomResourceDefinition> = Api::all(client.clone());
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for (path, document) in yaml_documents(&crds_directory())? {
        let definition: CustomResourceDefinition = serde_json::from_value(document)
            .with_context(|| format!("parsing {}", path.display()))?;
        let name = definition
            .metadata
            .name
            .clone()
            .context("a CRD without a name")?;
        definitions
            .patch(&name, &apply, &Patch::Apply(&definition))
            .await
            .with_context(|| format!("applying CRD {name}"))?;
        names.push(name);
    }
    for name in &names {
        wait_established(&definitions, name).await?;
    }
    install_approval_policy(client).await?;
    Ok(names)
}

/// Waits (up to a minute) until the API server serves the CRD `name`.
pub async fn wait_established(
    definitions: &Api<CustomResourceDefinition>,
    name: &str,
) -> Result<()> {
    wait_until(
        &format!("CRD {name} to be established"),
        Duration::from_secs(60),
        || async move {
            let conditions = definitions
                .get(name)
                .await?
                .status
                .and_then(|status| status.conditions);
            Ok(conditions
                .unwrap_or_default()
                .iter()
                .any(|condition| condition.type_ == "Established" && condition.status == "True"))
        },
    )
    .await
}

/// Applies every Soberana object in the YAML files of `directory`, creating the namespaces the
/// namespaced ones live in, each agreement's approvals as their approvers; returns how many
/// objects were applied.
pub async fn apply_directory(client: &Client, directory: &Path) -> Result<usize> {
    let objects = yaml_documents(directory)?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    for (path, object) in &objects {
        if let Some(namespace) = object["metadata"]["namespace"].as_str() {
            let manifest =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
            namespaces
                .patch(namespace, &apply, &Patch::Apply(&manifest))
                .await?;
        }
        if object["kind"] == "DataExchange" {
            apply_agreement(client, object)
                .await
                .with_context(|| format!("{}", path.display()))?;
            continue;
        }
        let name = object["metadata"]["name"]
            .as_str()
            .context("an object without metadata.name")?;
        soberana_api(client, object)?
            .patch(name, &apply, &Patch::Apply(object))
            .await
            .with_context(|| format!("{}: applying {} {name}", path.display(), object["kind"]))?;
    }
    Ok(objects.len())
}

/// A dynamic API for the Soberana kind of `object`, in its namespace if it has one.
pub fn soberana_api(client: &Client, object: &Value) -> Result<Api<DynamicObject>> {
    let kind = object["kind"].as_str().context("an object without kind")?;
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    ensure!(
        api_version == "soberana.io/v1alpha1",
        "{kind}: apiVersion {api_version:?} is not soberana.io/v1alpha1"
    );
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("soberana.io", "v1alpha1", kind));
    Ok(match object["metadata"]["namespace"].as_str() {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    })
}

/// Every non-empty YAML document of `path` or of the `.yaml` files in it, in file-name order.
pub fn yaml_documents(directory: &Path) -> Result<Vec<(PathBuf, Value)>> {
    if directory.is_file() {
        return documents_of(&[directory.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(directory)
        .with_context(|| format!("reading {}", directory.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|path| {
        path.extension()
            .is_some_and(|extension| extension == "yaml")
    });
    files.sort();
    documents_of(&files)
}

fn documents_of(files: &[PathBuf]) -> Result<Vec<(PathBuf, Value)>> {
    let mut documents = Vec::new();
    for path in files {
        let path = path.clone();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        for document in serde_norway::Deserializer::from_str(&text) {
            let value = Value::deserialize(document)
                .with_context(|| format!("parsing {}", path.display()))?;
            if !value.is_null() {
                documents.push((path.clone(), value));
            }
        }
    }
    Ok(documents)
}
