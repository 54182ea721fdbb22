//! The management cluster's proof of who approved an agreement: a `ValidatingAdmissionPolicy`
//! (and its binding) that lets a side's approval be written only by the person it names. Set or
//! changed, `spec.approvals.<side>.approvedBy` must be the writer's own user name, and every
//! group in `groups` one the writer holds; an approval left as it was passes, unless the
//! agreement's terms changed in the same write (an approval covers the terms it was given on).
//! The API server checks this against the authenticated identity, so not even a cluster admin
//! can write an approval in someone else's name. The operator then honours an approval only
//! from an owner of that side's Tenant, and only while this policy is in force as compiled here
//! ([`approval_policy_state`]): without it an approval proves nothing, so nothing opens.

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::{
    MatchResources, NamedRuleWithOperations, ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding, ValidatingAdmissionPolicyBindingSpec,
    ValidatingAdmissionPolicySpec, Validation, Variable,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

/// The policy's name, and its binding's.
pub const APPROVAL_POLICY: &str = "soberana-exchange-approvals";

/// The terms an approval covers: changing any of them unseats the approvals not given in the
/// same write.
const TERMS: [&str; 6] = [
    "provider",
    "consumer",
    "classification",
    "purpose",
    "legalBasis",
    "validity",
];

/// Whether the management cluster proves the approvals it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalPolicyState {
    /// The policy and its binding are in force as compiled: every approval was written by the
    /// identity it names.
    InForce,
    /// They are missing or altered (why): no approval can be told from a forged one.
    Unproven(String),
}

/// The policy: each side's approval set or changed only by the identity it names.
pub fn approval_policy() -> ValidatingAdmissionPolicy {
    let terms_unchanged = TERMS
        .iter()
        .map(|term| format!("oldObject.spec.{term} == object.spec.{term}"))
        .collect::<Vec<_>>()
        .join(" && ");
    let mut variables = vec![variable(
        "termsUnchanged",
        &format!("request.operation == 'UPDATE' && {terms_unchanged}"),
    )];
    let mut validations = Vec::new();
    for side in ["provider", "consumer"] {
        variables.push(variable(side, &format!("object.spec.?approvals.?{side}")));
        variables.push(variable(
            &format!("{side}Before"),
            &format!(
                "request.operation == 'UPDATE' ? oldObject.spec.?approvals.?{side} : optional.none()"
            ),
        ));
        validations.push(Validation {
            expression: format!(
                "!variables.{side}.hasValue() || \
                 (variables.termsUnchanged && variables.{side}Before.hasValue() && variables.{side}Before.value() == variables.{side}.value()) || \
                 (variables.{side}.value().approvedBy == request.userInfo.username && \
                 variables.{side}.value().?groups.orValue([]).all(group, group in request.userInfo.groups))"
            ),
            message_expression: Some(format!(
                "'spec.approvals.{side} must be given by the identity it names: approvedBy must be your user name (' + request.userInfo.username + ') and groups only groups you hold; approvals given before the terms changed must be given again'"
            )),
            reason: Some("Forbidden".to_owned()),
            ..Validation::default()
        });
    }
    ValidatingAdmissionPolicy {
        metadata: metadata(),
        spec: Some(ValidatingAdmissionPolicySpec {
            failure_policy: Some("Fail".to_owned()),
            match_constraints: Some(MatchResources {
                resource_rules: Some(vec![NamedRuleWithOperations {
                    api_groups: Some(vec!["soberana.io".to_owned()]),
                    api_versions: Some(vec!["*".to_owned()]),
                    operations: Some(vec!["CREATE".to_owned(), "UPDATE".to_owned()]),
                    resources: Some(vec!["dataexchanges".to_owned()]),
                    ..NamedRuleWithOperations::default()
                }]),
                ..MatchResources::default()
            }),
            variables: Some(variables),
            validations: Some(validations),
            ..ValidatingAdmissionPolicySpec::default()
        }),
        status: None,
    }
}

/// The binding: the policy denies, for every DataExchange.
pub fn approval_policy_binding() -> ValidatingAdmissionPolicyBinding {
    ValidatingAdmissionPolicyBinding {
        metadata: metadata(),
        spec: ValidatingAdmissionPolicyBindingSpec {
            policy_name: APPROVAL_POLICY.to_owned(),
            validation_actions: vec!["Deny".to_owned()],
            ..ValidatingAdmissionPolicyBindingSpec::default()
        },
    }
}

/// Only the name: whoever installs it (the chart, with Helm's labels) labels it.
fn metadata() -> ObjectMeta {
    ObjectMeta {
        name: Some(APPROVAL_POLICY.to_owned()),
        ..ObjectMeta::default()
    }
}

fn variable(name: &str, expression: &str) -> Variable {
    Variable {
        name: name.to_owned(),
        expression: expression.to_owned(),
    }
}

/// Whether `policy` and `binding`, as the management cluster holds them, enforce what
/// [`approval_policy`] and [`approval_policy_binding`] compile: the same expressions, failing
/// closed, on every DataExchange write, denying, with nothing that exempts a request or an
/// object. Anything else is reported by name, and no approval is honoured.
pub fn approval_policy_state(
    policy: Option<&ValidatingAdmissionPolicy>,
    binding: Option<&ValidatingAdmissionPolicyBinding>,
) -> ApprovalPolicyState {
    let mut problems = Vec::new();
    let expected = approval_policy().spec.unwrap_or_default();
    match policy.and_then(|policy| policy.spec.as_ref()) {
        None => problems.push(format!(
            "the ValidatingAdmissionPolicy {APPROVAL_POLICY} does not exist"
        )),
        Some(live) => {
            if live.validations != expected.validations || live.variables != expected.variables {
                problems.push(format!(
                    "the ValidatingAdmissionPolicy {APPROVAL_POLICY} does not hold the expressions Soberana ships"
                ));
            }
            if live.failure_policy.as_deref() != Some("Fail") {
                problems.push(format!(
                    "the ValidatingAdmissionPolicy {APPROVAL_POLICY} does not fail closed (failurePolicy is not Fail)"
                ));
            }
            if live
                .match_conditions
                .as_ref()
                .is_some_and(|conditions| !conditions.is_empty())
                || !matches_every_write(live.match_constraints.as_ref())
            {
                problems.push(format!(
                    "the ValidatingAdmissionPolicy {APPROVAL_POLICY} does not match every create and update of a DataExchange"
                ));
            }
        }
    }
    match binding {
        None => problems.push(format!(
            "the ValidatingAdmissionPolicyBinding {APPROVAL_POLICY} does not exist"
        )),
        Some(binding) => {
            let spec = &binding.spec;
            if spec.policy_name != APPROVAL_POLICY
                || !spec
                    .validation_actions
                    .iter()
                    .any(|action| action == "Deny")
                || spec.param_ref.is_some()
                || !narrows_nothing(spec.match_resources.as_ref())
            {
                problems.push(format!(
                    "the ValidatingAdmissionPolicyBinding {APPROVAL_POLICY} does not bind the policy with Deny to every DataExchange"
                ));
            }
        }
    }
    if problems.is_empty() {
        ApprovalPolicyState::InForce
    } else {
        ApprovalPolicyState::Unproven(problems.join("; "))
    }
}

/// The policy's match: create and update of `soberana.io` `dataexchanges` in every version, and
/// no selector or exclusion that would let one pass unchecked.
fn matches_every_write(constraints: Option<&MatchResources>) -> bool {
    let Some(constraints) = constraints else {
        return false;
    };
    let wanted = |rule: &NamedRuleWithOperations| {
        let has = |list: &Option<Vec<String>>, item: &str| {
            list.as_ref()
                .is_some_and(|list| list.iter().any(|value| value == item || value == "*"))
        };
        has(&rule.api_groups, "soberana.io")
            && has(&rule.api_versions, "*")
            && has(&rule.operations, "CREATE")
            && has(&rule.operations, "UPDATE")
            && has(&rule.resources, "dataexchanges")
            && rule.resource_names.as_ref().is_none_or(Vec::is_empty)
    };
    constraints
        .resource_rules
        .as_ref()
        .is_some_and(|rules| rules.iter().any(wanted))
        && constraints
            .exclude_resource_rules
            .as_ref()
            .is_none_or(Vec::is_empty)
        && selects_everything(constraints.object_selector.as_ref())
        && selects_everything(constraints.namespace_selector.as_ref())
}

/// A binding's `matchResources` that narrows nothing: absent, or without rules and selectors.
fn narrows_nothing(resources: Option<&MatchResources>) -> bool {
    resources.is_none_or(|resources| {
        resources.resource_rules.as_ref().is_none_or(Vec::is_empty)
            && resources
                .exclude_resource_rules
                .as_ref()
                .is_none_or(Vec::is_empty)
            && selects_everything(resources.object_selector.as_ref())
            && selects_everything(resources.namespace_selector.as_ref())
    })
}

fn selects_everything(selector: Option<&LabelSelector>) -> bool {
    selector.is_none_or(|selector| {
        selector
            .match_labels
            .as_ref()
            .is_none_or(BTreeMap::is_empty)
            && selector
                .match_expressions
                .as_ref()
                .is_none_or(Vec::is_empty)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::*;
    use k8s_openapi::api::admissionregistration::v1::MatchCondition;

    fn in_force() -> (ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding) {
        (approval_policy(), approval_policy_binding())
    }

    fn unproven(state: &ApprovalPolicyState) -> &str {
        match state {
            ApprovalPolicyState::Unproven(why) => why,
            ApprovalPolicyState::InForce => panic!("judged in force"),
        }
    }

    #[test]
    fn the_compiled_policy_and_binding_are_in_force() {
        let (policy, binding) = in_force();
        assert_eq!(
            approval_policy_state(Some(&policy), Some(&binding)),
            ApprovalPolicyState::InForce
        );
    }

    #[test]
    fn a_missing_policy_or_binding_proves_nothing() {
        let (policy, binding) = in_force();
        let state = approval_policy_state(None, Some(&binding));
        assert!(
            unproven(&state)
                .contains("ValidatingAdmissionPolicy soberana-exchange-approvals does not exist"),
            "{state:?}"
        );
        let state = approval_policy_state(Some(&policy), None);
        assert!(
            unproven(&state).contains(
                "ValidatingAdmissionPolicyBinding soberana-exchange-approvals does not exist"
            ),
            "{state:?}"
        );
    }

    #[test]
    fn an_altered_policy_or_binding_proves_nothing() {
        let (policy, binding) = in_force();
        let mut weakened = policy.clone();
        weakened
            .spec
            .as_mut()
            .unwrap()
            .validations
            .as_mut()
            .unwrap()[0]
            .expression = "true".to_owned();
        assert!(
            unproven(&approval_policy_state(Some(&weakened), Some(&binding)))
                .contains("does not hold the expressions")
        );

        let mut ignoring = policy.clone();
        ignoring.spec.as_mut().unwrap().failure_policy = Some("Ignore".to_owned());
        assert!(
            unproven(&approval_policy_state(Some(&ignoring), Some(&binding)))
                .contains("does not fail closed")
        );

        let mut exempting = policy.clone();
        exempting.spec.as_mut().unwrap().match_conditions = Some(vec![MatchCondition {
            name: "not-mine".to_owned(),
            expression: "request.userInfo.username != 'mallory'".to_owned(),
        }]);
        assert!(
            unproven(&approval_policy_state(Some(&exempting), Some(&binding)))
                .contains("does not match every create and update")
        );

        let mut warning_only = binding.clone();
        warning_only.spec.validation_actions = vec!["Warn".to_owned()];
        assert!(
            unproven(&approval_policy_state(Some(&policy), Some(&warning_only)))
                .contains("does not bind the policy with Deny")
        );

        let mut narrowed = binding;
        narrowed.spec.match_resources = Some(MatchResources {
            object_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("checked".to_owned(), "yes".to_owned())])),
                ..LabelSelector::default()
            }),
            ..MatchResources::default()
        });
        assert!(
            unproven(&approval_policy_state(Some(&policy), Some(&narrowed)))
                .contains("does not bind the policy with Deny")
        );
    }

    #[test]
    fn every_approval_is_checked_against_the_writer_and_the_terms_it_covers() {
        let policy = approval_policy().spec.unwrap();
        let validations = policy.validations.unwrap();
        assert_eq!(validations.len(), 2);
        for (validation, side) in validations.iter().zip(["provider", "consumer"]) {
            assert!(validation.expression.contains(&format!(
                "variables.{side}.value().approvedBy == request.userInfo.username"
            )));
            assert!(validation.expression.contains("in request.userInfo.groups"));
            assert!(validation.expression.contains("variables.termsUnchanged"));
        }
        let terms = &policy.variables.unwrap()[0].expression;
        for term in TERMS {
            assert!(terms.contains(&format!("oldObject.spec.{term} == object.spec.{term}")));
        }
    }
}
