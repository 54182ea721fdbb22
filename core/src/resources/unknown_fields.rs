//! Unknown-field detection against the CRDs' OpenAPI schemas, as the API server's strict field
//! validation does: a misspelt field (`cpuMilicores`) is an error, never silently ignored.

use serde_json::Value;

/// Metadata fields an object may carry (the CRD schema leaves `metadata` open).
const METADATA_FIELDS: [&str; 14] = [
    "name",
    "namespace",
    "labels",
    "annotations",
    "generateName",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "finalizers",
    "ownerReferences",
    "managedFields",
];

/// Paths (e.g. `spec.capacity.cpuMilicores`) of fields in `object` that `schema` does not know.
pub fn unknown_fields(object: &Value, schema: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    walk(object, schema, "", &mut unknown);
    unknown
}

fn walk(value: &Value, schema: &Value, path: &str, unknown: &mut Vec<String>) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match value {
        Value::Object(fields) => {
            if path == "metadata" {
                for key in fields
                    .keys()
                    .filter(|key| !METADATA_FIELDS.contains(&key.as_str()))
                {
                    unknown.push(join(path, key));
                }
                return;
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema
                .get("additionalProperties")
                .filter(|additional| additional.is_object());
            for (key, field) in fields {
                let child = join(path, key);
                // The API server knows these at the root of every object; CRD schemas omit them.
                if path.is_empty() && matches!(key.as_str(), "apiVersion" | "kind") {
                    continue;
                }
                if path.is_empty() && key == "metadata" {
                    walk(field, &Value::Null, "metadata", unknown);
                    continue;
                }
                match (
                    properties.and_then(|properties| properties.get(key)),
                    additional,
                ) {
                    (Some(field_schema), _) => walk(field, field_schema, &child, unknown),
                    (None, Some(value_schema)) => walk(field, value_schema, &child, unknown),
                    (None, None) if properties.is_some() => unknown.push(child),
                    (None, None) => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    walk(item, item_schema, &format!("{path}[{index}]"), unknown);
                }
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn misspelt_fields_are_found_at_any_depth_and_known_ones_pass() {
        let schema = json!({"properties": {
            "metadata": {"type": "object"},
            "spec": {"properties": {
                "capacity": {"properties": {"cpuMillicores": {}}},
                "zones": {"items": {"type": "string"}},
                "taints": {"items": {"properties": {"key": {}}}},
                "labels": {"additionalProperties": {"type": "string"}}
            }}
        }});
        let object = json!({
            "metadata": {"name": "a", "labels": {"x": "y"}, "nmae": "typo"},
            "spec": {
                "capacity": {"cpuMilicores": 1, "cpuMillicores": 2},
                "zones": ["a"], "taints": [{"key": "k"}, {"kee": "k"}],
                "labels": {"anything": "goes"}, "replicaz": 3
            }
        });
        assert_eq!(
            unknown_fields(&object, &schema),
            [
                "metadata.nmae",
                "spec.capacity.cpuMilicores",
                "spec.replicaz",
                "spec.taints[1].kee"
            ]
        );
    }
}
