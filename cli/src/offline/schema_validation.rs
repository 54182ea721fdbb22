//! The API server's OpenAPI v3 validation of a custom resource (kube-openapi's schema validator,
//! as `apiextensions-apiserver` runs it): `type` and `nullable`, `required`, `enum`, `pattern`,
//! `minLength`/`maxLength`, `minimum`/`maximum`, `minItems`/`maxItems` and `format`, each error
//! worded as the server words it. Unknown fields are `unknown_fields`' concern, CEL rules
//! `cel_rules`'.

use serde_json::Value;

use crate::offline::field_error::{FieldError, Reason, go_float, go_quote};
use crate::offline::schema_formats::{effective_format, range_error, string_matches};

/// The schema keywords this validation (with `unknown_fields`, `list_maps` and `cel_rules`)
/// understands; a test keeps Soberana's CRDs to them.
pub const KEYWORDS: [&str; 22] = [
    "type",
    "nullable",
    "required",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "format",
    "properties",
    "items",
    "additionalProperties",
    "default",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
];

/// Every error the API server's schema validation finds in `object` (as the server sees it on
/// create: see `server_view`).
pub fn schema_errors(schema: &Value, object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    validate(schema, object, "", &mut errors);
    errors
}

/// One node: the validators kube-openapi runs, in its order.
fn validate(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    errors.extend(type_error(schema, value, path));
    if value.is_null() {
        errors.extend(enum_error(schema, value, path));
        return;
    }
    if let Value::String(text) = value {
        errors.extend(string_error(schema, text, path));
        errors.extend(format_error(schema, text, path));
    }
    if value.is_number() {
        errors.extend(number_errors(schema, value, path));
    }
    if let Value::Array(items) = value {
        array_errors(schema, items, path, errors);
    }
    errors.extend(enum_error(schema, value, path));
    if let Value::Object(fields) = value {
        object_errors(schema, fields, path, errors);
    }
}

/// The schema's single `type` (Soberana's structural schemas have one), or `""`.
fn schema_type(schema: &Value) -> &str {
    schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The JSON type of `value` and the format the API server's decoder gives it.
fn value_type(value: &Value) -> (&'static str, &'static str) {
    match value {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(number) if number.is_f64() => ("number", "float64"),
        Value::Number(_) => ("integer", "int64"),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    }
}

/// kube-openapi's type validator: a value of the wrong type, or `null` where not nullable.
/// The format the API server applies to values of `schema` (of type `expected`): the declared
/// one when it knows it for that type, else none.
fn schema_format<'a>(schema: &'a Value, expected: &str) -> &'a str {
    let declared = schema
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or_default();
    effective_format(expected, declared)
}

fn type_error(schema: &Value, value: &Value, path: &str) -> Option<FieldError> {
    let expected = schema_type(schema);
    let format = schema_format(schema, expected);
    if expected.is_empty() && format.is_empty() {
        return None;
    }
    let mismatch = |wanted: &str, got: &str| {
        FieldError::new(
            path,
            Reason::TypeInvalid,
            Some(Value::String(got.to_owned())),
            format!("{path} in body must be of type {wanted}: {}", go_quote(got)),
        )
    };
    if value.is_null() {
        let nullable = schema.get("nullable") == Some(&Value::Bool(true));
        return (!expected.is_empty() && !nullable).then(|| mismatch(expected, "null"));
    }
    let (actual, actual_format) = value_type(value);
    let float_as_integer = actual == "number"
        && expected == "integer"
        && value
            .as_f64()
            .is_some_and(|float| float.fract() == 0.0 && float.abs() <= 9_007_199_254_740_992.0);
    let integer_as_number = actual == "integer" && expected == "number";
    let compatible = expected == actual || float_as_integer || integer_as_number;
    let string_or_array = matches!(value, Value::String(_) | Value::Array(_));
    if !(string_or_array || format.is_empty() || compatible || actual_format == format) {
        return Some(mismatch(format, actual_format));
    }
    if !matches!(expected, "number" | "integer") && !format.is_empty() && string_or_array {
        return None;
    }
    (!compatible).then(|| mismatch(expected, actual))
}

/// `maxLength`, then `minLength`, then `pattern`: the first that fails.
fn string_error(schema: &Value, text: &str, path: &str) -> Option<FieldError> {
    let value = || Some(Value::String(text.to_owned()));
    let length = u64::try_from(text.chars().count()).unwrap_or(u64::MAX);
    if let Some(maximum) = schema.get("maxLength").and_then(Value::as_u64)
        && length > maximum
    {
        let unit = if maximum == 1 { "byte" } else { "bytes" };
        let detail = format!("may not be more than {maximum} {unit}");
        return Some(FieldError::new(path, Reason::TooLong, None, detail));
    }
    if let Some(minimum) = schema.get("minLength").and_then(Value::as_u64)
        && length < minimum
    {
        let detail = format!("{path} in body should be at least {minimum} chars long");
        return Some(FieldError::new(path, Reason::Invalid, value(), detail));
    }
    let pattern = schema.get("pattern").and_then(Value::as_str)?;
    let shown = match regex::Regex::new(pattern) {
        Ok(expression) if expression.is_match(text) => return None,
        Ok(_) => pattern.to_owned(),
        Err(error) => format!("{pattern}, but pattern is invalid: {error}"),
    };
    let detail = format!("{path} in body should match '{shown}'");
    Some(FieldError::new(path, Reason::Invalid, value(), detail))
}

/// A string `format` the API server checks (`date-time`).
fn format_error(schema: &Value, text: &str, path: &str) -> Option<FieldError> {
    let format = schema.get("format").and_then(Value::as_str)?;
    let format = effective_format("string", format);
    if format.is_empty() || string_matches(format, text) {
        return None;
    }
    let detail = format!(
        "{path} in body must be of type {format}: {}",
        go_quote(text)
    );
    Some(FieldError::new(
        path,
        Reason::TypeInvalid,
        Some(Value::String(text.to_owned())),
        detail,
    ))
}

/// The range of the schema's `format`, then `minimum` and `maximum`.
fn number_errors(schema: &Value, value: &Value, path: &str) -> Vec<FieldError> {
    let expected = schema_type(schema);
    let format = schema_format(schema, expected);
    let mut errors = Vec::new();
    if let Some(detail) = range_error(value, expected, format, path) {
        errors.push(FieldError {
            field: None,
            reason: Reason::Invalid,
            value: Some(Value::String(String::new())),
            detail,
        });
    }
    let exclusive = |keyword| schema.get(keyword) == Some(&Value::Bool(true));
    for (keyword, below, exclusive) in [
        ("minimum", true, exclusive("exclusiveMinimum")),
        ("maximum", false, exclusive("exclusiveMaximum")),
    ] {
        let Some(bound) = schema.get(keyword).and_then(Value::as_f64) else {
            continue;
        };
        if let Some(detail) = bound_error(value, bound, below, exclusive, path) {
            errors.push(FieldError::invalid(path, value.clone(), detail));
        }
    }
    errors
}

/// `minimum` (`below`) or `maximum`: integers compared with the bound as an integer, floats as
/// floats, each message printing the bound the same way.
fn bound_error(
    value: &Value,
    bound: f64,
    below: bool,
    exclusive: bool,
    path: &str,
) -> Option<String> {
    let (outside, shown) = if let Some(whole) = value.as_i64() {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the API server truncates the bound to int64 the same way"
        )]
        let bound = bound as i64;
        let outside = match (below, exclusive) {
            (true, false) => whole < bound,
            (true, true) => whole <= bound,
            (false, false) => whole > bound,
            (false, true) => whole >= bound,
        };
        (outside, bound.to_string())
    } else {
        let float = value.as_f64()?;
        let outside = match (below, exclusive) {
            (true, false) => float < bound,
            (true, true) => float <= bound,
            (false, false) => float > bound,
            (false, true) => float >= bound,
        };
        (outside, go_float(bound))
    };
    let relation = match (below, exclusive) {
        (true, false) => "greater than or equal to",
        (true, true) => "greater than",
        (false, false) => "less than or equal to",
        (false, true) => "less than",
    };
    outside.then(|| format!("{path} in body should be {relation} {shown}"))
}

/// Each item against `items`, then `minItems` and `maxItems`.
fn array_errors(schema: &Value, items: &[Value], path: &str, errors: &mut Vec<FieldError>) {
    if let Some(item_schema) = schema.get("items").filter(|items| items.is_object()) {
        for (index, item) in items.iter().enumerate() {
            validate(item_schema, item, &format!("{path}[{index}]"), errors);
        }
    }
    let count = u64::try_from(items.len()).unwrap_or(u64::MAX);
    if let Some(minimum) = schema.get("minItems").and_then(Value::as_u64)
        && count < minimum
    {
        let detail = format!("{path} in body should have at least {minimum} items");
        errors.push(FieldError::invalid(path, Value::from(count), detail));
    }
    if let Some(maximum) = schema.get("maxItems").and_then(Value::as_u64)
        && count > maximum
    {
        let unit = if maximum == 1 { "item" } else { "items" };
        let detail = format!("must have at most {maximum} {unit}");
        errors.push(FieldError::new(
            path,
            Reason::TooMany,
            Some(Value::from(count)),
            detail,
        ));
    }
}

/// A value outside the schema's `enum`.
fn enum_error(schema: &Value, value: &Value, path: &str) -> Option<FieldError> {
    let allowed = schema.get("enum").and_then(Value::as_array)?;
    let same = |candidate: &Value| match (candidate.as_f64(), value.as_f64()) {
        (Some(left), Some(right)) => left == right,
        _ => candidate == value,
    };
    if allowed.is_empty() || allowed.iter().any(same) {
        return None;
    }
    let supported: Vec<String> = allowed
        .iter()
        .map(|candidate| match candidate {
            Value::String(text) => go_quote(text),
            other => go_quote(&other.to_string()),
        })
        .collect();
    let detail = format!("supported values: {}", supported.join(", "));
    Some(FieldError::new(
        path,
        Reason::NotSupported,
        Some(value.clone()),
        detail,
    ))
}

/// Each known field against its schema, map values against `additionalProperties`, then the
/// `required` fields that are absent.
fn object_errors(
    schema: &Value,
    fields: &serde_json::Map<String, Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let child = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema
        .get("additionalProperties")
        .filter(|additional| additional.is_object());
    for (key, field) in fields {
        match (
            properties.and_then(|properties| properties.get(key)),
            additional,
        ) {
            (Some(property), _) => validate(property, field, &child(key), errors),
            (None, Some(value_schema)) => validate(value_schema, field, &child(key), errors),
            (None, None) => {}
        }
    }
    let required = schema.get("required").and_then(Value::as_array);
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        if !fields.contains_key(name) {
            errors.push(FieldError::required(&child(name)));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn messages(schema: &Value, object: &Value) -> Vec<String> {
        schema_errors(schema, object)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn spec(properties: Value, required: Value) -> Value {
        json!({"type": "object", "required": ["spec"], "properties": {
            "spec": {"type": "object", "properties": properties, "required": required}
        }})
    }

    #[test]
    fn required_fields_and_types_are_checked_as_the_api_server_does() {
        let schema = spec(
            json!({"provider": {"type": "string"}, "replicas": {"type": "integer"}, "capacity": {"type": "object", "properties": {"cpu": {"type": "integer"}}}}),
            json!(["provider", "capacity"]),
        );
        assert_eq!(messages(&schema, &json!({})), ["spec: Required value"]);
        assert_eq!(
            messages(
                &schema,
                &json!({"spec": {"replicas": "two", "capacity": "lots"}})
            ),
            [
                r#"spec.capacity: Invalid value: "string": spec.capacity in body must be of type object: "string""#,
                r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#,
                "spec.provider: Required value",
            ]
        );
        assert!(
            messages(
                &schema,
                &json!({"spec": {"provider": "x", "replicas": 2.0, "capacity": {}}})
            )
            .is_empty()
        );
    }

    #[test]
    fn a_float_in_an_integer_field_is_two_errors() {
        let schema = spec(
            json!({"replicas": {"type": "integer", "minimum": 0.0}}),
            json!([]),
        );
        let errors = schema_errors(&schema, &json!({"spec": {"replicas": 1.5}}));
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                r#"spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number""#,
                r#"Invalid value: "": Checked value must be of type integer (default format) in spec.replicas"#,
            ]
        );
        assert_eq!(errors[1].field, None);
    }

    #[test]
    fn strings_are_checked_for_length_then_pattern() {
        let schema = spec(
            json!({
                "provider": {"type": "string", "minLength": 1, "maxLength": 4},
                "availability": {"type": "string", "pattern": "^[0-9]{1,2}$"}
            }),
            json!([]),
        );
        assert_eq!(
            messages(
                &schema,
                &json!({"spec": {"provider": "", "availability": "100"}})
            ),
            [
                r#"spec.availability: Invalid value: "100": spec.availability in body should match '^[0-9]{1,2}$'"#,
                r#"spec.provider: Invalid value: "": spec.provider in body should be at least 1 chars long"#,
            ]
        );
        assert_eq!(
            messages(&schema, &json!({"spec": {"provider": "ñandú"}})),
            ["spec.provider: Too long: may not be more than 4 bytes"]
        );
    }

    #[test]
    fn numbers_lists_and_enums_are_bounded() {
        let schema = spec(
            json!({
                "cost": {"type": "integer", "minimum": 0.0, "maximum": 100.0},
                "priority": {"type": "integer", "format": "int32"},
                "zones": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
                "environments": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                "tier": {"type": "string", "enum": ["StateOwned", "ForeignPublic"]}
            }),
            json!([]),
        );
        let object = json!({"spec": {
            "cost": 101, "priority": 3_000_000_000_i64, "zones": ["a", 5], "environments": [],
            "tier": "Offshore"
        }});
        assert_eq!(
            messages(&schema, &object),
            [
                "spec.cost: Invalid value: 101: spec.cost in body should be less than or equal to 100",
                "spec.environments: Invalid value: 0: spec.environments in body should have at least 1 items",
                r#"Invalid value: "": Checked value must be of type integer with format int32 in spec.priority"#,
                r#"spec.tier: Unsupported value: "Offshore": supported values: "StateOwned", "ForeignPublic""#,
                r#"spec.zones[1]: Invalid value: "integer": spec.zones[1] in body must be of type string: "integer""#,
                "spec.zones: Too many: 2: must have at most 1 item",
            ]
        );
    }

    #[test]
    fn nulls_are_refused_unless_nullable_and_maps_check_their_values() {
        let schema = spec(
            json!({
                "region": {"type": "string", "nullable": true},
                "zones": {"type": "array", "items": {"type": "string"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 2}},
                "seen": {"type": "string", "format": "date-time"}
            }),
            json!([]),
        );
        let object = json!({"spec": {
            "region": null, "zones": [null], "labels": {"ok": "ab", "long": "abc"}, "seen": "yesterday"
        }});
        assert_eq!(
            messages(&schema, &object),
            [
                "spec.labels.long: Too long: may not be more than 2 bytes",
                r#"spec.seen: Invalid value: "yesterday": spec.seen in body must be of type date-time: "yesterday""#,
                r#"spec.zones[0]: Invalid value: "null": spec.zones[0] in body must be of type string: "null""#,
            ]
        );
    }
}
