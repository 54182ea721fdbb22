//! Lists whose items are keyed (`x-kubernetes-list-type: map`, e.g. a Site's taints by `key`, a
//! Tenant's environments by `name`) or unique (`set`): the API server refuses a second item with
//! the same key, as it refuses it here, with the same words.

use serde_json::{Map, Value};

use crate::offline::field_error::{FieldError, Reason};

/// Every repeated key of a list-type map and repeated item of a list-type set in `object`.
pub fn list_map_errors(schema: &Value, object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    walk(schema, object, "", &mut errors);
    errors
}

fn walk(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema
                .get("additionalProperties")
                .filter(|additional| additional.is_object());
            for (key, field) in fields {
                if let Some(property) = properties.and_then(|properties| properties.get(key)) {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(property, field, &child, errors);
                } else if let Some(value_schema) = additional {
                    walk(value_schema, field, &format!("{path}[{key}]"), errors);
                }
            }
        }
        Value::Array(items) => {
            match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("map") => errors.extend(map_errors(schema, items, path)),
                Some("set") => errors.extend(
                    repeated(items)
                        .into_iter()
                        .map(|index| duplicate(path, index, items[index].clone())),
                ),
                _ => {}
            }
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    walk(item_schema, item, &format!("{path}[{index}]"), errors);
                }
            }
        }
        _ => {}
    }
}

/// Items of a list-type map: each must be an object, and no two may share their keys.
fn map_errors(schema: &Value, items: &[Value], path: &str) -> Vec<FieldError> {
    if let Some((index, item)) = items
        .iter()
        .enumerate()
        .find(|(_, item)| !item.is_null() && !item.is_object())
    {
        return vec![FieldError::invalid(
            &format!("{path}[{index}]"),
            item.clone(),
            "must be an object for an array of list-type map",
        )];
    }
    let key_fields: Vec<&str> = schema
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let keys: Vec<Value> = items
        .iter()
        .map(|item| {
            let present = key_fields
                .iter()
                .filter_map(|field| Some(((*field).to_owned(), item.get(*field)?.clone())));
            Value::Object(present.collect::<Map<String, Value>>())
        })
        .collect();
    repeated(&keys)
        .into_iter()
        .map(|index| duplicate(path, index, keys[index].clone()))
        .collect()
}

/// The index of the second occurrence of each value that occurs more than once.
fn repeated(values: &[Value]) -> Vec<usize> {
    let mut seen: Vec<(&Value, usize)> = Vec::new();
    let mut repeats = Vec::new();
    for (index, value) in values.iter().enumerate() {
        match seen.iter_mut().find(|(earlier, _)| *earlier == value) {
            Some((_, times)) => {
                *times += 1;
                if *times == 2 {
                    repeats.push(index);
                }
            }
            None => seen.push((value, 1)),
        }
    }
    repeats
}

fn duplicate(path: &str, index: usize, value: Value) -> FieldError {
    FieldError::new(
        &format!("{path}[{index}]"),
        Reason::Duplicate,
        Some(value),
        "",
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_repeated_key_is_a_duplicate_value_at_its_second_occurrence() {
        let schema = json!({"properties": {"spec": {"properties": {"taints": {
            "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["key"],
            "items": {"type": "object", "properties": {"key": {"type": "string"}}}
        }}}}});
        let object = json!({"spec": {"taints": [
            {"key": "maintenance"}, {"key": "gpu"}, {"key": "maintenance", "reason": "again"},
            {"key": "maintenance"}
        ]}});
        let messages: Vec<String> = list_map_errors(&schema, &object)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            [r#"spec.taints[2]: Duplicate value: {"key":"maintenance"}"#]
        );
        let fine = json!({"spec": {"taints": [{"key": "a"}, {"key": "b"}]}});
        assert!(list_map_errors(&schema, &fine).is_empty());
    }

    #[test]
    fn sets_refuse_repeated_items_and_maps_refuse_scalars() {
        let schema = json!({"properties": {
            "zones": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "owners": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}
        }});
        let messages: Vec<String> = list_map_errors(
            &schema,
            &json!({"zones": ["a", "b", "a"], "owners": [{"name": "x"}, "y"]}),
        )
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            messages,
            [
                r#"owners[1]: Invalid value: "y": must be an object for an array of list-type map"#,
                r#"zones[2]: Duplicate value: "a""#,
            ]
        );
    }
}
