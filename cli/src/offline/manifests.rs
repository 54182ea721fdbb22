//! Reading the YAML users `kubectl apply`: files or directories of multi-document YAML holding
//! Sites, DataClassifications, PlacementRules, Tenants, Workloads and DataExchanges. Whatever the API server
//! would refuse is refused, and every problem is reported with its file, document number and
//! field path; nothing panics on bad input.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use soberana_core::placement::{Objects, Snapshot};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::data_exchange::DataExchange;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;

use crate::offline::crd_validation::{CrdValidation, KindValidation};
use crate::offline::references::dangling_references;
use soberana_core::resources::unknown_fields::unknown_fields;

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
    pub exchanges: Vec<DataExchange>,
    /// Where each object was defined, by (kind, namespace, name).
    pub origins: BTreeMap<(String, String, String), Origin>,
}

impl Manifests {
    /// The placement engine's snapshot of the policy and tenants read, or why it cannot be built.
    pub fn snapshot(&self) -> Result<Snapshot, Vec<InputError>> {
        Snapshot::new(Objects {
            sites: &self.sites,
            classifications: &self.classifications,
            rules: &self.rules,
            tenants: &self.tenants,
            ..Objects::default()
        })
        .map_err(|error| vec![InputError::new(None, error.to_string())])
    }

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
/// sent to the API, which resolves them against the live data centre). Every object is judged
/// as the API server would judge it (`crd_validation`); all problems of all documents are
/// returned.
pub fn load_objects(paths: &[PathBuf]) -> Result<Manifests, Vec<InputError>> {
    let validation = CrdValidation::soberana();
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
        read_file(&file, &validation, &mut manifests, &mut errors);
    }
    if errors.is_empty() {
        Ok(manifests)
    } else {
        Err(errors)
    }
}

/// Reads every document of `file` into `manifests`, or its problems into `errors`.
fn read_file(
    file: &Path,
    validation: &CrdValidation,
    manifests: &mut Manifests,
    errors: &mut Vec<InputError>,
) {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) => {
            errors.push(InputError::new(
                None,
                format!("{}: cannot read: {error}", file.display()),
            ));
            return;
        }
    };
    for (index, document) in serde_norway::Deserializer::from_str(&text).enumerate() {
        let origin = Origin {
            file: file.to_path_buf(),
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
        if let Err(messages) = read_object(&value, validation, &origin, manifests) {
            errors.extend(
                messages
                    .into_iter()
                    .map(|message| InputError::new(Some(origin.clone()), message)),
            );
        }
    }
}

/// What a document says it is.
struct Identity<'a> {
    kind: &'a str,
    name: String,
    namespace: String,
    validation: &'a KindValidation,
}

/// The kind, name and namespace of `value`, checked to be a Soberana object.
fn identify<'a>(value: &'a Value, validation: &'a CrdValidation) -> Result<Identity<'a>, String> {
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
    let kind_validation = validation.kind(kind).ok_or_else(|| {
        format!("kind: unknown kind {kind:?}; expected one of Site, DataClassification, PlacementRule, Tenant, Workload, DataExchange")
    })?;
    if api_version != API_VERSION {
        return Err(format!(
            "apiVersion: {api_version:?} is not {API_VERSION:?}"
        ));
    }
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| format!("{kind}: metadata.name: missing"))?
        .to_owned();
    let namespace = value
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(Identity {
        kind,
        name,
        namespace,
        validation: kind_validation,
    })
}

/// Reads one object: refused, with every reason, when the API server would refuse it.
fn read_object(
    value: &Value,
    validation: &CrdValidation,
    origin: &Origin,
    manifests: &mut Manifests,
) -> Result<(), Vec<String>> {
    let identity = identify(value, validation).map_err(|message| vec![message])?;
    let label = format!("{} {}", identity.kind, identity.name);
    let unknown = unknown_fields(value, &identity.validation.schema);
    if !unknown.is_empty() {
        return Err(unknown
            .iter()
            .map(|field| format!("{label}: {field}: unknown field"))
            .collect());
    }
    let (created, refusals) = identity.validation.judge(value);
    if !refusals.is_empty() {
        return Err(refusals
            .iter()
            .map(|refusal| format!("{label}: {refusal}"))
            .collect());
    }
    store(&created, &identity, &label, origin, manifests).map_err(|message| vec![message])
}

/// Adds the object (as the API server would store it) to `manifests`.
fn store(
    created: &Value,
    identity: &Identity<'_>,
    label: &str,
    origin: &Origin,
    manifests: &mut Manifests,
) -> Result<(), String> {
    let Identity {
        kind,
        name,
        namespace,
        ..
    } = identity;
    if let Some(first) = manifests.origins.insert(
        ((*kind).to_owned(), namespace.clone(), name.clone()),
        origin.clone(),
    ) {
        return Err(format!("{label}: defined twice (first at {first})"));
    }
    match *kind {
        "Site" => manifests.sites.push(typed(created, label)?),
        "DataClassification" => manifests.classifications.push(typed(created, label)?),
        "PlacementRule" => manifests.rules.push(typed(created, label)?),
        "Tenant" => manifests.tenants.push(typed(created, label)?),
        "DataExchange" => manifests.exchanges.push(typed(created, label)?),
        _ => {
            if namespace.is_empty() {
                return Err(format!(
                    "{label}: metadata.namespace: missing (a Workload lives in its tenant's namespace)"
                ));
            }
            let workload: Workload = typed(created, label)?;
            // The operator refuses such a Workload; a check in CI says so first.
            workload
                .spec
                .template_within_limit()
                .map_err(|too_large| format!("{label}: {too_large}"))?;
            manifests.workloads.push((workload, origin.clone()));
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
