//! A Workload's copy on one member site: applying its Deployment and Service there, reading how
//! many replicas are available, and removing it.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::Value;
use soberana_core::propagation::member_objects::{TEMPLATE_DIGEST, WORKLOAD};

use crate::conditions::bounded_message;

use crate::runtime::error::Error;

/// The field manager of everything the Workload controller writes.
pub const FIELD_MANAGER: &str = "soberana-workload-controller";

/// Replicas wanted and available on a site, and why the site's scheduler cannot place some.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rollout {
    pub desired: u32,
    pub available: u32,
    /// The scheduler's message on a Pod it could not place (e.g. "0/1 nodes are available:
    /// 1 Insufficient cpu."), read only while replicas are missing.
    pub unschedulable: Option<String>,
}

/// Whether the copy on the site is what Soberana would apply now: its Deployment (and Service,
/// when there is one) carry the digest of `objects`.
pub async fn up_to_date(client: &Client, objects: &[Value]) -> Result<bool, kube::Error> {
    for object in objects {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
        let wanted = object["metadata"]["labels"][TEMPLATE_DIGEST].as_str();
        let live = match object["kind"].as_str() {
            Some("Deployment") => Api::<Deployment>::namespaced(client.clone(), namespace)
                .get_metadata_opt(name)
                .await?
                .map(|found| found.metadata),
            _ => Api::<Service>::namespaced(client.clone(), namespace)
                .get_metadata_opt(name)
                .await?
                .map(|found| found.metadata),
        };
        let digest = live
            .and_then(|metadata| metadata.labels)
            .and_then(|labels| labels.get(TEMPLATE_DIGEST).cloned());
        if digest.as_deref() != wanted {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Server-side applies `objects` (a Deployment, then maybe a Service) on `site`.
pub async fn apply_objects(client: &Client, site: &str, objects: &[Value]) -> Result<(), Error> {
    for object in objects {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let parameters = PatchParams::apply(FIELD_MANAGER).force();
        let result = match kind {
            "Deployment" => Api::<Deployment>::namespaced(client.clone(), namespace)
                .patch(name, &parameters, &Patch::Apply(object))
                .await
                .map(drop),
            _ => Api::<Service>::namespaced(client.clone(), namespace)
                .patch(name, &parameters, &Patch::Apply(object))
                .await
                .map(drop),
        };
        result.map_err(|source| Error::ApplyOnSite {
            site: site.to_owned(),
            object: format!("{kind} {namespace}/{name}"),
            source,
        })?;
    }
    Ok(())
}

/// The Deployment's replicas on the site, or `None` when it is not there.
pub async fn rollout(
    client: &Client,
    site: &str,
    namespace: &str,
    name: &str,
) -> Result<Option<Rollout>, Error> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let found = deployments
        .get_opt(name)
        .await
        .map_err(|source| Error::ApplyOnSite {
            site: site.to_owned(),
            object: format!("(reading Deployment {namespace}/{name})"),
            source,
        })?;
    let Some(deployment) = found else {
        return Ok(None);
    };
    let mut rollout = {
        let desired = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.replicas)
            .unwrap_or(1);
        let available = deployment
            .status
            .as_ref()
            .and_then(|status| status.available_replicas)
            .unwrap_or(0);
        Rollout {
            desired: u32::try_from(desired).unwrap_or(0),
            available: u32::try_from(available).unwrap_or(0),
            unschedulable: None,
        }
    };
    if rollout.available < rollout.desired {
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let selector = format!("{WORKLOAD}={name}");
        let listed = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|source| Error::ApplyOnSite {
                site: site.to_owned(),
                object: format!("(reading the Pods of Deployment {namespace}/{name})"),
                source,
            })?;
        rollout.unschedulable = listed.items.iter().find_map(unschedulable);
    }
    Ok(Some(rollout))
}

/// The scheduler's reason, bounded, when it could not place `pod`.
fn unschedulable(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| {
            condition.type_ == "PodScheduled"
                && condition.status == "False"
                && condition.reason.as_deref() == Some("Unschedulable")
        })
        .map(|condition| bounded_message(condition.message.as_deref().unwrap_or_default()))
}

/// Deletes the workload's Deployment and Service on the site (absent ones are fine).
pub async fn remove_objects(
    client: &Client,
    site: &str,
    namespace: &str,
    name: &str,
) -> Result<(), Error> {
    let failed = |kind: &str, source| Error::RemoveFromSite {
        site: site.to_owned(),
        object: format!("{kind} {namespace}/{name}"),
        source,
    };
    match Api::<Service>::namespaced(client.clone(), namespace)
        .delete(name, &DeleteParams::background())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(source) => return Err(failed("Service", source)),
    }
    match Api::<Deployment>::namespaced(client.clone(), namespace)
        .delete(name, &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(failed("Deployment", source)),
    }
}
