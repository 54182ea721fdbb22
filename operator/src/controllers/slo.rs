//! The SLO rules controller: keeps the Prometheus rules of the objects' availability objectives
//! (each Site's offered availability, each Workload's target) in the management cluster — a
//! `PrometheusRule` where the Prometheus Operator's API is served, otherwise a ConfigMap holding
//! the rule file for a Prometheus that loads rule files. Observe (the objects, whether the API is
//! served, the object already there) → decide (the rule file, in `core::slo`, and whether it may
//! be written: Prometheus would load it, and the object is Soberana's; pure) → apply (server-side
//! apply, only when it changed) → report (the reconcile metrics, `soberana_slo_rules_held`, a log
//! line, and a Warning Event when rules are held).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, Preconditions,
};
use kube::discovery::pinned_kind;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::Store;
use kube::{Api, Client, ResourceExt};
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;
use soberana_core::slo::objective::object_objectives;
use soberana_core::slo::options::{Options, Scope};
use soberana_core::slo::rule_file;
use soberana_core::slo::rule_file::RuleFile;
use soberana_core::slo::validation::{RuleFileError, validate};
use soberana_runtime::locking::lock;

use crate::runtime::caches::cached;
use crate::runtime::context::Context;
use crate::runtime::error::Error;

pub const FIELD_MANAGER: &str = "soberana-slo";
/// The name of the PrometheusRule or ConfigMap, in the operator's namespace.
pub const RULES_NAME: &str = "soberana-slo";
/// The ConfigMap key holding the rule file.
pub const RULES_KEY: &str = "soberana-slo.rules.yaml";
/// How often the rules are looked at without a change to their objects.
pub const RESYNC: std::time::Duration = std::time::Duration::from_secs(300);
/// How soon rules that are held (see [`Held`]) are looked at again: someone may remove the
/// object in the way.
pub const HELD_RETRY: std::time::Duration = std::time::Duration::from_secs(15);
/// The label saying the rules' object is Soberana's to rewrite and remove.
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const MANAGER: &str = "soberana-operator";

/// Where the rules go.
#[derive(Clone, Debug, PartialEq)]
enum Destination {
    PrometheusRule(ApiResource),
    ConfigMap,
}

impl Destination {
    fn kind(&self) -> &'static str {
        match self {
            Self::PrometheusRule(_) => "PrometheusRule",
            Self::ConfigMap => "ConfigMap",
        }
    }
}

/// Why new rules are not written and the last good ones stay in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Held {
    /// Prometheus would refuse the file (and with it every rule in it).
    InvalidRules(Vec<RuleFileError>),
    /// An object of the rules' name exists without Soberana's label: someone else's, never
    /// overwritten.
    ForeignObject { kind: &'static str },
}

impl Held {
    /// The Event reason, and the `reason` label of `soberana_slo_rules_held`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidRules(_) => "InvalidRules",
            Self::ForeignObject { .. } => "ForeignObject",
        }
    }

    pub const REASONS: [&'static str; 2] = ["InvalidRules", "ForeignObject"];

    fn message(&self, namespace: &str) -> String {
        match self {
            Self::InvalidRules(errors) => format!(
                "the generated SLO rules would be refused by Prometheus, so the last good ones stay in place: {}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Self::ForeignObject { kind } => format!(
                "{kind} {namespace}/{RULES_NAME} is not Soberana's (no label {MANAGED_BY}={MANAGER}): it is left as it is and the SLO rules are not written until it is removed or renamed"
            ),
        }
    }
}

/// What to do with the rules this pass.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// Apply, on the object Soberana holds at `resource_version` (none: there is no object yet).
    Write {
        resource_version: Option<String>,
    },
    Hold(Held),
}

/// What was applied last, so that an unchanged rule file is not written again, and why rules
/// are held, so that it is reported once.
#[derive(Debug, Default)]
pub struct LastApplied(Mutex<LastState>);

#[derive(Debug, Default)]
struct LastState {
    applied: Option<(String, String)>,
    held: Option<Held>,
}

impl LastApplied {
    /// Whether the last pass held the rules (looked at again sooner).
    pub fn holding(&self) -> bool {
        lock(&self.0).held.is_some()
    }
}

/// The cached Workloads without their templates, which objectives never read: copying every
/// template on each pass would cost as much memory again as the cache.
fn without_templates(store: &Store<Workload>) -> Vec<Workload> {
    store
        .state()
        .iter()
        .map(|workload| {
            let mut copy = Workload::new(&workload.name_any(), workload.spec.clone());
            copy.spec.template = None;
            copy.metadata = workload.metadata.clone();
            copy.status = workload.status.clone();
            copy
        })
        .collect()
}

/// Observe (the Sites, Workloads, Tenants and DataClassifications; where the rules go; the object
/// there) → decide (the rule file and whether it may be written, pure) → apply (server-side
/// apply, only when it changed, only on Soberana's object) → report (log, metric, Event).
pub async fn reconcile(context: Arc<Context>, last: Arc<LastApplied>) -> Result<Action, Error> {
    let caches = &context.caches;
    let sites = cached(caches.sites.store());
    let classifications = cached(caches.classifications.store());
    let workloads = without_templates(caches.workloads.store());
    let tenants = cached(caches.tenants.store());
    let file = desired_rules(&sites, &workloads, &classifications, &tenants)?;
    let destination = destination(&context.client).await?;
    let text = serde_json_text(&file)?;
    let key = (format!("{destination:?}"), text);
    if lock(&last.0).applied.as_ref() == Some(&key) {
        return Ok(Action::await_change());
    }
    let namespace = &context.settings.namespace;
    let current = current_object(&context.client, namespace, &destination).await?;
    match decide(&file, current.as_ref(), destination.kind()) {
        Plan::Hold(held) => {
            report_held(
                &context,
                &last,
                namespace,
                &destination,
                current.as_ref(),
                held,
            )
            .await;
            return Ok(Action::requeue(HELD_RETRY));
        }
        Plan::Write { resource_version } => {
            let labels = &context.settings.slo_rule_labels;
            let target = Target {
                namespace,
                resource_version: resource_version.as_deref(),
            };
            apply(&context.client, &target, labels, &destination, &file).await?;
        }
    }
    if matches!(destination, Destination::PrometheusRule(_)) {
        remove_replaced_config_map(&context.client, namespace).await?;
    }
    tracing::info!(
        groups = file.groups.len(),
        destination = ?destination,
        "applied the SLO rules of the objects"
    );
    for reason in Held::REASONS {
        context
            .metrics
            .slo_rules_held
            .with_label_values(&[reason])
            .set(0);
    }
    let mut state = lock(&last.0);
    state.applied = Some(key);
    state.held = None;
    Ok(Action::await_change())
}

/// Decide: the rules are written only when Prometheus would load them, and only on an object
/// that is Soberana's (labelled so) or on none. Pure.
fn decide(file: &RuleFile, current: Option<&ObjectMeta>, kind: &'static str) -> Plan {
    let refused = validate(file);
    if !refused.is_empty() {
        return Plan::Hold(Held::InvalidRules(refused));
    }
    match current {
        None => Plan::Write {
            resource_version: None,
        },
        Some(metadata) if is_ours(metadata) => Plan::Write {
            resource_version: metadata.resource_version.clone(),
        },
        Some(_) => Plan::Hold(Held::ForeignObject { kind }),
    }
}

fn is_ours(metadata: &ObjectMeta) -> bool {
    metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(MANAGED_BY))
        .is_some_and(|manager| manager == MANAGER)
}

/// The metadata of the object the rules go to, if there is one.
async fn current_object(
    client: &Client,
    namespace: &str,
    destination: &Destination,
) -> Result<Option<ObjectMeta>, Error> {
    let found = match destination {
        Destination::PrometheusRule(resource) => {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
            api.get_metadata_opt(RULES_NAME)
                .await
                .map(|found| found.map(|object| object.metadata))
        }
        Destination::ConfigMap => {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
            api.get_metadata_opt(RULES_NAME)
                .await
                .map(|found| found.map(|object| object.metadata))
        }
    };
    found.map_err(|source| Error::ReadManagement {
        object: format!("{} {namespace}/{RULES_NAME}", destination.kind()),
        source,
    })
}

/// Report held rules: the gauge always, a log line and a Warning Event (on the object in the
/// way, or on Soberana's own rules object) when the reason is news.
async fn report_held(
    context: &Context,
    last: &LastApplied,
    namespace: &str,
    destination: &Destination,
    current: Option<&ObjectMeta>,
    held: Held,
) {
    for reason in Held::REASONS {
        let value = i64::from(reason == held.reason());
        context
            .metrics
            .slo_rules_held
            .with_label_values(&[reason])
            .set(value);
    }
    if lock(&last.0).held.as_ref() == Some(&held) {
        return;
    }
    let message = held.message(namespace);
    tracing::warn!(reason = held.reason(), %message, "SLO rules held");
    if let Some(metadata) = current {
        let (api_version, kind) = match destination {
            Destination::PrometheusRule(resource) => {
                (resource.api_version.clone(), "PrometheusRule")
            }
            Destination::ConfigMap => ("v1".to_owned(), "ConfigMap"),
        };
        let reference = ObjectReference {
            api_version: Some(api_version),
            kind: Some(kind.to_owned()),
            name: Some(RULES_NAME.to_owned()),
            namespace: Some(namespace.to_owned()),
            uid: metadata.uid.clone(),
            ..ObjectReference::default()
        };
        let event = Event {
            type_: EventType::Warning,
            reason: held.reason().to_owned(),
            note: Some(crate::conditions::bounded_message(&message)),
            action: "ApplySloRules".to_owned(),
            secondary: None,
        };
        if let Err(error) = context.recorder.publish(&event, &reference).await {
            tracing::warn!(%error, "could not publish an event");
        }
    }
    lock(&last.0).held = Some(held);
}

/// The rules of the objects' objectives (the API's and Soberana-wide ones come with the chart).
fn desired_rules(
    sites: &[soberana_core::resources::site::Site],
    workloads: &[Workload],
    classifications: &[soberana_core::resources::data_classification::DataClassification],
    tenants: &[Tenant],
) -> Result<RuleFile, Error> {
    let objectives =
        object_objectives(sites, workloads, classifications, tenants).map_err(|errors| {
            Error::Invalid {
                object: "SLO rules".to_owned(),
                message: errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        })?;
    Ok(rule_file(
        &objectives,
        &Options {
            scope: Scope::Objects,
            ..Options::default()
        },
    ))
}

fn serde_json_text(file: &RuleFile) -> Result<String, Error> {
    serde_json::to_string(file).map_err(|error| Error::Invalid {
        object: "SLO rules".to_owned(),
        message: error.to_string(),
    })
}

/// A PrometheusRule when `monitoring.coreos.com/v1` serves it, a ConfigMap when the API server
/// says it does not. Any other answer is an error to retry: a ConfigMap written because discovery
/// failed for a moment would stand beside the PrometheusRule.
async fn destination(client: &Client) -> Result<Destination, Error> {
    let kind = GroupVersionKind::gvk("monitoring.coreos.com", "v1", "PrometheusRule");
    match pinned_kind(client, &kind).await {
        Ok((resource, _)) => Ok(Destination::PrometheusRule(resource)),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Destination::ConfigMap),
        Err(kube::Error::Discovery(_)) => Ok(Destination::ConfigMap),
        Err(source) => Err(Error::ReadManagement {
            object: "the monitoring.coreos.com/v1 API's resources".to_owned(),
            source,
        }),
    }
}

/// Once the rules are in a PrometheusRule (the Prometheus Operator was installed since they
/// were last written), the ConfigMap Soberana wrote before goes: a Prometheus loading both would
/// evaluate every rule twice and page twice. Only Soberana's: a ConfigMap of that name without
/// its label is someone else's, and left alone.
async fn remove_replaced_config_map(client: &Client, namespace: &str) -> Result<(), Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let found = api
        .get_opt(RULES_NAME)
        .await
        .map_err(|source| Error::ReadManagement {
            object: "ConfigMap soberana-slo".to_owned(),
            source,
        })?;
    let Some(map) = found.filter(|map| is_ours(&map.metadata)) else {
        return Ok(());
    };
    // Exactly the object judged ours: one replaced meanwhile is not deleted (409, retried).
    let parameters = DeleteParams {
        preconditions: Some(Preconditions {
            uid: map.metadata.uid.clone(),
            resource_version: map.metadata.resource_version.clone(),
        }),
        ..DeleteParams::default()
    };
    match api.delete(RULES_NAME, &parameters).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(Error::ApplyManagement {
            object: "the removal of ConfigMap soberana-slo".to_owned(),
            source,
        }),
    }
}

/// Where the rules are applied: the namespace, and the version of Soberana's object there that
/// [`decide`] judged ours (the apply fails with a conflict if it was replaced meanwhile).
struct Target<'a> {
    namespace: &'a str,
    resource_version: Option<&'a str>,
}

/// Server-side apply of the rules. Forced: the object is Soberana's (see [`decide`]), and a
/// field someone else set on it (an edit by hand) is Soberana's to put back.
async fn apply(
    client: &Client,
    target: &Target<'_>,
    extra_labels: &BTreeMap<String, String>,
    destination: &Destination,
    file: &RuleFile,
) -> Result<(), Error> {
    let namespace = target.namespace;
    let parameters = PatchParams::apply(FIELD_MANAGER).force();
    // The labels Prometheus selects rules by, and ours last: they say who keeps the object.
    let mut labels = extra_labels.clone();
    labels.insert(MANAGED_BY.to_owned(), MANAGER.to_owned());
    let mut metadata =
        serde_json::json!({"name": RULES_NAME, "namespace": namespace, "labels": labels});
    if let Some(version) = target.resource_version {
        metadata["resourceVersion"] = serde_json::Value::from(version);
    }
    let failed = |object: &str| {
        let object = object.to_owned();
        move |source| Error::ApplyManagement { object, source }
    };
    match destination {
        Destination::PrometheusRule(resource) => {
            let object = serde_json::json!({
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": metadata,
                "spec": file,
            });
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
            api.patch(RULES_NAME, &parameters, &Patch::Apply(&object))
                .await
                .map_err(failed("PrometheusRule soberana-slo"))?;
        }
        Destination::ConfigMap => {
            let yaml = serde_norway::to_string(file).map_err(|error| Error::Invalid {
                object: "SLO rules".to_owned(),
                message: error.to_string(),
            })?;
            let object = serde_json::json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": metadata,
                "data": {RULES_KEY: yaml},
            });
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
            api.patch(RULES_NAME, &parameters, &Patch::Apply(&object))
                .await
                .map_err(failed("ConfigMap soberana-slo"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use soberana_core::slo::rule_file::RuleGroup;

    use super::*;

    fn metadata(labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            name: Some(RULES_NAME.to_owned()),
            resource_version: Some("42".to_owned()),
            labels: Some(
                labels
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        }
    }

    fn file(groups: &[&str]) -> RuleFile {
        RuleFile {
            groups: groups
                .iter()
                .map(|name| RuleGroup {
                    name: (*name).to_owned(),
                    rules: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn rules_are_written_on_no_object_or_on_soberanas_at_the_version_judged() {
        let rules = file(&["soberana-slo-site-a"]);
        assert_eq!(
            decide(&rules, None, "ConfigMap"),
            Plan::Write {
                resource_version: None
            }
        );
        let ours = metadata(&[(MANAGED_BY, MANAGER)]);
        assert_eq!(
            decide(&rules, Some(&ours), "ConfigMap"),
            Plan::Write {
                resource_version: Some("42".to_owned())
            }
        );
    }

    #[test]
    fn an_object_without_soberanas_label_is_never_written() {
        let rules = file(&["soberana-slo-site-a"]);
        for labels in [&[][..], &[(MANAGED_BY, "helm")][..]] {
            let plan = decide(&rules, Some(&metadata(labels)), "PrometheusRule");
            assert_eq!(
                plan,
                Plan::Hold(Held::ForeignObject {
                    kind: "PrometheusRule"
                })
            );
        }
        let message = Held::ForeignObject { kind: "ConfigMap" }.message("soberana-system");
        assert!(
            message.contains("ConfigMap soberana-system/soberana-slo is not Soberana's"),
            "{message}"
        );
    }

    #[test]
    fn rules_prometheus_would_refuse_are_never_written() {
        let repeated = file(&["soberana-slo-site-a", "soberana-slo-site-a"]);
        let plan = decide(&repeated, None, "ConfigMap");
        let Plan::Hold(held) = plan else {
            panic!("written: {plan:?}")
        };
        assert_eq!(held.reason(), "InvalidRules");
        assert!(
            held.message("ns")
                .contains("rule group \"soberana-slo-site-a\" is repeated"),
            "{}",
            held.message("ns")
        );
    }
}
