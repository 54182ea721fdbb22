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
    /// Sites that could not be brought in line, with why.
    pub failures: Vec<(String, String)>,
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
            Err(problem) => applied.failures.push((site, problem)),
        }
    }
    // A path decided on a site Soberana no longer knows cannot be open.
    for path in &decision.paths {
        if !sites.iter().any(|site| site.name_any() == path.site) {
            let problem = "the Site no longer exists".to_owned();
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
) -> Result<(), String> {
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
        return Err("the site is not Ready; its path is brought in line when it is".to_owned());
    }
    let client = context
        .connections
        .client(site, &context.metrics)
        .await
        .map_err(|error| error.0)?;
    close_others(&client, exchange, wanted).await?;
    for policy in wanted {
        let namespace = policy.namespace().unwrap_or_default();
        Api::<NetworkPolicy>::namespaced(client.clone(), &namespace)
            .patch(
                &policy.name_any(),
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(policy),
            )
            .await
            .map_err(|error| {
                format!(
                    "applying NetworkPolicy {namespace}/{}: {error}",
                    policy.name_any()
                )
            })?;
    }
    Ok(())
}

/// Deletes the agreement's policies on the site that are not wanted there.
async fn close_others(
    client: &Client,
    exchange: &str,
    wanted: &[NetworkPolicy],
) -> Result<(), String> {
    let selector = format!("{EXCHANGE_LABEL}={}", exchange_label_value(exchange));
    let existing = Api::<NetworkPolicy>::all(client.clone())
        .list_metadata(&ListParams::default().labels(&selector))
        .await
        .map_err(|error| format!("listing the agreement's NetworkPolicies: {error}"))?;
    for found in existing.items {
        let (namespace, name) = (found.namespace().unwrap_or_default(), found.name_any());
        let keep = wanted.iter().any(|policy| {
            policy.namespace().as_deref() == Some(namespace.as_str()) && policy.name_any() == name
        });
        if keep {
            continue;
        }
        match Api::<NetworkPolicy>::namespaced(client.clone(), &namespace)
            .delete(&name, &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(response)) if response.code == 404 => {}
            Err(error) => return Err(format!("closing NetworkPolicy {namespace}/{name}: {error}")),
        }
    }
    Ok(())
}
