//! What the API server would refuse in a Soberana object, judged offline from the CRDs generated
//! from the Rust types (the same ones `crds/` holds): the object's name, its OpenAPI v3 schema,
//! its keyed lists and its CEL rules, in the server's order and words. `evaluate`, `explain`
//! and `policies` refuse what `kubectl apply` would, so CI agrees with the cluster.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;
use soberana_core::resources::custom_resource_definitions;

use crate::offline::cel_rules::CelRules;
use crate::offline::field_error::{FieldError, Reason};
use crate::offline::list_maps::list_map_errors;
use crate::offline::object_meta::metadata_errors;
use crate::offline::schema_validation::schema_errors;
use crate::offline::server_view::as_created;

/// What the API server adds when schema errors kept it from running the CEL rules.
pub const RULES_NOT_CHECKED: &str = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

/// One kind's CRD, ready to judge objects.
#[derive(Debug)]
pub struct KindValidation {
    /// The OpenAPI v3 schema of the CRD's (only) version.
    pub schema: Value,
    namespaced: bool,
    status_subresource: bool,
    rules: CelRules,
}

impl KindValidation {
    fn new(definition: &CustomResourceDefinition) -> Option<Self> {
        let version = definition.spec.versions.first()?;
        let schema = version.schema.as_ref()?.open_api_v3_schema.as_ref()?;
        let schema = serde_json::to_value(schema).ok()?;
        let status_subresource = version
            .subresources
            .as_ref()
            .is_some_and(|subresources| subresources.status.is_some());
        Some(Self {
            rules: CelRules::new(&schema),
            schema,
            namespaced: definition.spec.scope == "Namespaced",
            status_subresource,
        })
    }

    /// `object` as the API server stores it on create, and everything it would refuse in it
    /// (empty when it would accept it).
    pub fn judge(&self, object: &Value) -> (Value, Vec<FieldError>) {
        let created = as_created(object, &self.schema, self.status_subresource);
        let mut errors = metadata_errors(&created, self.namespaced);
        errors.extend(schema_errors(&self.schema, &created));
        errors.extend(list_map_errors(&self.schema, &created));
        if errors.iter().any(blocks_rules) {
            errors.push(FieldError {
                field: None,
                reason: Reason::Invalid,
                value: Some(Value::Null),
                detail: RULES_NOT_CHECKED.to_owned(),
            });
        } else {
            errors.extend(self.rules.errors(&created));
        }
        (created, errors)
    }
}

/// The API server runs no CEL rule on an object with a missing field, a value of the wrong type
/// or outside its enum, or one too long: the rules could not evaluate it.
fn blocks_rules(error: &FieldError) -> bool {
    matches!(
        error.reason,
        Reason::NotSupported
            | Reason::Required
            | Reason::TooLong
            | Reason::TooMany
            | Reason::TypeInvalid
    )
}

/// Every Soberana kind's validation, by kind.
#[derive(Debug)]
pub struct CrdValidation {
    kinds: BTreeMap<String, KindValidation>,
}

impl CrdValidation {
    /// From Soberana's CRDs, as generated from the Rust types.
    pub fn soberana() -> Self {
        let kinds = custom_resource_definitions()
            .iter()
            .filter_map(|definition| {
                Some((
                    definition.spec.names.kind.clone(),
                    KindValidation::new(definition)?,
                ))
            })
            .collect();
        Self { kinds }
    }

    /// The validation of `kind`, if it is a Soberana kind.
    pub fn kind(&self, kind: &str) -> Option<&KindValidation> {
        self.kinds.get(kind)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn judged(kind: &str, object: &Value) -> Vec<String> {
        let validation = CrdValidation::soberana();
        let (_, errors) = validation
            .kind(kind)
            .unwrap_or_else(|| panic!("{kind} is a Soberana kind"))
            .judge(object);
        errors.iter().map(ToString::to_string).collect()
    }

    fn site(jurisdiction: Value, tier: &str) -> Value {
        json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "Site", "metadata": {"name": "sv-site"},
            "spec": {
                "provider": "Estado", "sovereigntyTier": tier, "jurisdiction": jurisdiction,
                "offeredAvailability": "99.95", "capacity": {"cpuMillicores": 1, "memoryMebibytes": 1}
            },
            "status": {"observedGeneration": "not checked: a create drops status"}
        })
    }

    #[test]
    fn every_soberana_kind_has_a_schema_and_rules_that_compile() {
        let validation = CrdValidation::soberana();
        for kind in [
            "Site",
            "DataClassification",
            "PlacementRule",
            "Tenant",
            "Workload",
        ] {
            let kind_validation = validation.kind(kind).unwrap_or_else(|| panic!("{kind}"));
            assert!(kind_validation.rules.all_compiled(), "{kind}");
            assert!(kind_validation.status_subresource, "{kind}");
        }
        assert!(
            validation
                .kind("Workload")
                .is_some_and(|workload| workload.namespaced)
        );
        assert!(validation.kind("Site").is_some_and(|site| !site.namespaced));
    }

    /// Every keyword (and format) in `schema` and the schemas under it.
    fn keywords(schema: &Value, found: &mut std::collections::BTreeSet<String>) {
        let Some(fields) = schema.as_object() else {
            return;
        };
        for (keyword, value) in fields {
            found.insert(keyword.clone());
            if keyword == "format" {
                found.insert(format!("format {}", value.as_str().unwrap_or_default()));
            }
        }
        for property in fields
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|properties| properties.values())
        {
            keywords(property, found);
        }
        for nested in ["items", "additionalProperties"] {
            if let Some(nested) = fields.get(nested) {
                keywords(nested, found);
            }
        }
    }

    #[test]
    fn soberana_crds_use_only_keywords_and_formats_checked_offline() {
        let validation = CrdValidation::soberana();
        let mut found = std::collections::BTreeSet::new();
        for kind in validation.kinds.values() {
            keywords(&kind.schema, &mut found);
        }
        let documentation = ["description", "title"];
        let formats = ["format int32", "format int64", "format date-time"];
        let unchecked: Vec<&String> = found
            .iter()
            .filter(|keyword| {
                !crate::offline::schema_validation::KEYWORDS.contains(&keyword.as_str())
                    && !documentation.contains(&keyword.as_str())
                    && !formats.contains(&keyword.as_str())
            })
            .collect();
        assert!(
            unchecked.is_empty(),
            "the CRDs use {unchecked:?}, which offline validation does not check: teach schema_validation (or schema_formats) to check it as the API server does"
        );
        for used in [
            "enum",
            "pattern",
            "maxItems",
            "minItems",
            "format int32",
            "x-kubernetes-validations",
        ] {
            assert!(found.contains(used), "{used} is no longer used: {found:?}");
        }
    }

    #[test]
    fn a_lowercase_jurisdiction_is_refused_with_the_rule_message() {
        assert!(judged("Site", &site(json!("CR"), "StateOwned")).is_empty());
        assert_eq!(
            judged("Site", &site(json!("sv"), "StateOwned")),
            [
                r#"spec.jurisdiction: Invalid value: "sv": must be an ISO 3166-1 alpha-2 country code in capitals, e.g. 'CR', 'DO', 'UY'"#
            ]
        );
    }

    #[test]
    fn schema_errors_that_block_the_rules_say_so_instead_of_running_them() {
        assert_eq!(
            judged("Site", &site(json!("sv"), "Offshore")),
            [
                r#"spec.sovereigntyTier: Unsupported value: "Offshore": supported values: "StateOwned", "NationalProvider", "ForeignPublic""#,
                &format!("Invalid value: null: {RULES_NOT_CHECKED}"),
            ]
        );
    }
}
