//! One Soberana object sent as a document (any YAML or JSON, read into a JSON value), checked as
//! the API server's strict field validation checks it: kind and apiVersion, a name (and a
//! namespace for a Workload), no field the CRD's schema does not know, every field of the right
//! type, each problem with its field path. The API reads proposed objects with it; the CLI's
//! loader makes the same checks and, on top, the API server's schema and CEL validation
//! (`cli/src/offline/crd_validation`).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::custom_resource_definitions;
use super::data_classification::DataClassification;
use super::data_exchange::DataExchange;
use super::placement_rule::PlacementRule;
use super::site::Site;
use super::tenant::Tenant;
use super::unknown_fields::unknown_fields;
use super::workload::Workload;

/// The API version every Soberana object carries.
pub const API_VERSION: &str = "soberana.io/v1alpha1";

/// A Soberana object, typed.
#[derive(Clone, Debug)]
pub enum Object {
    Site(Box<Site>),
    DataClassification(Box<DataClassification>),
    PlacementRule(Box<PlacementRule>),
    Tenant(Box<Tenant>),
    Workload(Box<Workload>),
    DataExchange(Box<DataExchange>),
}

/// What is wrong with a document: the field (a path such as `spec.capacity.cpuMillicores`;
/// empty for the document as a whole) and the problem, with the object when it is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectError {
    /// `Kind name`, once the kind and name are read.
    pub object: Option<String>,
    pub field: String,
    pub problem: String,
}

impl fmt::Display for ObjectError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(object) = &self.object {
            write!(formatter, "{object}: ")?;
        }
        if !self.field.is_empty() {
            write!(formatter, "{}: ", self.field)?;
        }
        formatter.write_str(&self.problem)
    }
}

/// The OpenAPI schema of each kind, as the API server validates it. Built once, used for many
/// documents.
#[derive(Clone, Debug)]
pub struct Schemas(BTreeMap<String, Value>);

impl Default for Schemas {
    fn default() -> Self {
        let schemas = custom_resource_definitions()
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
            .collect();
        Self(schemas)
    }
}

/// Reads one document into a typed object, or says what is wrong with it, naming the field.
pub fn read_object(value: &Value, schemas: &Schemas) -> Result<Object, ObjectError> {
    let whole = |problem: &str| ObjectError {
        object: None,
        field: String::new(),
        problem: problem.to_owned(),
    };
    let Value::Object(_) = value else {
        return Err(whole(
            "expected a Kubernetes object (a mapping with apiVersion, kind, metadata, spec)",
        ));
    };
    let field = |object: Option<String>, field: &str, problem: String| ObjectError {
        object,
        field: field.to_owned(),
        problem,
    };
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| field(None, "kind", "missing".to_owned()))?;
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| field(None, "apiVersion", "missing".to_owned()))?;
    let schema = schemas.0.get(kind).ok_or_else(|| {
        field(None, "kind", format!("unknown kind {kind:?}; expected one of Site, DataClassification, PlacementRule, Tenant, Workload, DataExchange"))
    })?;
    if api_version != API_VERSION {
        let problem = format!("{api_version:?} is not {API_VERSION:?}");
        return Err(field(None, "apiVersion", problem));
    }
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| field(Some(kind.to_owned()), "metadata.name", "missing".to_owned()))?;
    let label = Some(format!("{kind} {name}"));
    if let Some(unknown) = unknown_fields(value, schema).into_iter().next() {
        return Err(field(label, &unknown, "unknown field".to_owned()));
    }
    match kind {
        "Site" => typed(value, label).map(|site| Object::Site(Box::new(site))),
        "DataClassification" => {
            typed(value, label).map(|it| Object::DataClassification(Box::new(it)))
        }
        "PlacementRule" => typed(value, label).map(|rule| Object::PlacementRule(Box::new(rule))),
        "Tenant" => typed(value, label).map(|tenant| Object::Tenant(Box::new(tenant))),
        "DataExchange" => typed(value, label).map(|it| Object::DataExchange(Box::new(it))),
        _ => {
            let namespace = value.pointer("/metadata/namespace").and_then(Value::as_str);
            if namespace.is_none_or(str::is_empty) {
                let problem = "missing (a Workload lives in its tenant's namespace)".to_owned();
                return Err(field(label, "metadata.namespace", problem));
            }
            typed(value, label).map(|workload| Object::Workload(Box::new(workload)))
        }
    }
}

/// Deserializes into the typed resource, naming the path of a field of the wrong type.
fn typed<T: DeserializeOwned>(value: &Value, object: Option<String>) -> Result<T, ObjectError> {
    serde_path_to_error::deserialize(value).map_err(|error| ObjectError {
        object,
        field: error.path().to_string(),
        problem: error.into_inner().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problem(value: &Value) -> String {
        match read_object(value, &Schemas::default()) {
            Ok(object) => panic!("accepted {object:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn each_problem_names_the_object_and_field() {
        let classification = |spec: Value| json!({"apiVersion": API_VERSION, "kind": "DataClassification", "metadata": {"name": "internal"}, "spec": spec});
        assert_eq!(
            problem(&classification(
                json!({"rank": 10, "legalBasis": "x", "requiredCertificates": []})
            )),
            "DataClassification internal: spec.requiredCertificates: unknown field"
        );
        assert_eq!(
            problem(&classification(json!({"rank": "ten", "legalBasis": "x"}))),
            "DataClassification internal: spec.rank: invalid type: string \"ten\", expected u32"
        );
        assert_eq!(problem(&json!({"kind": "Site"})), "apiVersion: missing");
        assert_eq!(
            problem(&json!({"apiVersion": "v1", "kind": "Site", "metadata": {"name": "a"}})),
            "apiVersion: \"v1\" is not \"soberana.io/v1alpha1\""
        );
        assert_eq!(
            problem(
                &json!({"apiVersion": API_VERSION, "kind": "Workload", "metadata": {"name": "w"}, "spec": {}})
            ),
            "Workload w: metadata.namespace: missing (a Workload lives in its tenant's namespace)"
        );
        assert_eq!(
            problem(&json!(["a list"])),
            "expected a Kubernetes object (a mapping with apiVersion, kind, metadata, spec)"
        );
    }

    #[test]
    fn a_valid_document_reads_into_its_kind() {
        let value = json!({"apiVersion": API_VERSION, "kind": "DataClassification",
                           "metadata": {"name": "public"}, "spec": {"rank": 0, "legalBasis": "Ley 9097"}});
        let read = read_object(&value, &Schemas::default());
        assert!(
            matches!(&read, Ok(Object::DataClassification(found)) if found.spec.legal_basis == "Ley 9097"),
            "{read:?}"
        );
    }
}
