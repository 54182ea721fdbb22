//! Every field of every CRD is documented, so `kubectl explain` answers for each.

use serde_json::Value;
use soberana_core::resources::custom_resource_definitions;

fn undocumented(schema: &Value, path: &str, found: &mut Vec<String>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            let child = format!("{path}.{name}");
            let root_boilerplate =
                path.is_empty() && matches!(name.as_str(), "apiVersion" | "kind" | "metadata");
            if !root_boilerplate
                && property
                    .get("description")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            {
                found.push(child.clone());
            }
            undocumented(property, &child, found);
        }
    }
    if let Some(items) = schema.get("items") {
        undocumented(items, &format!("{path}[]"), found);
    }
}

#[test]
fn every_field_has_a_description() {
    for definition in custom_resource_definitions() {
        let version = definition
            .spec
            .versions
            .first()
            .cloned()
            .unwrap_or_default();
        let schema =
            serde_json::to_value(version.schema.and_then(|schema| schema.open_api_v3_schema))
                .unwrap_or_default();
        let mut found = Vec::new();
        undocumented(&schema, "", &mut found);
        assert!(
            found.is_empty(),
            "{}: fields without documentation: {found:?}",
            definition.spec.names.kind
        );
    }
}
