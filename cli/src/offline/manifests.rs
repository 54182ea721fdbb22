//! Reading the YAML users `kubectl apply`: files or directories of multi-document YAML holding
//! Sites, DataClassifications, PlacementRules, Tenants and Workloads. Every problem is reported
//! with its file, document number and field path; nothing panics on bad input.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use soberana_core::resources::custom_resource_definitions;
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;

use crate::offline::references::dangling_references;
use crate::offline::unknown_fields::unknown_fields;

/// The API version every Soberana manifest must carry.
pub const API_VERSION: &str = "soberana.io/v1alpha1";

/// Where an object came from: a file and its document (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub document: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}, document {}",
            self.file.display(),
            self.document
        )
    }
}

/// One problem with the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The file (and document) at fault; `None` for problems with a path argument itself.
    pub origin: Option<Origin>,
    pub message: String,
}

impl InputError {
    pub fn new(origin: Option<Origin>, message: impl Into<String>) -> Self {
        Self {
            origin,
            message: message.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(origin) => write!(formatter, "{origin}: {}", self.message),
            None => formatter.write_str(&self.message),
        }
    }
}

/// Every object read, by kind; workloads keep their origin for later error messages.
#[derive(Debug, Default)]
pub struct Manifests {
    pub sites: Vec<Site>,
    pub classifications: Vec<DataClassification>,
    pub rules: Vec<PlacementRule>,
    pub tenants: Vec<Tenant>,
    pub workloads: Vec<(Workload, Origin)>,
    /// Where each object was defined, by (kind, namespace, name).
    pub origins: BTreeMap<(String, String, String), Origin>,
}

impl Manifests {
    /// Where the object `kind` `name` (cluster-scoped: empty namespace) was defined.
    pub fn origin(&self, kind: &str, namespace: &str, name: &str) -> Option<&Origin> {
        self.origins
            .get(&(kind.to_owned(), namespace.to_owned(), name.to_owned()))
    }
}

/// Reads every `.yaml`, `.yml` and `.json` file under `paths` (directories recursively, in name
/// order), and checks that every reference between them resolves. Returns every problem found,
/// not just the first.
pub fn load(paths: &[PathBuf]) -> Result<Manifests, Vec<InputError>> {
    let manifests = load_objects(paths)?;
    let dangling = dangling_references(&manifests);
    if dangling.is_empty() {
        Ok(manifests)
    } else {
        Err(dangling)
    }
}

/// Reads and validates the objects in `paths` without resolving their references (for objects
/// sent to the API, which resolves them against the live data centre).
pub fn load_objects(paths: &[PathBuf]) -> Result<Manifests, Vec<InputError>> {
    let schemas = crd_schemas();
    let mut manifests = Manifests::default();
    let mut errors = Vec::new();
    let files = files(paths, &mut errors);
    if files.is_empty() && errors.is_empty() {
        errors.push(InputError::new(
            None,
            "no .yaml, .yml or .json files in the given paths",
        ));
    }
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) => {
                errors.push(InputError::new(
                    None,
                    format!("{}: cannot read: {error}", file.display()),
                ));
                continue;
            }
        };
        for (index, document) in serde_norway::Deserializer::from_str(&text).enumerate() {
            let origin = Origin {
                file: file.clone(),
                document: index + 1,
            };
            let value = match Value::deserialize(document) {
                Ok(Value::Null) => continue,
                Ok(value) => value,
                Err(error) => {
                    errors.push(InputError::new(
                        Some(origin),
                        format!("malformed YAML: {error}"),
                    ));
                    // The parser cannot resynchronise after a syntax error in this file.
                    break;
                }
            };
            match read_object(&value, &schemas, &origin, &mut manifests) {
                Ok(()) => {}
                Err(message) => errors.push(InputError::new(Some(origin), message)),
            }
        }
    }
    if errors.is_empty() {
        Ok(manifests)
    } else {
        Err(errors)
    }
}

fn read_object(
    value: &Value,
    schemas: &BTreeMap<String, Value>,
    origin: &Origin,
    manifests: &mut Manifests,
) -> Result<(), String> {
    let Value::Object(_) = value else {
        return Err(
            "expected a Kubernetes object (a mapping with apiVersion, kind, metadata, spec)"
                .to_owned(),
        );
    };
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("kind: missing")?;
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or("apiVersion: missing")?;
    let schema = schemas.get(kind).ok_or_else(|| {
        format!("kind: unknown kind {kind:?}; expected one of Site, DataClassification, PlacementRule, Tenant, Workload")
    })?;
    if api_version != API_VERSION {
        return Err(format!(
            "apiVersion: {api_version:?} is not {API_VERSION:?}"
        ));
    }
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty());
    let name = name
        .ok_or_else(|| format!("{kind}: metadata.name: missing"))?
        .to_owned();
    let namespace = value
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let label = format!("{kind} {name}");
    if let Some(field) = unknown_fields(value, schema).into_iter().next() {
        return Err(format!("{label}: {field}: unknown field"));
    }
    if let Some(first) = manifests.origins.insert(
        (kind.to_owned(), namespace.clone(), name.clone()),
        origin.clone(),
    ) {
        return Err(format!("{label}: defined twice (first at {first})"));
    }
    match kind {
        "Site" => manifests.sites.push(typed(value, &label)?),
        "DataClassification" => manifests.classifications.push(typed(value, &label)?),
        "PlacementRule" => manifests.rules.push(typed(value, &label)?),
        "Tenant" => manifests.tenants.push(typed(value, &label)?),
        _ => {
            if namespace.is_empty() {
                return Err(format!(
                    "{label}: metadata.namespace: missing (a Workload lives in its tenant's namespace)"
                ));
            }
            manifests
                .workloads
                .push((typed(value, &label)?, origin.clone()));
        }
    }
    Ok(())
}

/// Deserializes into the typed resource, reporting the path of a field of the wrong type.
fn typed<T: DeserializeOwned>(value: &Value, label: &str) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        format!("{label}: {path}: {}", error.into_inner())
    })
}

/// The OpenAPI schema of each kind, as the API server validates it.
fn crd_schemas() -> BTreeMap<String, Value> {
    custom_resource_definitions()
        .into_iter()
        .filter_map(|definition| {
            let schema = definition
                .spec
                .versions
                .first()?
                .schema
                .as_ref()?
                .open_api_v3_schema
                .as_ref()?;
            Some((
                definition.spec.names.kind.clone(),
                serde_json::to_value(schema).ok()?,
            ))
        })
        .collect()
}

fn files(paths: &[PathBuf], errors: &mut Vec<InputError>) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect(path, &mut found, errors);
        } else if path.is_file() {
            found.push(path.clone());
        } else {
            errors.push(InputError::new(
                None,
                format!("{}: no such file or directory", path.display()),
            ));
        }
    }
    found
}

fn collect(directory: &Path, found: &mut Vec<PathBuf>, errors: &mut Vec<InputError>) {
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) => {
            errors.push(InputError::new(
                None,
                format!("{}: cannot list: {error}", directory.display()),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect(&path, found, errors);
        } else if path.extension().is_some_and(|extension| {
            extension == "yaml" || extension == "yml" || extension == "json"
        }) {
            found.push(path);
        }
    }
}
