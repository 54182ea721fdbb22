//! Apply an agreement's decision on every site at once: on each, observe the policies carrying
//! its label and the namespaces they name, let core's `plan_site` say which are provably the
//! agreement's, then write the wanted ones and delete the agreement's others. A policy that is
//! not provably its own is never touched, only reported; one failed write or delete does not
//! stop the rest. A site that is not Ready or does not answer is a failure to retry, never
//! skipped as done: a path must not stay open because a site was down when it should close.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use soberana_core::exchange::{
    EXCHANGE_LABEL, ExchangeDecision, ExchangeIdentity, LeftAlone, PolicyRef, exchange_label_value,
    network_policies, plan_site,
};
use soberana_core::resources::condition_types::ConditionType;
use soberana_core::resources::data_exchange::DataExchangeSpec;
use soberana_core::resources::site::Site;
use soberana_core::tenancy::TenantIdentity;

use super::FIELD_MANAGER;
use crate::runtime::caches::cached;
use crate::runtime::context::Context;

/// What each site did with the decision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    pub sites: Vec<SiteOutcome>,
}

impl Applied {
    /// Whether a site could not be brought fully in line (worth a retry soon).
    pub fn has_failures(&self) -> bool {
        self.sites.iter().any(|outcome| match &outcome.result {
            SiteResult::NotConnected => false,
            SiteResult::Unanswered(_) => true,
            SiteResult::Answered(report) => {
                !report.still_open.is_empty() || !report.not_opened.is_empty()
            }
        })
    }

    /// The sites where the agreement's path may still be (for deletion, which must not end
    /// before every site confirmed it closed), with why.
    pub fn not_closed(&self) -> Vec<String> {
        self.sites
            .iter()
            .filter_map(|outcome| match &outcome.result {
                SiteResult::NotConnected => None,
                SiteResult::Unanswered(problem) => {
                    Some(format!("site {}: {problem}", outcome.site))
                }
                SiteResult::Answered(report) if !report.still_open.is_empty() => Some(format!(
                    "site {}: {}",
                    outcome.site,
                    report.still_open.join("; ")
                )),
                SiteResult::Answered(_) => None,
            })
            .collect()
    }
}

/// One site's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SiteOutcome {
    pub site: String,
    pub result: SiteResult,
}

/// What became of the decision on one site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SiteResult {
    /// The Site has no connection and nothing was to open there: nothing could be looked at.
    NotConnected,
    /// The site could not be looked at (not Ready, no client, the list failed), or the Site is
    /// gone: what is open there is unknown.
    Unanswered(String),
    /// The site answered; what was done there.
    Answered(SiteReport),
}

/// What was done on a site that answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SiteReport {
    /// The path was wanted here and every policy of it is in place as wanted.
    pub opened: bool,
    /// The agreement's own policies that should be gone but are still there, with why.
    pub still_open: Vec<String>,
    /// Wanted policies that could not be written, with why.
    pub not_opened: Vec<String>,
    /// Policies with the agreement's label that are not provably its own: left alone.
    pub foreign: Vec<String>,
}

/// Why a site could not be looked at.
#[derive(Debug, thiserror::Error)]
enum SiteError {
    #[error("the site is not Ready; its path is brought in line when it is")]
    SiteNotReady,
    #[error("the Site no longer exists")]
    SiteGone,
    #[error("{0}")]
    Connection(String),
    #[error("listing the agreement's NetworkPolicies: {0}")]
    List(kube::Error),
    #[error("reading namespace {name}: {source}")]
    Namespace { name: String, source: kube::Error },
}

/// Brings every site in line with `decision`: open where it has a path, closed elsewhere, on
/// what is provably the agreement's. `parties` are its Tenants that exist.
pub(super) async fn apply_paths(
    context: &Context,
    exchange: ExchangeIdentity<'_>,
    spec: &DataExchangeSpec,
    parties: &[TenantIdentity],
    decision: &ExchangeDecision,
    consumer_restricts_egress: bool,
) -> Applied {
    let sites = cached(context.caches.sites.store());
    let outcomes = join_all(sites.iter().map(|site| {
        let wanted: Vec<NetworkPolicy> = decision
            .paths
            .iter()
            .filter(|path| path.site == site.name_any())
            .flat_map(|path| network_policies(exchange, spec, path, consumer_restricts_egress))
            .collect();
        async move {
            let result = match bring_in_line(context, site, exchange, parties, &wanted).await {
                Ok(Some(report)) => SiteResult::Answered(report),
                Ok(None) => SiteResult::NotConnected,
                Err(problem) => SiteResult::Unanswered(problem.to_string()),
            };
            SiteOutcome {
                site: site.name_any(),
                result,
            }
        }
    }))
    .await;
    let mut applied = Applied { sites: outcomes };
    // A path decided on a site Soberana no longer knows cannot be open.
    for path in &decision.paths {
        if !sites.iter().any(|site| site.name_any() == path.site) {
            applied.sites.push(SiteOutcome {
                site: path.site.clone(),
                result: SiteResult::Unanswered(SiteError::SiteGone.to_string()),
            });
        }
    }
    applied
}

/// One site: `None` on a site Soberana has no connection to and nothing to open on; otherwise
/// what was done there.
async fn bring_in_line(
    context: &Context,
    site: &Site,
    exchange: ExchangeIdentity<'_>,
    parties: &[TenantIdentity],
    wanted: &[NetworkPolicy],
) -> Result<Option<SiteReport>, SiteError> {
    if site.spec.connection.is_none() && wanted.is_empty() {
        return Ok(None);
    }
    let not_ready = site.status.as_ref().is_some_and(|status| {
        status
            .conditions
            .iter()
            .any(|condition| ConditionType::Ready.is(condition) && condition.status != "True")
    });
    if not_ready {
        return Err(SiteError::SiteNotReady);
    }
    let client = context
        .connections
        .client(site, &context.metrics)
        .await
        .map_err(|error| SiteError::Connection(error.0))?;
    // Observe: the policies with the agreement's label, and the namespaces they and the wanted
    // ones name.
    let selector = format!("{EXCHANGE_LABEL}={}", exchange_label_value(exchange.name));
    let found = Api::<NetworkPolicy>::all(client.clone())
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(SiteError::List)?
        .items;
    let namespaces = namespaces(&client, found.iter().chain(wanted)).await?;
    // Decide (core, pure), then act on every object, each failure kept.
    let plan = plan_site(exchange, parties, &namespaces, &found, wanted);
    let mut report = SiteReport {
        foreign: plan.foreign.iter().map(LeftAlone::to_string).collect(),
        not_opened: plan.not_written.iter().map(LeftAlone::to_string).collect(),
        ..SiteReport::default()
    };
    for policy in &plan.write {
        if let Err(error) = write(&client, policy).await {
            let reference = PolicyRef {
                namespace: policy.namespace().unwrap_or_default(),
                name: policy.name_any(),
            };
            report
                .not_opened
                .push(format!("{reference}: writing it failed: {error}"));
        }
    }
    for reference in &plan.delete {
        let deleted = Api::<NetworkPolicy>::namespaced(client.clone(), &reference.namespace)
            .delete(&reference.name, &DeleteParams::default())
            .await;
        match deleted {
            Ok(_) => {}
            Err(kube::Error::Api(response)) if response.code == 404 => {}
            Err(error) => report
                .still_open
                .push(format!("{reference}: deleting it failed: {error}")),
        }
    }
    report.opened = !wanted.is_empty() && report.not_opened.is_empty();
    Ok(Some(report))
}

async fn write(client: &Client, policy: &NetworkPolicy) -> Result<(), kube::Error> {
    let namespace = policy.namespace().unwrap_or_default();
    Api::<NetworkPolicy>::namespaced(client.clone(), &namespace)
        .patch(
            &policy.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(policy),
        )
        .await
        .map(|_| ())
}

/// The site's namespaces among those `policies` name (one absent from the map is not there).
async fn namespaces(
    client: &Client,
    policies: impl Iterator<Item = &NetworkPolicy>,
) -> Result<BTreeMap<String, ObjectMeta>, SiteError> {
    let names: BTreeSet<String> = policies.filter_map(ResourceExt::namespace).collect();
    let api = Api::<Namespace>::all(client.clone());
    let mut found = BTreeMap::new();
    for name in names {
        let namespace = api
            .get_opt(&name)
            .await
            .map_err(|source| SiteError::Namespace {
                name: name.clone(),
                source,
            })?;
        if let Some(namespace) = namespace {
            found.insert(name, namespace.metadata);
        }
    }
    Ok(found)
}
