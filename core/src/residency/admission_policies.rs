//! Compiling a site's residency rules into `ValidatingAdmissionPolicy` objects and their
//! bindings (`admissionregistration.k8s.io/v1`). Six policies, each about one thing:
//!
//! - `soberana-residency`: namespaces and workloads whose classification this site may not host,
//!   or that name an unknown classification;
//! - `soberana-tenant-workloads`: in tenant namespaces, workloads without a classification (unless
//!   the tenant sets a default) and workloads above the namespace's classification ceiling;
//! - `soberana-pod-templates` and `soberana-cronjob-templates`: a workload's pod template must
//!   carry the workload's classification, since the pods it creates are judged by their own label;
//! - `soberana-tenant-namespace-labels`: only Soberana may set or change the labels that make a
//!   namespace a tenant's (and, on a tenant namespace, its Pod Security level and tenant UID);
//! - `soberana-status-labels`: none of those labels, nor a pod's classification, may change
//!   through the `status` subresource, which would otherwise bypass the policies above.
//!
//! Every expression tolerates missing labels, so a policy never fails on odd input; the policies
//! fail closed (`failurePolicy: Fail`) if the API server cannot evaluate them.

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::{
    MatchCondition, MatchResources, NamedRuleWithOperations, ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding, ValidatingAdmissionPolicyBindingSpec,
    ValidatingAdmissionPolicySpec, Validation, Variable,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use serde::Serialize;

use super::cel;
use super::site_residency::SiteResidency;
use crate::tenancy::labels;

/// The identity Soberana's operator has on member clusters (its ServiceAccount there).
pub const DEFAULT_SOBERANA_IDENTITY: &str =
    "system:serviceaccount:soberana-system:soberana-operator";
/// Label on every compiled object: the revision of the compiled set it belongs to.
pub const POLICY_REVISION: &str = "soberana.io/policy-revision";
/// Label on every compiled object: the site it was compiled for.
pub const POLICY_SITE: &str = "soberana.io/site";

/// Stands for the revision in messages until it is known: the API server's answer to an
/// unknown classification names the revision it enforces, which is how the operator confirms
/// that a newly applied revision is the one in force.
const REVISION_PLACEHOLDER: &str = "@REVISION@";
/// The classification the operator's probe asks about: never a DataClassification's name
/// (names are lowercase).
pub const PROBE_CLASSIFICATION: &str = "Soberana-Probe";

/// One object of a site's compiled policy set.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AdmissionObject {
    Policy(ValidatingAdmissionPolicy),
    Binding(ValidatingAdmissionPolicyBinding),
}

impl AdmissionObject {
    pub fn name(&self) -> &str {
        let metadata = match self {
            Self::Policy(policy) => &policy.metadata,
            Self::Binding(binding) => &binding.metadata,
        };
        metadata.name.as_deref().unwrap_or_default()
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Self::Policy(policy) => &mut policy.metadata,
            Self::Binding(binding) => &mut binding.metadata,
        }
    }
}

/// Everything a site's API server needs to enforce residency, and its revision.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledPolicies {
    pub site: String,
    /// A digest of the compiled objects: equal revisions enforce the same rules.
    pub revision: String,
    /// Policies first, then their bindings.
    pub objects: Vec<AdmissionObject>,
    /// The classifications the site may host, least sensitive first.
    pub allowed: Vec<String>,
}

/// Compiles the residency policies of `residency`'s site. `soberana_identity` is the user name
/// the operator has on that site; only it may change tenant namespace labels.
pub fn compile(residency: &SiteResidency, soberana_identity: &str) -> CompiledPolicies {
    let policies = vec![
        residency_policy(residency),
        tenant_workloads_policy(residency),
        pod_template_policy(
            "soberana-pod-templates",
            "object.spec.template",
            &[
                ("apps", &["deployments", "statefulsets", "daemonsets"]),
                ("batch", &["jobs"]),
            ],
        ),
        cronjob_templates_policy(),
        namespace_labels_policy(soberana_identity),
        status_labels_policy(soberana_identity),
    ];
    let bindings: Vec<AdmissionObject> = policies
        .iter()
        .map(|policy| {
            let name = policy.metadata.name.clone().unwrap_or_default();
            // Tenant rules apply in tenant namespaces only; the rest everywhere.
            let namespaces = (name == "soberana-tenant-workloads").then(|| LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: labels::TENANT.to_owned(),
                    operator: "Exists".to_owned(),
                    values: None,
                }]),
                ..LabelSelector::default()
            });
            AdmissionObject::Binding(binding(&name, namespaces))
        })
        .collect();
    let mut objects: Vec<AdmissionObject> = policies
        .into_iter()
        .map(AdmissionObject::Policy)
        .chain(bindings)
        .collect();
    let revision = revision_of(&objects);
    for object in &mut objects {
        if let AdmissionObject::Policy(policy) = object {
            for validation in policy
                .spec
                .iter_mut()
                .flat_map(|spec| spec.validations.iter_mut().flatten())
            {
                if let Some(expression) = &mut validation.message_expression {
                    *expression = expression.replace(REVISION_PLACEHOLDER, &revision);
                }
            }
        }
        let metadata = object.metadata_mut();
        let object_labels = metadata.labels.get_or_insert_with(BTreeMap::new);
        object_labels.insert(POLICY_REVISION.to_owned(), revision.clone());
        object_labels.insert(POLICY_SITE.to_owned(), residency.site.clone());
    }
    CompiledPolicies {
        site: residency.site.clone(),
        revision,
        objects,
        allowed: residency.allowed(),
    }
}

/// The workload kinds residency applies to, by API group.
const WORKLOADS: [(&str, &[&str]); 3] = [
    ("", &["pods", "persistentvolumeclaims"]),
    ("apps", &["deployments", "statefulsets", "daemonsets"]),
    ("batch", &["jobs", "cronjobs"]),
];

fn residency_policy(residency: &SiteResidency) -> ValidatingAdmissionPolicy {
    let mut resources: Vec<(&str, &[&str])> = vec![("", &["namespaces"])];
    resources.extend(WORKLOADS);
    let mut validations = vec![Validation {
        expression: "variables.classification == '' || variables.classification in variables.ranks"
            .to_owned(),
        message_expression: Some(format!(
            "{} + variables.classification + {}",
            cel::string(&format!("{}=", labels::CLASSIFICATION)),
            cel::string(&format!(
                " is not a DataClassification known to site {} (known: {}; residency policy revision {REVISION_PLACEHOLDER})",
                residency.site,
                residency
                    .ranks
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        )),
        reason: Some("Forbidden".to_owned()),
        ..Validation::default()
    }];
    for classification in residency.refused.keys() {
        validations.push(Validation {
            expression: format!(
                "variables.classification != {}",
                cel::string(classification)
            ),
            message: residency.refusal(classification),
            reason: Some("Forbidden".to_owned()),
            ..Validation::default()
        });
    }
    policy(
        "soberana-residency",
        &resources,
        [
            classification_variables(),
            vec![variable("ranks", &cel::ranks(&residency.ranks))],
        ]
        .concat(),
        Vec::new(),
        validations,
    )
}

fn tenant_workloads_policy(residency: &SiteResidency) -> ValidatingAdmissionPolicy {
    let within_ceiling = "variables.classification == '' || !(variables.classification in variables.ranks) || (variables.ceiling in variables.ranks && variables.ranks[variables.classification] <= variables.ranks[variables.ceiling])";
    policy(
        "soberana-tenant-workloads",
        &WORKLOADS,
        [classification_variables(), vec![
            variable(
                "ceiling",
                &cel::label("variables.namespaceLabels", labels::CLASSIFICATION_CEILING),
            ),
            variable(
                "tenant",
                &cel::label("variables.namespaceLabels", labels::TENANT),
            ),
            variable("ranks", &cel::ranks(&residency.ranks)),
        ]]
        .concat(),
        Vec::new(),
        vec![
            Validation {
                expression: "variables.classification != ''".to_owned(),
                message_expression: Some(format!(
                    "{} + namespaceObject.metadata.name + {}",
                    cel::string("every workload in tenant namespace "),
                    cel::string(&format!(
                        " must carry the label {} (or its Tenant must set spec.defaultClassification)",
                        labels::CLASSIFICATION
                    ))
                )),
                reason: Some("Forbidden".to_owned()),
                ..Validation::default()
            },
            Validation {
                expression: within_ceiling.to_owned(),
                message_expression: Some(
                    "'data classified ' + variables.classification + ' may not run in namespace ' + namespaceObject.metadata.name + ': tenant ' + variables.tenant + ' may handle data up to ' + variables.ceiling".to_owned(),
                ),
                reason: Some("Forbidden".to_owned()),
                ..Validation::default()
            },
        ],
    )
}

fn pod_template_policy(
    name: &str,
    template: &str,
    resources: &[(&str, &[&str])],
) -> ValidatingAdmissionPolicy {
    policy(
        name,
        resources,
        [classification_variables(), vec![
            variable(
                "templateLabels",
                &format!(
                    "has({template}.metadata) && has({template}.metadata.labels) ? {template}.metadata.labels : {{}}"
                ),
            ),
            variable(
                "templateClassification",
                &cel::effective_classification("variables.templateLabels"),
            ),
        ]]
        .concat(),
        Vec::new(),
        vec![Validation {
            expression: "variables.templateClassification == variables.classification".to_owned(),
            message_expression: Some(format!(
                "{} + (variables.templateClassification == '' ? 'none' : variables.templateClassification) + ' but the workload has ' + (variables.classification == '' ? 'none' : variables.classification) + {}",
                cel::string(&format!(
                    "the pod template's {} is ",
                    labels::CLASSIFICATION
                )),
                cel::string(": its pods are judged by their own label, so both must be the same")
            )),
            reason: Some("Forbidden".to_owned()),
            ..Validation::default()
        }],
    )
}

/// A CronJob's pod template and its job template must both carry the CronJob's classification:
/// the Jobs it creates are judged by the job template's labels, their pods by the pod template's.
fn cronjob_templates_policy() -> ValidatingAdmissionPolicy {
    let mut policy = pod_template_policy(
        "soberana-cronjob-templates",
        "object.spec.jobTemplate.spec.template",
        &[("batch", &["cronjobs"])],
    );
    if let Some(spec) = policy.spec.as_mut() {
        spec.variables.get_or_insert_with(Vec::new).extend([
            variable(
                "jobTemplateLabels",
                "has(object.spec.jobTemplate.metadata) && has(object.spec.jobTemplate.metadata.labels) ? object.spec.jobTemplate.metadata.labels : {}",
            ),
            variable(
                "jobTemplateClassification",
                &cel::effective_classification("variables.jobTemplateLabels"),
            ),
        ]);
        spec.validations.get_or_insert_with(Vec::new).push(Validation {
            expression: "variables.jobTemplateClassification == variables.classification"
                .to_owned(),
            message_expression: Some(format!(
                "{} + (variables.jobTemplateClassification == '' ? 'none' : variables.jobTemplateClassification) + ' but the CronJob has ' + (variables.classification == '' ? 'none' : variables.classification) + {}",
                cel::string(&format!(
                    "the job template's {} is ",
                    labels::CLASSIFICATION
                )),
                cel::string(": the Jobs it creates are judged by their own label, so both must be the same")
            )),
            reason: Some("Forbidden".to_owned()),
            ..Validation::default()
        });
    }
    policy
}

/// Labels can also change through the `status` subresource of namespaces and pods; there only
/// Soberana may change the labels that decide residency (a tenant's labels, a pod's
/// classification, the namespace's Pod Security level).
fn status_labels_policy(soberana_identity: &str) -> ValidatingAdmissionPolicy {
    let guarded: Vec<&str> = labels::TENANT_NAMESPACE_LABELS
        .iter()
        .copied()
        .chain([labels::CLASSIFICATION, labels::POD_SECURITY_ENFORCE])
        .collect();
    policy(
        "soberana-status-labels",
        &[("", &["namespaces/status", "pods/status"])],
        vec![
            variable("newLabels", &cel::labels_of("object.metadata")),
            variable(
                "oldLabels",
                "oldObject != null && has(oldObject.metadata.labels) ? oldObject.metadata.labels : {}",
            ),
        ],
        vec![MatchCondition {
            name: "not-soberana".to_owned(),
            expression: format!(
                "request.userInfo.username != {}",
                cel::string(soberana_identity)
            ),
        }],
        vec![Validation {
            expression: format!(
                "{}.all(key, (key in variables.newLabels ? variables.newLabels[key] : '') == (key in variables.oldLabels ? variables.oldLabels[key] : ''))",
                cel::string_list(guarded.iter().copied())
            ),
            message_expression: Some(format!(
                "{} + request.userInfo.username + ' may not change them on ' + request.resource.resource + ' ' + object.metadata.name",
                cel::string(&format!(
                    "the labels {} change only through the object itself, and only by Soberana for tenant labels; through the status subresource ",
                    guarded.join(", ")
                ))
            )),
            reason: Some("Forbidden".to_owned()),
            ..Validation::default()
        }],
    )
}

fn namespace_labels_policy(soberana_identity: &str) -> ValidatingAdmissionPolicy {
    let protected = labels::TENANT_NAMESPACE_LABELS;
    let soberana_labels: Vec<&str> = protected
        .iter()
        .copied()
        .filter(|key| *key != labels::MANAGED_BY)
        .collect();
    let managed = cel::string(labels::MANAGED_BY);
    let manager = cel::string(labels::MANAGER);
    let unchanged = format!(
        "{}.all(key, (key in variables.newLabels ? variables.newLabels[key] : '') == (key in variables.oldLabels ? variables.oldLabels[key] : '')) && ((({managed} in variables.newLabels) && variables.newLabels[{managed}] == {manager}) == (({managed} in variables.oldLabels) && variables.oldLabels[{managed}] == {manager}))",
        cel::string_list(soberana_labels.iter().copied())
    );
    policy(
        "soberana-tenant-namespace-labels",
        &[("", &["namespaces"])],
        vec![
            variable("newLabels", &cel::labels_of("object.metadata")),
            variable(
                "oldLabels",
                "oldObject != null && has(oldObject.metadata.labels) ? oldObject.metadata.labels : {}",
            ),
            variable("newUid", &annotation_of("object", labels::TENANT_UID)),
            variable("oldUid", &annotation_of("oldObject", labels::TENANT_UID)),
        ],
        vec![MatchCondition {
            name: "not-soberana".to_owned(),
            expression: format!(
                "request.userInfo.username != {}",
                cel::string(soberana_identity)
            ),
        }],
        vec![
            Validation {
                expression: unchanged,
                message_expression: Some(format!(
                    "{} + request.userInfo.username + ' may not set or change them on namespace ' + object.metadata.name",
                    cel::string(&format!(
                        "only Soberana may set or change the labels {} ({}={}); ",
                        soberana_labels.join(", "),
                        labels::MANAGED_BY,
                        labels::MANAGER
                    ))
                )),
                reason: Some("Forbidden".to_owned()),
                ..Validation::default()
            },
            Validation {
                expression: format!(
                    "!(({managed} in variables.oldLabels) && variables.oldLabels[{managed}] == {manager}) || ((({pod_security} in variables.newLabels ? variables.newLabels[{pod_security}] : '') == ({pod_security} in variables.oldLabels ? variables.oldLabels[{pod_security}] : '')) && variables.newUid == variables.oldUid)",
                    pod_security = cel::string(labels::POD_SECURITY_ENFORCE),
                ),
                message_expression: Some(format!(
                    "{} + request.userInfo.username + ' may not change them on namespace ' + object.metadata.name",
                    cel::string(&format!(
                        "on a tenant namespace only Soberana may change the label {} and the annotation {}; ",
                        labels::POD_SECURITY_ENFORCE,
                        labels::TENANT_UID
                    ))
                )),
                reason: Some("Forbidden".to_owned()),
                ..Validation::default()
            },
        ],
    )
}

/// The value of annotation `key` on `object` (`object` or `oldObject`), `''` when absent.
fn annotation_of(object: &str, key: &str) -> String {
    let key = cel::string(key);
    format!(
        "{object} != null && has({object}.metadata.annotations) && {key} in {object}.metadata.annotations ? {object}.metadata.annotations[{key}] : ''"
    )
}

fn policy(
    name: &str,
    resources: &[(&str, &[&str])],
    variables: Vec<Variable>,
    match_conditions: Vec<MatchCondition>,
    validations: Vec<Validation>,
) -> ValidatingAdmissionPolicy {
    ValidatingAdmissionPolicy {
        metadata: metadata(name),
        spec: Some(ValidatingAdmissionPolicySpec {
            failure_policy: Some("Fail".to_owned()),
            match_constraints: Some(MatchResources {
                resource_rules: Some(
                    resources
                        .iter()
                        .map(|(group, resources)| NamedRuleWithOperations {
                            api_groups: Some(vec![(*group).to_owned()]),
                            api_versions: Some(vec!["*".to_owned()]),
                            operations: Some(vec!["CREATE".to_owned(), "UPDATE".to_owned()]),
                            resources: Some(
                                resources
                                    .iter()
                                    .map(|resource| (*resource).to_owned())
                                    .collect(),
                            ),
                            ..NamedRuleWithOperations::default()
                        })
                        .collect(),
                ),
                ..MatchResources::default()
            }),
            match_conditions: (!match_conditions.is_empty()).then_some(match_conditions),
            variables: Some(variables),
            validations: Some(validations),
            ..ValidatingAdmissionPolicySpec::default()
        }),
        status: None,
    }
}

fn binding(name: &str, namespaces: Option<LabelSelector>) -> ValidatingAdmissionPolicyBinding {
    ValidatingAdmissionPolicyBinding {
        metadata: metadata(name),
        spec: ValidatingAdmissionPolicyBindingSpec {
            policy_name: name.to_owned(),
            validation_actions: vec!["Deny".to_owned()],
            match_resources: namespaces.map(|selector| MatchResources {
                namespace_selector: Some(selector),
                ..MatchResources::default()
            }),
            ..ValidatingAdmissionPolicyBindingSpec::default()
        },
    }
}

fn metadata(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        labels: Some(BTreeMap::from([(
            labels::MANAGED_BY.to_owned(),
            labels::MANAGER.to_owned(),
        )])),
        ..ObjectMeta::default()
    }
}

/// `objectLabels`, `namespaceLabels` and the object's effective `classification`, which the
/// workload policies all start from.
fn classification_variables() -> Vec<Variable> {
    vec![
        variable("objectLabels", &cel::labels_of("object.metadata")),
        variable("namespaceLabels", cel::NAMESPACE_LABELS),
        variable(
            "classification",
            &cel::effective_classification("variables.objectLabels"),
        ),
    ]
}

fn variable(name: &str, expression: &str) -> Variable {
    Variable {
        name: name.to_owned(),
        expression: expression.to_owned(),
    }
}

/// The digest of the objects' JSON: an unchanged policy set keeps its revision and is not
/// applied again.
fn revision_of(objects: &[AdmissionObject]) -> String {
    crate::digest::digest(&serde_json::to_vec(objects).unwrap_or_default())
}
