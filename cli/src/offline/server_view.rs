//! An object as the API server sees it when it validates a create: what `kubectl apply` sends
//! and the server then changes before judging it. Validating the manifest as written would
//! refuse what the server accepts (a `null` it prunes, a default it fills in, a `status` it
//! drops) — so offline validation judges this view instead.

use serde_json::{Map, Number, Value};

/// `object` as the API server validates it on create against `schema` (the CRD's OpenAPI v3
/// schema): `status` dropped when the CRD has a status subresource (a create cannot set it),
/// whole floats as integers (kubectl sends `2.0` as `2`), `null`s of non-nullable fields without
/// a default pruned, and the schema's defaults filled in.
pub fn as_created(object: &Value, schema: &Value, status_subresource: bool) -> Value {
    let mut object = object.clone();
    if status_subresource && let Value::Object(fields) = &mut object {
        fields.remove("status");
    }
    normalise_numbers(&mut object);
    prune_nulls(&mut object, Some(schema));
    default(&mut object, schema);
    object
}

/// JSON numbers as the API server decodes what kubectl encodes: a whole float below 2^63 is an
/// integer, an integer beyond `i64` a float.
fn normalise_numbers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            if let Some(float) = number.as_f64().filter(|_| number.is_f64())
                && float.fract() == 0.0
                && float.abs() < 2_f64.powi(63)
            {
                #[allow(
                    clippy::cast_possible_truncation,
                    reason = "a whole float below 2^63 in magnitude fits in i64 exactly"
                )]
                let whole = float as i64;
                *number = Number::from(whole);
            } else if number.is_u64()
                && number.as_i64().is_none()
                && let Some(float) = number.as_f64().and_then(Number::from_f64)
            {
                *number = float;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_numbers),
        Value::Object(fields) => fields.values_mut().for_each(normalise_numbers),
        _ => {}
    }
}

/// The schema of field `key` of an object with schema `schema`.
fn field_schema<'a>(schema: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    let schema = schema?;
    schema
        .get("properties")
        .and_then(|properties| properties.get(key))
        .or_else(|| {
            schema
                .get("additionalProperties")
                .filter(|additional| additional.is_object())
        })
}

fn nullable(schema: &Value) -> bool {
    schema.get("nullable") == Some(&Value::Bool(true))
}

/// Removes `null` fields whose schema is neither nullable nor defaulted (the API server's
/// `PruneNonNullableNullsWithoutDefaults`); list items are kept.
fn prune_nulls(value: &mut Value, schema: Option<&Value>) {
    match value {
        Value::Object(fields) => {
            fields.retain(|key, field| {
                let pruned = field.is_null()
                    && field_schema(schema, key).is_some_and(|field_schema| {
                        !nullable(field_schema) && field_schema.get("default").is_none()
                    });
                !pruned
            });
            for (key, field) in fields.iter_mut() {
                prune_nulls(field, field_schema(schema, key));
            }
        }
        Value::Array(items) => {
            let item_schema = schema.and_then(|schema| schema.get("items"));
            for item in items {
                prune_nulls(item, item_schema);
            }
        }
        _ => {}
    }
}

/// Fills in the schema's defaults for absent fields and non-nullable `null`s, then defaults
/// inside them (the API server's structural defaulting).
fn default(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(fields) => default_fields(fields, schema),
        Value::Array(items) => {
            let Some(item_schema) = schema.get("items") else {
                return;
            };
            for item in items {
                if item.is_null()
                    && !nullable(item_schema)
                    && let Some(default) = item_schema.get("default")
                {
                    *item = default.clone();
                }
                default(item, item_schema);
            }
        }
        _ => {}
    }
}

fn default_fields(fields: &mut Map<String, Value>, schema: &Value) {
    let properties = schema.get("properties").and_then(Value::as_object);
    for (key, property) in properties.into_iter().flatten() {
        let Some(default) = property.get("default") else {
            continue;
        };
        let absent = fields
            .get(key)
            .is_none_or(|field| field.is_null() && !nullable(property));
        if absent {
            fields.insert(key.clone(), default.clone());
        }
    }
    let additional = schema
        .get("additionalProperties")
        .filter(|additional| additional.is_object());
    for (key, field) in fields.iter_mut() {
        match (
            properties.and_then(|properties| properties.get(key)),
            additional,
        ) {
            (Some(property), _) => default(field, property),
            (None, Some(value_schema)) => {
                if field.is_null()
                    && !nullable(value_schema)
                    && let Some(default) = value_schema.get("default")
                {
                    *field = default.clone();
                }
                default(field, value_schema);
            }
            (None, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "region": {"type": "string", "nullable": true},
                "zones": {"type": "array", "items": {"type": "string"}},
                "replicas": {"type": "integer"},
                "policy": {"type": "string", "default": "Retain"},
                "failover": {"type": "object", "default": {}, "properties": {
                    "grace": {"type": "integer", "default": 60}
                }}
            }},
            "status": {"type": "object", "nullable": true}
        }})
    }

    #[test]
    fn the_server_prunes_nulls_fills_defaults_and_drops_status() {
        let object = json!({
            "metadata": {"name": "a", "labels": null},
            "spec": {"region": null, "zones": null, "replicas": 2.0, "policy": null, "failover": {}},
            "status": {"anything": 1}
        });
        assert_eq!(
            as_created(&object, &schema(), true),
            json!({
                "metadata": {"name": "a", "labels": null},
                "spec": {
                    "region": null, "replicas": 2, "policy": "Retain",
                    "failover": {"grace": 60}
                }
            })
        );
    }

    #[test]
    fn a_defaulted_object_gets_the_defaults_inside_it_and_items_keep_their_nulls() {
        let object = json!({"spec": {"zones": ["a", null], "replicas": 1.5}, "status": {"x": 1}});
        assert_eq!(
            as_created(&object, &schema(), false),
            json!({
                "spec": {"zones": ["a", null], "replicas": 1.5, "policy": "Retain", "failover": {"grace": 60}},
                "status": {"x": 1}
            })
        );
    }

    #[test]
    fn integers_beyond_i64_become_floats() {
        let mut value = json!(u64::MAX);
        normalise_numbers(&mut value);
        assert!(value.is_f64(), "{value}");
    }
}
