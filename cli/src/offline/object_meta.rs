//! The API server's checks of an object's name and namespace: a custom resource's name is a
//! DNS subdomain (`state-dc-primary`, not `State_DC`), a namespace a DNS label. Worded as the
//! server words them.

use serde_json::Value;

use crate::offline::field_error::FieldError;

const LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const SUBDOMAIN: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

/// The errors in `metadata.name` and, for a namespaced kind, `metadata.namespace` (when given;
/// kubectl fills in a missing one).
pub fn metadata_errors(object: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str) {
        errors.extend(
            subdomain_problems(name)
                .into_iter()
                .map(|problem| FieldError::invalid("metadata.name", Value::from(name), problem)),
        );
    }
    if namespaced
        && let Some(namespace) = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
    {
        errors.extend(label_problems(namespace).into_iter().map(|problem| {
            FieldError::invalid("metadata.namespace", Value::from(namespace), problem)
        }));
    }
    errors
}

fn matches(pattern: &str, text: &str) -> bool {
    regex::Regex::new(&format!("^{pattern}$")).is_ok_and(|expression| expression.is_match(text))
}

/// `IsDNS1123Subdomain`.
fn subdomain_problems(name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if name.len() > 253 {
        problems.push("must be no more than 253 characters".to_owned());
    }
    if !matches(SUBDOMAIN, name) {
        problems.push(format!(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{SUBDOMAIN}')"
        ));
    }
    problems
}

/// `IsDNS1123Label`.
fn label_problems(name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if name.len() > 63 {
        problems.push("must be no more than 63 characters".to_owned());
    }
    if !matches(LABEL, name) {
        problems.push(if matches(SUBDOMAIN, name) {
            "must not contain dots".to_owned()
        } else {
            format!(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{LABEL}')"
            )
        });
    }
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_are_dns_subdomains_and_namespaces_dns_labels() {
        let fine = json!({"metadata": {"name": "state-dc.primary", "namespace": "minsa-prod"}});
        assert!(metadata_errors(&fine, true).is_empty());
        let bad = json!({"metadata": {"name": "State_DC", "namespace": "minsa.prod"}});
        let messages: Vec<String> = metadata_errors(&bad, true)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages[0].starts_with(
                r#"metadata.name: Invalid value: "State_DC": a lowercase RFC 1123 subdomain"#
            ),
            "{messages:?}"
        );
        assert_eq!(
            messages[1],
            r#"metadata.namespace: Invalid value: "minsa.prod": must not contain dots"#
        );
        let cluster_scoped = json!({"metadata": {"name": "site", "namespace": "Not Checked"}});
        assert!(metadata_errors(&cluster_scoped, false).is_empty());
        let long = "a".repeat(254);
        assert_eq!(
            metadata_errors(&json!({"metadata": {"name": long}}), false)[0].detail,
            "must be no more than 253 characters"
        );
    }
}
