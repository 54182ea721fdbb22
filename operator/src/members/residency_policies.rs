//! Keeping a site's compiled residency policies in force in its cluster: applied with
//! server-side apply when they differ from what is there, edited-away copies restored, and
//! policies Soberana no longer compiles removed.
//!
//! What is in force is read from the cluster, not remembered: every compiled object carries its
//! revision, and the `metadata.generation` it had when Soberana applied it. A spec edited by
//! someone else has moved on from that generation and is applied again.

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde_json::Value;
use soberana_core::residency::admission_policies::{POLICY_REVISION, PROBE_CLASSIFICATION};
use soberana_core::residency::{AdmissionObject, CompiledPolicies};
use soberana_core::tenancy::labels;

use crate::members::whole_replace::replace_whole;
use crate::runtime::error::Error;

/// The field manager of everything the residency controller writes.
pub const FIELD_MANAGER: &str = "soberana-residency-controller";
/// Label on each applied object: the `metadata.generation` it had when Soberana applied it.
const APPLIED_GENERATION: &str = "soberana.io/applied-generation";

/// What `enforce` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Enforcement {
    /// The compiled policies were already in force.
    InForce,
    /// Objects were applied (new revision, missing or edited) and stale ones removed.
    Applied {
        applied: Vec<String>,
        removed: Vec<String>,
    },
}

/// Makes `compiled` the residency policies in force on `site`.
pub async fn enforce(
    client: &Client,
    site: &str,
    compiled: &CompiledPolicies,
) -> Result<Enforcement, Error> {
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(client.clone());
    let present_policies = present(&policies, site).await?;
    let present_bindings = present(&bindings, site).await?;

    let mut applied = Vec::new();
    // Policies before bindings, so that a binding never names a policy that is not there yet.
    for object in &compiled.objects {
        let (present, kind) = match object {
            AdmissionObject::Policy(_) => (&present_policies, "ValidatingAdmissionPolicy"),
            AdmissionObject::Binding(_) => (&present_bindings, "ValidatingAdmissionPolicyBinding"),
        };
        if present.get(object.name()) == Some(&Presence::Current(compiled.revision.clone())) {
            continue;
        }
        let exists = present.contains_key(object.name());
        match object {
            AdmissionObject::Policy(policy) => apply(&policies, site, policy, exists).await?,
            AdmissionObject::Binding(binding) => apply(&bindings, site, binding, exists).await?,
        }
        applied.push(format!("{kind} {}", object.name()));
    }

    let wanted: Vec<&str> = compiled.objects.iter().map(AdmissionObject::name).collect();
    let mut removed = Vec::new();
    // Bindings before policies, the reverse of creation.
    for name in present_bindings.keys() {
        if !wanted.contains(&name.as_str()) {
            remove(&bindings, site, name).await?;
            removed.push(format!("ValidatingAdmissionPolicyBinding {name}"));
        }
    }
    for name in present_policies.keys() {
        if !wanted.contains(&name.as_str()) {
            remove(&policies, site, name).await?;
            removed.push(format!("ValidatingAdmissionPolicy {name}"));
        }
    }
    if applied.is_empty() && removed.is_empty() {
        Ok(Enforcement::InForce)
    } else {
        Ok(Enforcement::Applied { applied, removed })
    }
}

/// The state of one of Soberana's objects in the cluster.
#[derive(Debug, PartialEq, Eq)]
enum Presence {
    /// Unedited since Soberana applied it, at this revision.
    Current(String),
    /// Edited by someone else since, or applied without the generation label.
    Edited,
}

/// Soberana's objects of kind `K` on the site, by name.
async fn present<K>(api: &Api<K>, site: &str) -> Result<BTreeMap<String, Presence>, Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let selector = format!("{}={}", labels::MANAGED_BY, labels::MANAGER);
    let list = api
        .list_metadata(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| Error::ApplyOnSite {
            site: site.to_owned(),
            object: format!("(listing {}s)", K::kind(&())),
            source,
        })?;
    Ok(list
        .items
        .into_iter()
        .map(|object| {
            let object_labels = object.labels();
            let unedited = object_labels
                .get(APPLIED_GENERATION)
                .is_some_and(|applied| {
                    Some(applied.clone())
                        == object
                            .metadata
                            .generation
                            .map(|generation| generation.to_string())
                });
            let presence = match object_labels.get(POLICY_REVISION) {
                Some(revision) if unedited => Presence::Current(revision.clone()),
                _ => Presence::Edited,
            };
            (object.name_any(), presence)
        })
        .collect())
}

/// Writes `object`, then records the generation it got (labels do not move the generation). An
/// object that exists (edited, or of another revision) is replaced whole rather than merged: a
/// server-side apply would keep fields someone else added, such as a binding's
/// `namespaceSelector` or a `matchConditions` entry that switches a policy off.
async fn apply<K>(api: &Api<K>, site: &str, object: &K, exists: bool) -> Result<(), Error>
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Serialize,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let failed = |source| Error::ApplyOnSite {
        site: site.to_owned(),
        object: format!("{} {name}", K::kind(&())),
        source,
    };
    let parameters = PatchParams::apply(FIELD_MANAGER).force();
    let mut body = serde_json::to_value(object).map_err(|error| Error::Invalid {
        object: format!("{} {name}", K::kind(&())),
        message: format!("cannot serialise the compiled object: {error}"),
    })?;
    let live = if exists {
        replace_whole(api, object, FIELD_MANAGER)
            .await
            .map_err(failed)?
    } else {
        api.patch(&name, &parameters, &Patch::Apply(&body))
            .await
            .map_err(failed)?
    };
    let generation = live.meta().generation.unwrap_or_default().to_string();
    if let Some(object_labels) = body
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        object_labels.insert(APPLIED_GENERATION.to_owned(), Value::String(generation));
    }
    api.patch(&name, &parameters, &Patch::Apply(&body))
        .await
        .map_err(failed)?;
    Ok(())
}

async fn remove<K>(api: &Api<K>, site: &str, name: &str) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(Error::RemoveFromSite {
            site: site.to_owned(),
            object: format!("{} {name}", K::kind(&())),
            source,
        }),
    }
}

/// How long a newly applied revision may take to reach the API server's admission chain.
const CONFIRMATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether the site's API server enforces `revision` now. Asks it to admit (as a server-side dry
/// run, which stores nothing) a namespace with a classification no site knows: the refusal
/// names the revision that judged it.
pub async fn confirm_in_force(client: &Client, site: &str, revision: &str) -> Result<bool, Error> {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let probe: k8s_openapi::api::core::v1::Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "soberana-residency-probe",
            "labels": {labels::CLASSIFICATION: PROBE_CLASSIFICATION},
        },
    }))
    .map_err(|error| Error::Invalid {
        object: "the residency probe".to_owned(),
        message: error.to_string(),
    })?;
    let parameters = kube::api::PostParams {
        dry_run: true,
        ..kube::api::PostParams::default()
    };
    let deadline = tokio::time::Instant::now() + CONFIRMATION_TIMEOUT;
    loop {
        match namespaces.create(&parameters, &probe).await {
            Err(kube::Error::Api(status))
                if status.message.contains(&format!("revision {revision}")) =>
            {
                return Ok(true);
            }
            Err(kube::Error::Api(status))
                if status.code == 403 || status.code == 422 || status.code == 409 => {}
            Ok(_) => {}
            Err(source) => {
                return Err(Error::ApplyOnSite {
                    site: site.to_owned(),
                    object: "(residency probe)".to_owned(),
                    source,
                });
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
