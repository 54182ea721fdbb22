//! Apply, for a Workload: its copies on every target site (applied only where they differ, with
//! the rollout read back) and leaving the sites it no longer runs on, all sites at once.

use std::collections::BTreeSet;

use futures::future::join_all;
use kube::ResourceExt;
use soberana_core::propagation::SiteHealth;
use soberana_core::resources::site::Site;
use soberana_core::resources::workload::{
    FailoverRecord, StaleCopies, Workload, WorkloadSiteState, WorkloadSiteStatus, WorkloadStatus,
};

use crate::conditions::bounded_message;
use crate::members::workload_sites::{Rollout, apply_objects, remove_objects, rollout, up_to_date};
use crate::runtime::context::Context;
use crate::runtime::error::Error;

/// Apply: the copies on each target site, and what becomes of copies elsewhere (kept after a
/// failover when asked, else removed), sorted by site.
#[allow(
    clippy::too_many_arguments,
    reason = "the reconcile's observed facts, passed rather than re-read"
)]
pub(super) async fn apply_to_sites(
    context: &Context,
    workload: &Workload,
    sites: &[Site],
    previous: &WorkloadStatus,
    target: &[String],
    last_failover: Option<&FailoverRecord>,
    (namespace, objects): (&str, &[serde_json::Value]),
    health: impl Fn(&str) -> SiteHealth,
) -> Vec<WorkloadSiteStatus> {
    let name = workload.name_any();
    let name = name.as_str();
    let running = join_all(target.iter().map(|site_name| {
        let health = health(site_name);
        run_on(context, sites, site_name, namespace, name, objects, health)
    }));
    let kept_after_failover: BTreeSet<&String> =
        match (&workload.spec.failover.stale_copies, last_failover) {
            (StaleCopies::Keep, Some(record)) => record.from.iter().collect(),
            _ => BTreeSet::new(),
        };
    let (kept, leaving): (Vec<_>, Vec<_>) = previous
        .sites
        .iter()
        .filter(|old| !target.contains(&old.site))
        .partition(|old| kept_after_failover.contains(&old.site));
    let left = join_all(
        leaving
            .iter()
            .map(|old| leave(context, sites, &old.site, namespace, name)),
    );
    let (mut entries, left) = futures::join!(running, left);
    entries.extend(kept.iter().map(|old| {
        stale(
            &old.site,
            "kept after failover (spec.failover.staleCopies: Keep)",
        )
    }));
    entries.extend(left.into_iter().flatten());
    entries.sort_by(|left, right| left.site.cmp(&right.site));
    entries
}

/// The workload on a target site: applied if the site answers, with its rollout.
async fn run_on(
    context: &Context,
    sites: &[Site],
    site_name: &str,
    namespace: &str,
    name: &str,
    objects: &[serde_json::Value],
    health: SiteHealth,
) -> WorkloadSiteStatus {
    let entry = |state: WorkloadSiteState, rollout: Rollout, message: Option<String>| {
        WorkloadSiteStatus {
            site: site_name.to_owned(),
            state,
            desired_replicas: rollout.desired,
            available_replicas: rollout.available,
            // Messages may quote a member API server's answer.
            message: message.map(|text| bounded_message(&text)),
        }
    };
    if objects.is_empty() {
        return entry(
            WorkloadSiteState::Placed,
            Default::default(),
            Some("the Workload has no template: nothing to deploy".to_owned()),
        );
    }
    let Some(site) = sites.iter().find(|site| site.name_any() == site_name) else {
        return entry(
            WorkloadSiteState::Unreachable,
            Default::default(),
            Some("the Site no longer exists".to_owned()),
        );
    };
    if health != SiteHealth::Ready {
        return entry(
            WorkloadSiteState::Unreachable,
            Default::default(),
            Some(format!("site {site_name} is not Ready")),
        );
    }
    let client = match context.connections.client(site, &context.metrics).await {
        Ok(client) => client,
        Err(error) => {
            return entry(
                WorkloadSiteState::Unreachable,
                Default::default(),
                Some(error.0),
            );
        }
    };
    // Applied only when the copy differs: a running workload costs reads, not writes.
    let current = up_to_date(&client, objects).await.unwrap_or(false);
    if !current && let Err(error) = apply_objects(&client, site_name, objects).await {
        return entry(
            WorkloadSiteState::Failed,
            Default::default(),
            Some(error.to_string()),
        );
    }
    let (state, found, message) = rollout_state(rollout(&client, site_name, namespace, name).await);
    entry(state, found, message)
}

/// Where the copy stands, from what its Deployment (and, while replicas are missing, its Pods)
/// reported.
fn rollout_state(
    read: Result<Option<Rollout>, Error>,
) -> (WorkloadSiteState, Rollout, Option<String>) {
    match read {
        Ok(Some(found)) if found.available >= found.desired => {
            (WorkloadSiteState::Running, found, None)
        }
        Ok(Some(found)) => {
            let mut message = format!(
                "{} of {} replicas available",
                found.available, found.desired
            );
            let state = match &found.unschedulable {
                Some(reason) => {
                    message.push_str(&format!(
                        "; the site's scheduler finds no room for the rest: {reason}"
                    ));
                    WorkloadSiteState::Unschedulable
                }
                None => WorkloadSiteState::Deploying,
            };
            (state, found, Some(message))
        }
        Ok(None) => (
            WorkloadSiteState::Deploying,
            Rollout::default(),
            Some("the Deployment is not there yet".to_owned()),
        ),
        Err(error) => (
            WorkloadSiteState::Unreachable,
            Rollout::default(),
            Some(error.to_string()),
        ),
    }
}

/// Removes the workload from a site it left; the entry stays (as `Stale`) until that worked.
pub(super) async fn leave(
    context: &Context,
    sites: &[Site],
    site_name: &str,
    namespace: &str,
    name: &str,
) -> Option<WorkloadSiteStatus> {
    let site = sites.iter().find(|site| site.name_any() == site_name)?;
    let client = match context.connections.client(site, &context.metrics).await {
        Ok(client) => client,
        Err(error) => return Some(stale(site_name, &format!("removal waits: {}", error.0))),
    };
    match remove_objects(&client, site_name, namespace, name).await {
        Ok(()) => None,
        Err(error) => Some(stale(
            site_name,
            &format!("removal waits for the site: {error}"),
        )),
    }
}

fn stale(site: &str, message: &str) -> WorkloadSiteStatus {
    WorkloadSiteStatus {
        site: site.to_owned(),
        state: WorkloadSiteState::Stale,
        desired_replicas: 0,
        available_replicas: 0,
        message: Some(bounded_message(message)),
    }
}
