//! The Deployment (and Service) a Workload becomes on each chosen site: in the tenant's
//! namespace of the same name, named after the Workload, with Soberana's labels and the
//! classification on the Deployment and its pod template, so that the site's admission policies
//! judge exactly what Soberana placed.

use kube::ResourceExt;
use serde_json::{Map, Value, json};

use crate::resources::tenant::TenantSpec;
use crate::resources::workload::Workload;
use crate::tenancy::labels;
use crate::tenancy::objects::namespace_name;

/// Label on member objects: the Workload they were made from.
pub const WORKLOAD: &str = "soberana.io/workload";
/// Label on member objects: the digest of what Soberana applied, so that an unchanged copy is
/// recognised and not written again.
pub const TEMPLATE_DIGEST: &str = "soberana.io/template-digest";

/// A Workload that cannot be turned into member objects, naming the field at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MemberObjectError {
    #[error(
        "metadata.namespace {namespace:?} is not one of tenant {tenant}'s namespaces ({expected}); a Workload lives in its tenant's <shortCode>-<environment> namespace"
    )]
    NotATenantNamespace {
        namespace: String,
        tenant: String,
        expected: String,
    },
    #[error("spec.template.{field} must be an object (the spec of a {kind})")]
    NotAnObject {
        field: &'static str,
        kind: &'static str,
    },
}

/// The namespace the Workload runs in on member sites: its own, which must be one of its
/// tenant's.
pub fn member_namespace(
    workload: &Workload,
    tenant: &TenantSpec,
) -> Result<String, MemberObjectError> {
    let namespace = workload.namespace().unwrap_or_default();
    let expected: Vec<String> = tenant
        .environments
        .iter()
        .map(|environment| namespace_name(&tenant.short_code, &environment.name))
        .collect();
    if expected.contains(&namespace) {
        Ok(namespace)
    } else {
        Err(MemberObjectError::NotATenantNamespace {
            namespace,
            tenant: workload.spec.tenant.clone(),
            expected: expected.join(", "),
        })
    }
}

/// The objects to apply on a chosen site: the Deployment, then the Service if the template has
/// one. Empty when the Workload has no template.
pub fn member_objects(
    workload: &Workload,
    namespace: &str,
) -> Result<Vec<Value>, MemberObjectError> {
    let Some(template) = &workload.spec.template else {
        return Ok(Vec::new());
    };
    let name = workload.name_any();
    let object_labels = json!({
        labels::CLASSIFICATION: workload.spec.classification,
        labels::MANAGED_BY: labels::MANAGER,
        labels::TENANT: workload.spec.tenant,
        WORKLOAD: name,
    });
    let mut deployment_spec = object(&template.deployment, "deployment", "Deployment")?;
    deployment_spec.insert("replicas".to_owned(), json!(workload.spec.replicas));
    let selected = json!({WORKLOAD: name});
    deployment_spec.insert("selector".to_owned(), json!({"matchLabels": selected}));
    let pod_template = deployment_spec
        .entry("template")
        .or_insert_with(|| json!({}));
    if !pod_template.is_object() {
        return Err(MemberObjectError::NotAnObject {
            field: "deployment.template",
            kind: "PodTemplateSpec",
        });
    }
    let pod_labels = pod_template
        .as_object_mut()
        .map(|template| template.entry("metadata").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
        .map(|metadata| metadata.entry("labels").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
        .ok_or(MemberObjectError::NotAnObject {
            field: "deployment.template.metadata.labels",
            kind: "label map",
        })?;
    pod_labels.insert(
        labels::CLASSIFICATION.to_owned(),
        json!(workload.spec.classification),
    );
    pod_labels.insert(WORKLOAD.to_owned(), json!(name));
    restricted_defaults(pod_template);
    requests_from_resources(pod_template, workload);

    let metadata = json!({"name": name, "namespace": namespace, "labels": object_labels});
    let mut objects = vec![json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": deployment_spec,
    })];
    if let Some(service) = &template.service {
        let mut service_spec = object(service, "service", "Service")?;
        service_spec.insert("selector".to_owned(), selected);
        objects.push(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata,
            "spec": service_spec,
        }));
    }
    let digest = crate::digest::digest(&serde_json::to_vec(&objects).unwrap_or_default());
    for object in &mut objects {
        if let Some(object_labels) = object
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            object_labels.insert(TEMPLATE_DIGEST.to_owned(), json!(digest));
        }
    }
    Ok(objects)
}

/// Tenant namespaces enforce the `restricted` Pod Security Standard by default, so a template
/// that says nothing about security gets what that standard requires: non-root, the runtime's
/// seccomp profile, no privilege escalation, no capabilities. What a template does say is kept
/// (and judged by the namespace's Pod Security admission as written).
fn restricted_defaults(pod_template: &mut Value) {
    let Some(spec) = pod_template
        .as_object_mut()
        .map(|template| template.entry("spec").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    spec.entry("securityContext").or_insert_with(
        || json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}}),
    );
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            container.entry("securityContext").or_insert_with(
                || json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}),
            );
        }
    }
}

/// What placement reserved per replica is what each Pod asks of the site's scheduler, and its
/// bound: a template with one container that states no resources gets the Workload's
/// `resources` as its requests and limits (so the site's observed free capacity and the plan
/// agree, and the namespace's default limit cannot undercut the request). With several
/// containers, or resources of its own, the template is kept as written.
fn requests_from_resources(pod_template: &mut Value, workload: &Workload) {
    let Some([container]) = pod_template
        .pointer_mut("/spec/containers")
        .and_then(Value::as_array_mut)
        .map(Vec::as_mut_slice)
    else {
        return;
    };
    let Some(container) = container.as_object_mut() else {
        return;
    };
    if container.contains_key("resources") {
        return;
    }
    let wanted = workload.spec.resources;
    let amounts = json!({
        "cpu": format!("{}m", wanted.cpu_millicores),
        "memory": format!("{}Mi", wanted.memory_mebibytes),
    });
    container.insert(
        "resources".to_owned(),
        json!({"requests": amounts, "limits": amounts}),
    );
}

fn object(
    value: &Value,
    field: &'static str,
    kind: &'static str,
) -> Result<Map<String, Value>, MemberObjectError> {
    value
        .as_object()
        .cloned()
        .ok_or(MemberObjectError::NotAnObject { field, kind })
}
