//! The DataExchange controller: observe (the cached policy, tenants and Workloads) → decide
//! (core's pure judgement of the agreement, then the status and transition it means) → apply
//! (open the path on each site where both ends run, close it on every other site) → report
//! (status, an Event and a ledger record per transition, the gauges). It looks again when the
//! agreement's validity starts or ends, so an expired agreement closes on time.

mod apply;
mod decide;
mod report;

use std::sync::Arc;

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::Event as FinalizerEvent;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, ResourceExt};
use soberana_core::exchange::{
    APPROVAL_POLICY, ApprovalPolicyState, ExchangeDecision, ExchangeIdentity, ExchangeObjects,
    approval_policy_state, decide,
};
use soberana_core::placement::{Objects, Snapshot};
use soberana_core::resources::data_exchange::{DataExchange, ExchangeState};
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;
use soberana_core::tenancy::TenantIdentity;

use super::finalized::finalized;
use crate::runtime::caches::cached;
use crate::runtime::context::Context;
use crate::runtime::error::Error;
use crate::runtime::status_writer::write_status;

/// Closes the agreement's paths on every site before the DataExchange goes.
pub const FINALIZER: &str = "soberana.io/exchange-cleanup";
/// The field manager of the agreement's NetworkPolicies and status.
pub const FIELD_MANAGER: &str = "soberana-exchange-controller";

/// Judges one agreement and opens or closes its paths; closes them all when it is deleted.
pub async fn reconcile(
    exchange: Arc<DataExchange>,
    context: Arc<Context>,
) -> Result<Action, Error> {
    let api: Api<DataExchange> = Api::all(context.client.clone());
    finalized(&api, FINALIZER, exchange, |event| async {
        match event {
            FinalizerEvent::Apply(exchange) => judge(&exchange, &context).await,
            FinalizerEvent::Cleanup(exchange) => close(&exchange, &context).await,
        }
    })
    .await
}

/// The agreements naming `tenant` as provider or consumer: a change to one of its Workloads may
/// move their paths.
pub fn involving(store: &Store<DataExchange>, tenant: &str) -> Vec<ObjectRef<DataExchange>> {
    store
        .state()
        .iter()
        .filter(|exchange| {
            exchange.spec.provider.tenant == tenant || exchange.spec.consumer.tenant == tenant
        })
        .map(|exchange| ObjectRef::from_obj(&**exchange))
        .collect()
}

async fn judge(exchange: &DataExchange, context: &Context) -> Result<Action, Error> {
    let now = Timestamp::now();
    let approval_policy = observe_approval_policy(context).await;
    let decided = observe_and_decide(exchange, context, &approval_policy, now);
    // No path opens on a Site being deleted: its finalizer waits for them to close there.
    let leaving: Vec<String> = cached(context.caches.sites.store())
        .iter()
        .filter(|site| site.metadata.deletion_timestamp.is_some())
        .map(ResourceExt::name_any)
        .collect();
    let decision = decide::without_leaving_sites(decided, &leaving);
    let tenants = cached(context.caches.tenants.store());
    let consumer_restricts_egress = tenants
        .iter()
        .find(|tenant| tenant.name_any() == exchange.spec.consumer.tenant)
        .is_some_and(|tenant| !tenant.spec.egress.is_empty());
    let uid = exchange.uid().unwrap_or_default();
    let name = exchange.name_any();
    let identity = ExchangeIdentity {
        name: &name,
        uid: &uid,
    };
    let parties = parties(exchange, &tenants);
    let applied = apply::apply_paths(
        context,
        identity,
        &exchange.spec,
        &parties,
        &decision,
        consumer_restricts_egress,
    )
    .await;
    let previous = exchange.status.clone().unwrap_or_default();
    let status = decide::status(&decision, &applied, &previous, exchange.metadata.generation);
    let transition = decide::transition(&previous, &status);
    let left_alone = decide::left_alone_notice(&previous, &status);
    report::report(context, exchange, &status, transition.as_ref(), left_alone).await;
    if status != previous {
        write_status::<DataExchange, _>(
            &context.client,
            &exchange.name_any(),
            &status,
            FIELD_MANAGER,
        )
        .await?;
    }
    let key = format!("exchange/{name}");
    let retry = decide::retry_wait(
        &context.exchange_backoff,
        &key,
        &applied,
        std::time::Instant::now(),
    );
    Ok(Action::requeue(decide::requeue_after(
        &decision, retry, now,
    )))
}

/// The agreement's Tenants that exist, as their namespaces record them (name and UID): only
/// their namespaces may hold the agreement's policies.
fn parties(exchange: &DataExchange, tenants: &[Tenant]) -> Vec<TenantIdentity> {
    [
        &exchange.spec.provider.tenant,
        &exchange.spec.consumer.tenant,
    ]
    .into_iter()
    .filter_map(|name| {
        let tenant = tenants.iter().find(|tenant| tenant.name_any() == *name)?;
        Some(TenantIdentity {
            name: name.clone(),
            uid: tenant.uid()?,
        })
    })
    .collect()
}

/// Observe and decide: the engine's snapshot of the cached policy and tenants, the cached
/// Workloads, and core's judgement at `now`. A policy that cannot be read refuses the
/// agreement (fail closed) with the reason.
fn observe_and_decide(
    exchange: &DataExchange,
    context: &Context,
    approval_policy: &ApprovalPolicyState,
    now: Timestamp,
) -> ExchangeDecision {
    let caches = &context.caches;
    let (sites, classifications, rules, tenants) = (
        cached(caches.sites.store()),
        cached(caches.classifications.store()),
        cached(caches.rules.store()),
        cached(caches.tenants.store()),
    );
    let snapshot = Snapshot::new(Objects {
        sites: &sites,
        classifications: &classifications,
        rules: &rules,
        tenants: &tenants,
        ..Objects::default()
    });
    match snapshot {
        Ok(snapshot) => {
            let workloads = parties_workloads(exchange, caches.workloads.store());
            let objects = ExchangeObjects {
                snapshot: &snapshot,
                workloads: &workloads,
                approval_policy,
            };
            decide(&exchange.spec, &objects, now)
        }
        Err(error) => ExchangeDecision {
            state: ExchangeState::Refused,
            reasons: vec![format!("the placement policy cannot be read: {error}")],
            paths: Vec::new(),
            cross_site: Vec::new(),
            next_change: None,
            hold: None,
        },
    }
}

/// The Workloads of the agreement's two tenants (copied out of the cache: the others' are never
/// read, and may be many and large).
fn parties_workloads(exchange: &DataExchange, store: &Store<Workload>) -> Vec<Workload> {
    let parties = [
        &exchange.spec.provider.tenant,
        &exchange.spec.consumer.tenant,
    ];
    store
        .state()
        .iter()
        .filter(|workload| parties.contains(&&workload.spec.tenant))
        .map(|workload| (**workload).clone())
        .collect()
}

/// Observe whether the management cluster proves who wrote the approvals: its approval policy
/// and binding, read on every look (two GETs), judged by core. One that cannot be read proves
/// nothing (fail closed), and the reason says why.
async fn observe_approval_policy(context: &Context) -> ApprovalPolicyState {
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(context.client.clone());
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(context.client.clone());
    let (policy, binding) = futures::join!(
        policies.get_opt(APPROVAL_POLICY),
        bindings.get_opt(APPROVAL_POLICY)
    );
    match (policy, binding) {
        (Ok(policy), Ok(binding)) => approval_policy_state(policy.as_ref(), binding.as_ref()),
        (Err(error), _) | (_, Err(error)) => ApprovalPolicyState::Unproven(format!(
            "the approval policy {APPROVAL_POLICY} cannot be read: {error}"
        )),
    }
}

/// Deletion: the paths close on every site (retried until every site confirmed it), and only
/// then is the end recorded.
async fn close(exchange: &DataExchange, context: &Context) -> Result<Action, Error> {
    let closed = ExchangeDecision {
        state: ExchangeState::Revoked,
        reasons: vec!["the DataExchange was deleted".to_owned()],
        paths: Vec::new(),
        cross_site: Vec::new(),
        next_change: None,
        hold: None,
    };
    let uid = exchange.uid().unwrap_or_default();
    let name = exchange.name_any();
    let identity = ExchangeIdentity {
        name: &name,
        uid: &uid,
    };
    let parties = parties(exchange, &cached(context.caches.tenants.store()));
    let applied =
        apply::apply_paths(context, identity, &exchange.spec, &parties, &closed, false).await;
    let previous = exchange.status.clone().unwrap_or_default();
    let status = decide::status(&closed, &applied, &previous, exchange.metadata.generation);
    let mut open = applied.not_closed();
    for site in &status.still_open_on {
        if !open
            .iter()
            .any(|problem| problem.starts_with(&format!("site {site}:")))
        {
            open.push(format!("site {site}: the Site has no connection"));
        }
    }
    if let Some(left_alone) = decide::left_alone_notice(&previous, &status) {
        report::left_alone(context, exchange, left_alone).await;
    }
    if !open.is_empty() {
        let site = open[0]
            .strip_prefix("site ")
            .and_then(|rest| rest.split(':').next())
            .unwrap_or_default()
            .to_owned();
        return Err(Error::SiteConnection {
            site,
            message: format!(
                "DataExchange {name}'s path is not closed yet: {}",
                open.join("; ")
            ),
        });
    }
    report::deleted(context, exchange).await;
    Ok(Action::await_change())
}

/// Keeps a Site being deleted until no agreement reports a path open (or not confirmed closed)
/// on it: the agreements close their paths on a Site being deleted, and only a site that
/// confirmed it lets its Site go. Deleting a Site therefore never strands a path on a member.
pub const SITE_FINALIZER: &str = "soberana.io/exchange-paths";

/// The Site finalizer's cleanup: done once every agreement's status says its path on `site` is
/// closed; otherwise an error naming them, retried.
pub async fn release_site(site: &Site, context: &Context) -> Result<Action, Error> {
    let name = site.name_any();
    let exchanges = Api::<DataExchange>::all(context.client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|source| Error::ReadManagement {
            object: "DataExchanges".to_owned(),
            source,
        })?;
    let holding: Vec<String> = exchanges
        .items
        .iter()
        .filter(|exchange| {
            exchange.status.as_ref().is_some_and(|status| {
                status.open_on.contains(&name) || status.still_open_on.contains(&name)
            })
        })
        .map(ResourceExt::name_any)
        .collect();
    if holding.is_empty() {
        return Ok(Action::await_change());
    }
    Err(Error::SiteConnection {
        site: name,
        message: format!(
            "the Site is deleted once the paths of DataExchange {} are confirmed closed there",
            holding.join(", ")
        ),
    })
}
