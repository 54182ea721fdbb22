//! Admission policies on a member that Soberana did not put there and that may refuse its own
//! writes. A cluster admin (or a stolen token with rights over admission policies) can bind a
//! policy that refuses everything Soberana does there; the site then silently stops converging.
//! Such a policy is named on the Site rather than hidden behind `Ready`.
//!
//! Judged from the objects alone, conservatively: a policy counts when a binding puts it in
//! force with `Deny` and its match rules cover a resource Soberana writes on members, whatever
//! its expressions say (they cannot be evaluated here).

use std::collections::BTreeSet;

use k8s_openapi::api::admissionregistration::v1::{
    NamedRuleWithOperations, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};

/// The policies the member chart installs (`charts/soberana-member/files/member-cluster.yaml`):
/// Soberana's, though not compiled by the operator.
pub const MEMBER_CHART_POLICIES: [&str; 3] = [
    "soberana-operator-confinement",
    "soberana-tenant-fences",
    "soberana-tenant-services",
];

/// What Soberana writes on a member, as (API group, resource).
const WRITTEN: [(&str, &str); 8] = [
    ("", "namespaces"),
    ("", "resourcequotas"),
    ("", "limitranges"),
    ("", "services"),
    ("networking.k8s.io", "networkpolicies"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("apps", "deployments"),
    (
        "admissionregistration.k8s.io",
        "validatingadmissionpolicies",
    ),
];

/// The names of the policies in `policies` that are not Soberana's (`own`, and the member
/// chart's), are bound with `Deny` by one of `bindings`, and match a write Soberana makes.
/// Sorted, for a stable condition message.
pub fn foreign_blocking_policies(
    policies: &[ValidatingAdmissionPolicy],
    bindings: &[ValidatingAdmissionPolicyBinding],
    own: &BTreeSet<&str>,
) -> Vec<String> {
    let denying: BTreeSet<&str> = bindings
        .iter()
        .filter(|binding| {
            binding
                .spec
                .validation_actions
                .iter()
                .any(|action| action == "Deny")
        })
        .map(|binding| binding.spec.policy_name.as_str())
        .collect();
    let mut found: Vec<String> = policies
        .iter()
        .filter_map(|policy| {
            let name = policy.metadata.name.as_deref()?;
            let foreign = !own.contains(name) && !MEMBER_CHART_POLICIES.contains(&name);
            let rules = policy
                .spec
                .as_ref()?
                .match_constraints
                .as_ref()?
                .resource_rules
                .as_ref()?;
            (foreign && denying.contains(name) && rules.iter().any(covers_a_write))
                .then(|| name.to_owned())
        })
        .collect();
    found.sort();
    found
}

/// Whether `rule` matches a create, update or delete of something Soberana writes.
fn covers_a_write(rule: &NamedRuleWithOperations) -> bool {
    let any = |values: &Option<Vec<String>>, wanted: &str| {
        values
            .iter()
            .flatten()
            .any(|value| value == "*" || value == wanted)
    };
    let writes = ["CREATE", "UPDATE", "DELETE"]
        .iter()
        .any(|operation| any(&rule.operations, operation));
    writes
        && WRITTEN.iter().any(|(group, resource)| {
            any(&rule.api_groups, group)
                && rule.resources.iter().flatten().any(|candidate| {
                    candidate == "*"
                        || candidate == resource
                        || candidate
                            .strip_suffix("/*")
                            .is_some_and(|base| base == *resource || base == "*")
                })
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn policy(
        name: &str,
        groups: &[&str],
        resources: &[&str],
        operations: &[&str],
    ) -> ValidatingAdmissionPolicy {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"matchConstraints": {"resourceRules": [
                {"apiGroups": groups, "apiVersions": ["*"], "resources": resources, "operations": operations}
            ]}, "validations": [{"expression": "false"}]}
        }))
        .unwrap()
    }

    fn binding(policy: &str, actions: &[&str]) -> ValidatingAdmissionPolicyBinding {
        serde_json::from_value(json!({
            "metadata": {"name": policy},
            "spec": {"policyName": policy, "validationActions": actions}
        }))
        .unwrap()
    }

    #[test]
    fn a_deny_everything_policy_is_named_and_soberanas_own_are_not() {
        let policies = [
            policy("deny-everything", &["*"], &["*"], &["*"]),
            policy("soberana-residency", &["*"], &["*"], &["*"]),
            policy("soberana-tenant-fences", &["*"], &["*"], &["*"]),
            policy("namespaces-audit", &[""], &["namespaces"], &["CREATE"]),
            policy("pods-only", &[""], &["pods"], &["CREATE"]),
            policy("unbound", &["*"], &["*"], &["*"]),
            policy(
                "deployments-deleted",
                &["apps"],
                &["deployments"],
                &["DELETE"],
            ),
            policy("connect-only", &["*"], &["*"], &["CONNECT"]),
        ];
        let bindings = [
            binding("deny-everything", &["Deny"]),
            binding("soberana-residency", &["Deny"]),
            binding("soberana-tenant-fences", &["Deny"]),
            binding("namespaces-audit", &["Audit", "Warn"]),
            binding("pods-only", &["Deny"]),
            binding("deployments-deleted", &["Warn", "Deny"]),
            binding("connect-only", &["Deny"]),
        ];
        let own = BTreeSet::from(["soberana-residency"]);
        assert_eq!(
            foreign_blocking_policies(&policies, &bindings, &own),
            vec![
                "deny-everything".to_owned(),
                "deployments-deleted".to_owned()
            ]
        );
    }
}
