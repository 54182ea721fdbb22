//! Local JSON schemas for `kubeconform -strict`, made as kubeconform's `openapi2jsonschema`
//! makes them (no network): each CRD version's `openAPIV3Schema`, and each built-in kind from the
//! harness API server's `/openapi/v2`, written as `{kind}-{group}-{version}.json` in lower case
//! (the group's first label; none for the core group), which kubeconform's
//! `{{ .ResourceKind }}{{ .KindSuffix }}.json` names. Strict: an object schema with properties
//! refuses others (the document root too, which upstream leaves open by default), and
//! int-or-string takes either.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

/// kubeconform's file name for `kind` in `group`/`version`.
pub fn file_name(kind: &str, group: &str, version: &str) -> String {
    let group = group.split('.').next().unwrap_or_default();
    if group.is_empty() {
        format!("{kind}-{version}.json").to_lowercase()
    } else {
        format!("{kind}-{group}-{version}.json").to_lowercase()
    }
}

/// Writes one schema per version of each CRD manifest in `crds`; returns the files written.
pub fn write_crd_schemas(crds: &[Value], directory: &Path) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for crd in crds {
        let group = crd["spec"]["group"]
            .as_str()
            .context("a CRD without group")?;
        let kind = crd["spec"]["names"]["kind"]
            .as_str()
            .context("a CRD without kind")?;
        for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
            let name = version["name"]
                .as_str()
                .context("a CRD version without name")?;
            let mut schema = version["schema"]["openAPIV3Schema"].clone();
            strict(&mut schema);
            let file = file_name(kind, group, name);
            write(directory, &file, &schema)?;
            written.push(file);
        }
    }
    Ok(written)
}

/// Writes the schema of every built-in kind of `kinds` (kind, apiVersion) found in the OpenAPI v2
/// document `openapi`: the kind's definition beside every definition it refers to.
pub fn write_builtin_schemas(
    openapi: &Value,
    kinds: &BTreeSet<(String, String)>,
    directory: &Path,
) -> Result<Vec<String>> {
    let mut definitions = openapi["definitions"]
        .as_object()
        .context("/openapi/v2 without definitions")?
        .clone();
    for definition in definitions.values_mut() {
        strict(definition);
    }
    let mut written = Vec::new();
    for (name, definition) in &definitions {
        for gvk in definition["x-kubernetes-group-version-kind"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let (group, version, kind) = (
                gvk["group"].as_str().unwrap_or_default(),
                gvk["version"].as_str().unwrap_or_default(),
                gvk["kind"].as_str().unwrap_or_default(),
            );
            let api_version = if group.is_empty() {
                version.to_owned()
            } else {
                format!("{group}/{version}")
            };
            if !kinds.contains(&(kind.to_owned(), api_version)) {
                continue;
            }
            let mut schema = definition.clone();
            schema["definitions"] = Value::Object(referenced(name, &definitions));
            let file = file_name(kind, group, version);
            write(directory, &file, &schema)?;
            written.push(file);
        }
    }
    Ok(written)
}

/// The definitions `root` refers to, directly or not.
fn referenced(root: &str, definitions: &Map<String, Value>) -> Map<String, Value> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(name) = pending.pop() {
        if found.contains_key(&name) {
            continue;
        }
        let Some(definition) = definitions.get(&name) else {
            continue;
        };
        let mut references = Vec::new();
        collect_references(definition, &mut references);
        pending.extend(references);
        found.insert(name, definition.clone());
    }
    found.into_iter().collect()
}

fn collect_references(value: &Value, references: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref")
                && let Some(name) = reference.strip_prefix("#/definitions/")
            {
                references.push(name.to_owned());
            }
            object
                .values()
                .for_each(|value| collect_references(value, references));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|value| collect_references(value, references)),
        _ => {}
    }
}

/// openapi2jsonschema's strict form: objects with properties refuse others unless they keep
/// unknown fields; int-or-string accepts a string or an integer.
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            let int_or_string = object.get("x-kubernetes-int-or-string") == Some(&json!(true))
                || object.get("format") == Some(&json!("int-or-string"));
            if int_or_string {
                object.remove("type");
                object.remove("format");
                object.insert(
                    "oneOf".to_owned(),
                    json!([{"type": "string"}, {"type": "integer"}]),
                );
            }
            let keeps_unknown =
                object.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
            if !keeps_unknown
                && object.contains_key("properties")
                && !object.contains_key("additionalProperties")
            {
                object.insert("additionalProperties".to_owned(), Value::Bool(false));
            }
            for (key, value) in object.iter_mut() {
                // `properties` and `definitions` are maps of schemas, not schemas themselves.
                if key == "properties" || key == "definitions" {
                    if let Value::Object(schemas) = value {
                        schemas.values_mut().for_each(strict);
                    }
                } else {
                    strict(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

fn write(directory: &Path, file: &str, schema: &Value) -> Result<()> {
    let path = directory.join(file);
    std::fs::write(&path, serde_json::to_vec(schema)?)
        .with_context(|| format!("writing {}", path.display()))
}
