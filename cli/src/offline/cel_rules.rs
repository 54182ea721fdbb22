//! The CRDs' CEL rules (`x-kubernetes-validations`: ISO country codes, tenant short codes,
//! spreads whose minimum exceeds their maximum…), evaluated offline by kube's client-side CEL
//! validator and reported as the API server reports a failed rule: the rule's message at the
//! rule's field, with the value when it is a scalar.

use kube::core::cel::{CompiledSchema, ErrorKind, ValidationError, Validator, compile_schema};
use serde_json::Value;

use crate::offline::field_error::{FieldError, Reason};

/// One kind's rules, compiled once.
pub struct CelRules {
    compiled: CompiledSchema,
    validator: Validator,
}

impl std::fmt::Debug for CelRules {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("CelRules").finish_non_exhaustive()
    }
}

impl CelRules {
    /// Compiles every rule in `schema` (a CRD's OpenAPI v3 schema).
    pub fn new(schema: &Value) -> Self {
        Self {
            compiled: compile_schema(schema),
            validator: Validator::new(),
        }
    }

    /// Whether every rule compiled (a rule that does not is reported against each object).
    pub fn all_compiled(&self) -> bool {
        !self.compiled.has_errors()
    }

    /// The rules `object` (as created: no old object, so transition rules are skipped, as the
    /// API server skips them on create) breaks.
    pub fn errors(&self, object: &Value) -> Vec<FieldError> {
        match self
            .validator
            .validate_compiled(&self.compiled, object, None)
        {
            Ok(()) => Vec::new(),
            Err(errors) => errors
                .iter()
                .map(|error| field_error(error, object))
                .collect(),
        }
    }
}

/// A failed rule as the API server words it: the value is shown for scalars and left out for
/// objects and lists; a rule's `reason` picks the error's kind.
fn field_error(error: &ValidationError, object: &Value) -> FieldError {
    let value = value_at(object, &error.field_path);
    let shown = value
        .filter(|value| !value.is_object() && !value.is_array())
        .cloned();
    let reason = match (&error.kind, error.reason.as_deref()) {
        (ErrorKind::ValidationFailure, Some("FieldValueForbidden")) => Reason::Forbidden,
        (ErrorKind::ValidationFailure, Some("FieldValueRequired")) => Reason::Required,
        (ErrorKind::ValidationFailure, Some("FieldValueDuplicate")) => Reason::Duplicate,
        _ => Reason::Invalid,
    };
    FieldError {
        field: (!error.field_path.is_empty()).then(|| error.field_path.clone()),
        reason,
        value: shown,
        detail: if reason == Reason::Duplicate {
            String::new()
        } else {
            error.message.clone()
        },
    }
}

/// The value at a CEL error's path (`spec.environments[0].name`).
fn value_at<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut value = object;
    for segment in path.split('.').filter(|segment| !segment.is_empty()) {
        let (name, indices) = segment.split_once('[').unwrap_or((segment, ""));
        if !name.is_empty() {
            value = value.get(name)?;
        }
        for index in indices.split('[').filter(|index| !index.is_empty()) {
            value = value.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_failed_rule_shows_scalars_and_leaves_out_objects() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "jurisdiction": {"type": "string", "x-kubernetes-validations": [
                {"rule": "self in ['CR', 'UY']", "message": "must be an ISO 3166-1 alpha-2 country code"}
            ]},
            "spread": {"type": "object", "properties": {
                "minimumSites": {"type": "integer"}, "maximumSites": {"type": "integer"}
            }, "x-kubernetes-validations": [
                {"rule": "self.minimumSites <= self.maximumSites", "message": "minimum must not exceed maximum"}
            ]},
            "environments": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string", "x-kubernetes-validations": [
                    {"rule": "self != 'bad'", "message": "not bad", "reason": "FieldValueForbidden"}
                ]}
            }}}
        }}}});
        let rules = CelRules::new(&schema);
        assert!(rules.all_compiled());
        let object = json!({"spec": {
            "jurisdiction": "sv", "spread": {"minimumSites": 3, "maximumSites": 1},
            "environments": [{"name": "prod"}, {"name": "bad"}]
        }});
        let mut messages: Vec<String> = rules
            .errors(&object)
            .iter()
            .map(ToString::to_string)
            .collect();
        messages.sort();
        assert_eq!(
            messages,
            [
                "spec.environments[1].name: Forbidden: not bad",
                r#"spec.jurisdiction: Invalid value: "sv": must be an ISO 3166-1 alpha-2 country code"#,
                "spec.spread: Invalid value: minimum must not exceed maximum",
            ]
        );
        let fine = json!({"spec": {"jurisdiction": "CR", "spread": {"minimumSites": 1, "maximumSites": 3}}});
        assert!(rules.errors(&fine).is_empty());
    }

    #[test]
    fn paths_with_indices_resolve() {
        let object = json!({"spec": {"lists": [[1, 2], [3]]}});
        assert_eq!(value_at(&object, "spec.lists[0][1]"), Some(&json!(2)));
        assert_eq!(value_at(&object, "spec.lists[5]"), None);
        assert_eq!(value_at(&object, ""), Some(&object));
    }
}
