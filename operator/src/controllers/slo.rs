//! The SLO rules controller: keeps the Prometheus rules of the objects' availability objectives
//! (each Site's offered availability, each Workload's target) in the management cluster — a
//! `PrometheusRule` where the Prometheus Operator's API is served, otherwise a ConfigMap holding
//! the rule file for a Prometheus that loads rule files. Observe (the objects, whether the API is
//! served) → decide (the rule file, pure, in `core::slo`) → apply (server-side apply, only when
//! it changed) → report (the reconcile metrics, and a log line).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::pinned_kind;
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::{Api, Client};
use soberana_core::resources::workload::Workload;
use soberana_core::slo::objective::object_objectives;
use soberana_core::slo::options::{Options, Scope};
use soberana_core::slo::rule_file;
use soberana_core::slo::rule_file::RuleFile;
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
/// The label saying the rules' object is Soberana's to rewrite and remove.
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const MANAGER: &str = "soberana-operator";

/// Where the rules go.
#[derive(Clone, Debug, PartialEq)]
enum Destination {
    PrometheusRule(ApiResource),
    ConfigMap,
}

/// What was applied last, so that an unchanged rule file is not written again.
#[derive(Debug, Default)]
pub struct LastApplied(Mutex<Option<(String, String)>>);

/// Regenerates and applies the rules for the current Sites, Workloads and DataClassifications.
pub async fn reconcile(
    context: Arc<Context>,
    workloads: Store<Workload>,
    last: Arc<LastApplied>,
) -> Result<Action, Error> {
    let sites = cached(&context.caches.sites);
    let classifications = cached(&context.caches.classifications);
    let workloads = cached(&workloads);
    let file = desired_rules(&sites, &workloads, &classifications)?;
    let destination = destination(&context.client).await?;
    let text = serde_json_text(&file)?;
    let key = (format!("{destination:?}"), text);
    if lock(&last.0).as_ref() == Some(&key) {
        return Ok(Action::await_change());
    }
    let namespace = &context.settings.namespace;
    let labels = &context.settings.slo_rule_labels;
    apply(&context.client, namespace, labels, &destination, &file).await?;
    if matches!(destination, Destination::PrometheusRule(_)) {
        remove_replaced_config_map(&context.client, namespace).await?;
    }
    tracing::info!(
        groups = file.groups.len(),
        destination = ?destination,
        "applied the SLO rules of the objects"
    );
    *lock(&last.0) = Some(key);
    Ok(Action::await_change())
}

/// The rules of the objects' objectives (the API's and Soberana-wide ones come with the chart).
fn desired_rules(
    sites: &[soberana_core::resources::site::Site],
    workloads: &[Workload],
    classifications: &[soberana_core::resources::data_classification::DataClassification],
) -> Result<RuleFile, Error> {
    let objectives =
        object_objectives(sites, workloads, classifications).map_err(|errors| Error::Invalid {
            object: "SLO rules".to_owned(),
            message: errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
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
    let ours = found.is_some_and(|map| {
        map.metadata
            .labels
            .unwrap_or_default()
            .get(MANAGED_BY)
            .is_some_and(|manager| manager == MANAGER)
    });
    if !ours {
        return Ok(());
    }
    match api.delete(RULES_NAME, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(Error::ApplyManagement {
            object: "the removal of ConfigMap soberana-slo".to_owned(),
            source,
        }),
    }
}

async fn apply(
    client: &Client,
    namespace: &str,
    extra_labels: &BTreeMap<String, String>,
    destination: &Destination,
    file: &RuleFile,
) -> Result<(), Error> {
    let parameters = PatchParams::apply(FIELD_MANAGER).force();
    // The labels Prometheus selects rules by, and ours last: they say who keeps the object.
    let mut labels = extra_labels.clone();
    labels.insert(MANAGED_BY.to_owned(), MANAGER.to_owned());
    let failed = |object: &str| {
        let object = object.to_owned();
        move |source| Error::ApplyManagement { object, source }
    };
    match destination {
        Destination::PrometheusRule(resource) => {
            let object = serde_json::json!({
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": {"name": RULES_NAME, "namespace": namespace, "labels": labels},
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
                "metadata": {"name": RULES_NAME, "namespace": namespace, "labels": labels},
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
