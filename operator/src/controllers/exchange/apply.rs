//! Apply an agreement's decision on every site at once: its NetworkPolicies applied where its
//! path opens, and every policy carrying its label deleted everywhere else (a path that moved,
//! expired, was revoked or refused closes). A site that is not Ready or does not answer is a
//! failure to retry, never skipped as done: a path must not stay open because a site was down
//! when it should have closed.

use futures::future::join_all;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use soberana_core::exchange::{
    EXCHANGE_LABEL, ExchangeDecision, exchange_label_value, network_policies,
};
use soberana_core::resources::condition_types::ConditionType;
use soberana_core::resources::data_exchange::DataExchange;
use soberana_core::resources::site::Site;

use super::FIELD_MANAGER;
use crate::runtime::caches::cached;
use crate::runtime::context::Context;

/// What the sites did with the decision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    /// Sites where the path is now open as decided.
    pub opened: Vec<String>,
    /// Sites that could not be brought in line, with why (as the status and Events say it).
    pub failures: Vec<(String, String)>,
}

/// Why a site's paths could not be brought in line with the decision.
#[derive(Debug, thiserror::Error)]
enum PathError {
    #[error("the site is not Ready; its path is brought in line when it is")]
    SiteNotReady,
    #[error("the Site no longer exists")]
    SiteGone,
    #[error("{0}")]
    Connection(String),
    #[error("listing the agreement's NetworkPolicies: {0}")]
    List(kube::Error),
    #[error("applying NetworkPolicy {namespace}/{name}: {source}")]
    Apply {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("closing NetworkPolicy {namespace}/{name}: {source}")]
    Close {
        namespace: String,
        name: String,
        source: kube::Error,
    },
}

/// Brings every site in line with `decision`: open where it has a path, closed elsewhere.
pub(super) async fn apply_paths(
    context: &Context,
    exchange: &DataExchange,
    decision: &ExchangeDecision,
    consumer_restricts_egress: bool,
) -> Applied {
    let name = exchange.name_any();
    let sites = cached(&context.caches.sites);
    let results = join_all(sites.iter().map(|site| {
        let wanted: Vec<NetworkPolicy> = decision
            .paths
            .iter()
            .filter(|path| path.site == site.name_any())
            .flat_map(|path| {
                network_policies(&name, &exchange.spec, path, consumer_restricts_egress)
            })
            .collect();
        let name = name.as_str();
        async move {
            let result = bring_in_line(context, site, name, &wanted).await;
            (site.name_any(), !wanted.is_empty(), result)
        }
    }))
    .await;
    let mut applied = Applied::default();
    for (site, opened, result) in results {
        match result {
            Ok(()) if opened => applied.opened.push(site),
            Ok(()) => {}
            Err(problem) => applied.failures.push((site, problem.to_string())),
        }
    }
    // A path decided on a site Soberana no longer knows cannot be open.
    for path in &decision.paths {
        if !sites.iter().any(|site| site.name_any() == path.site) {
            let problem = PathError::SiteGone.to_string();
            applied.failures.push((path.site.clone(), problem));
        }
    }
    applied
}

/// One site: nothing to do on a site Soberana cannot reach and has nothing to open on (it never
/// had a connection); otherwise the agreement's policies there become exactly `wanted`.
async fn bring_in_line(
    context: &Context,
    site: &Site,
    exchange: &str,
    wanted: &[NetworkPolicy],
) -> Result<(), PathError> {
    if site.spec.connection.is_none() && wanted.is_empty() {
        return Ok(());
    }
    let not_ready = site.status.as_ref().is_some_and(|status| {
        status
            .conditions
            .iter()
            .any(|condition| ConditionType::Ready.is(condition) && condition.status != "True")
    });
    if not_ready {
        return Err(PathError::SiteNotReady);
    }
    let client = context
        .connections
        .client(site, &context.metrics)
        .await
        .map_err(|error| PathError::Connection(error.0))?;
    let existing = close_others(&client, exchange, wanted).await?;
    for policy in wanted {
        let namespace = policy.namespace().unwrap_or_default();
        let current = existing.iter().find(|found| {
            found.namespace() == policy.namespace() && found.name_any() == policy.name_any()
        });
        if in_line(current, policy) {
            continue;
        }
        Api::<NetworkPolicy>::namespaced(client.clone(), &namespace)
            .patch(
                &policy.name_any(),
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(policy),
            )
            .await
            .map_err(|source| PathError::Apply {
                namespace: namespace.clone(),
                name: policy.name_any(),
                source,
            })?;
    }
    Ok(())
}

/// Whether the policy on the site already says what is wanted (its rules, and the labels the
/// agreement's own selectors and the tenant fences rely on): then there is nothing to write, so
/// an agreement in force costs its sites a list a minute and no writes.
fn in_line(current: Option<&NetworkPolicy>, wanted: &NetworkPolicy) -> bool {
    let Some(current) = current else {
        return false;
    };
    let labels = current.labels();
    current.spec == wanted.spec
        && wanted
            .labels()
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
}

/// Deletes the agreement's policies on the site that are not wanted there; returns those that
/// stay, as they are on the site.
async fn close_others(
    client: &Client,
    exchange: &str,
    wanted: &[NetworkPolicy],
) -> Result<Vec<NetworkPolicy>, PathError> {
    let selector = format!("{EXCHANGE_LABEL}={}", exchange_label_value(exchange));
    let existing = Api::<NetworkPolicy>::all(client.clone())
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(PathError::List)?;
    let mut staying = Vec::new();
    for found in existing.items {
        let (namespace, name) = (found.namespace().unwrap_or_default(), found.name_any());
        let keep = wanted.iter().any(|policy| {
            policy.namespace().as_deref() == Some(namespace.as_str()) && policy.name_any() == name
        });
        if keep {
            staying.push(found);
            continue;
        }
        match Api::<NetworkPolicy>::namespaced(client.clone(), &namespace)
            .delete(&name, &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(response)) if response.code == 404 => {}
            Err(source) => {
                return Err(PathError::Close {
                    namespace,
                    name,
                    source,
                });
            }
        }
    }
    Ok(staying)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(yaml: &str) -> NetworkPolicy {
        serde_norway::from_str(yaml).unwrap()
    }

    const WANTED: &str = r#"
metadata:
  name: soberana-exchange-a
  namespace: registry-prod
  labels: {soberana.io/exchange: a, soberana.io/tenant: registry}
spec:
  podSelector: {matchLabels: {soberana.io/workload: padron}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: health-prod}}}]
    ports: [{port: 8443, protocol: TCP}]
"#;

    #[test]
    fn a_policy_as_wanted_is_not_written_again() {
        let mut on_site = policy(WANTED);
        on_site.metadata.resource_version = Some("41".to_owned());
        on_site
            .labels_mut()
            .insert("added-by".to_owned(), "someone".to_owned());
        assert!(in_line(Some(&on_site), &policy(WANTED)));
    }

    #[test]
    fn a_missing_widened_or_unlabelled_policy_is_written() {
        let wanted = policy(WANTED);
        assert!(!in_line(None, &wanted));
        let widened = policy(&WANTED.replace("port: 8443", "port: 1"));
        assert!(!in_line(Some(&widened), &wanted));
        let mut unlabelled = policy(WANTED);
        unlabelled.labels_mut().remove("soberana.io/tenant");
        assert!(!in_line(Some(&unlabelled), &wanted));
    }
}
