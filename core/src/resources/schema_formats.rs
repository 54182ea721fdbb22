//! Removes OpenAPI `format`s the API server does not know (`uint32`, `uint64`…, which schemars
//! emits for unsigned integers): the API server ignores them but warns on every apply. The
//! `minimum: 0` that schemars emits alongside keeps the bound.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

/// Formats Kubernetes validates or knows to ignore quietly.
const KNOWN_FORMATS: [&str; 4] = ["int32", "int64", "date-time", "byte"];

/// `definition` with every unknown `format` removed from its schemas.
pub fn without_unknown_formats(
    mut definition: CustomResourceDefinition,
) -> CustomResourceDefinition {
    for version in &mut definition.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|schema| schema.open_api_v3_schema.as_mut())
        {
            strip(schema);
        }
    }
    definition
}

fn strip(schema: &mut JSONSchemaProps) {
    if schema
        .format
        .as_deref()
        .is_some_and(|format| !KNOWN_FORMATS.contains(&format))
    {
        schema.format = None;
    }
    for property in schema
        .properties
        .iter_mut()
        .flat_map(|properties| properties.values_mut())
    {
        strip(property);
    }
    match schema.items.as_mut() {
        Some(JSONSchemaPropsOrArray::Schema(item)) => strip(item),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => items.iter_mut().for_each(strip),
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(additional)) = schema.additional_properties.as_mut() {
        strip(additional);
    }
    for group in [&mut schema.all_of, &mut schema.any_of, &mut schema.one_of] {
        group.iter_mut().flatten().for_each(strip);
    }
}

#[cfg(test)]
mod tests {
    use crate::resources::custom_resource_definitions;

    #[test]
    fn generated_crds_carry_only_known_formats_and_keep_their_bounds() {
        for definition in custom_resource_definitions() {
            let text = serde_json::to_string(&definition).unwrap_or_default();
            assert!(
                !text.contains("\"format\":\"uint"),
                "{:?}",
                definition.metadata.name
            );
            // Every kind has unsigned fields, whose lower bound (0, or a stated one) must stay.
            assert!(
                text.contains("\"minimum\":"),
                "{:?} lost its lower bounds",
                definition.metadata.name
            );
        }
    }
}
