//! `PlacementService.WhatIf`: what a proposed policy change would do to every Workload and Tenant
//! of the live data centre. The change is authorized as if it were made (`update` on each proposed
//! object) before anything of the data centre is read; the current objects come from the watched
//! inventory and the Workloads from one paged list of the management cluster, asked only when a
//! what-if is (security teams ask before a change, not continuously, so the API keeps no copy of
//! every Workload). The core judges only what the change can affect, off the async workers.

use futures::future::try_join_all;
use kube::api::ListParams;
use kube::{Api, Client};
use soberana_core::placement::Objects;
use soberana_core::placement::what_if::{WhatIfError, what_if};
use soberana_core::resources::workload::Workload;
use soberana_proto::v1 as proto;
use soberana_runtime::watch_cache::cached;
use tonic::{Request, Response, Status};

use crate::server::auth::Access;
use crate::server::proposed_objects::{self, ProposedObjects};
use crate::server::{Shared, convert};

/// Workloads read per page of the list.
const WORKLOAD_PAGE: u32 = 500;

/// Authenticates, reads the proposal, authorizes it object by object, and judges it.
pub async fn answer(
    shared: &Shared,
    request: Request<proto::WhatIfRequest>,
) -> Result<Response<proto::WhatIfResponse>, Status> {
    let caller = shared.authenticate(&request).await?;
    let proposed = proposed_objects::read(&request.get_ref().documents)?;
    try_join_all(proposed.objects.iter().map(|object| {
        let access = Access::to_object("update", object.resource, &object.name);
        let (auth, kube, caller) = (&shared.auth, &shared.kube, &caller);
        async move { auth.authorize(kube, caller, &access).await }
    }))
    .await?;
    let inventory = shared.inventory_ready().await?;
    let sites = cached(&inventory.sites);
    let classifications = cached(&inventory.classifications);
    let rules = cached(&inventory.rules);
    let tenants = cached(&inventory.tenants);
    proposed_objects::check_references(&proposed, &sites, &classifications, &tenants)?;
    let workloads = workloads(&shared.kube).await?;
    let proposal = proposed.proposal.clone();
    let judged = tokio::task::spawn_blocking(move || {
        let current = Objects {
            sites: &sites,
            classifications: &classifications,
            rules: &rules,
            tenants: &tenants,
            ..Objects::default()
        };
        what_if(current, &workloads, &proposal)
    })
    .await
    .map_err(|error| Status::internal(format!("judging the proposal stopped: {error}")))?;
    let impact = judged.map_err(|error| refusal(&proposed, &error))?;
    Ok(Response::new(convert::impact(impact)))
}

/// Every Workload of the management cluster, page by page.
async fn workloads(kube: &Client) -> Result<Vec<Workload>, Status> {
    let api = Api::<Workload>::all(kube.clone());
    let mut all = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut parameters = ListParams::default().limit(WORKLOAD_PAGE);
        if let Some(token) = &next {
            parameters = parameters.continue_token(token);
        }
        let page = api
            .list(&parameters)
            .await
            .map_err(|error| Status::unavailable(format!("listing the Workloads: {error}")))?;
        all.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => next = Some(token),
            _ => return Ok(all),
        }
    }
}

/// Why the proposal could not be judged: its own object at fault (`INVALID_ARGUMENT` at the
/// document's field), or the data centre's (`FAILED_PRECONDITION`).
fn refusal(proposed: &ProposedObjects, error: &WhatIfError) -> Status {
    match error {
        WhatIfError::Proposed(snapshot) => proposed_objects::snapshot_violation(proposed, snapshot)
            .unwrap_or_else(|| Status::invalid_argument(error.to_string())),
        WhatIfError::Current(_) => Status::failed_precondition(format!(
            "the data centre's objects are inconsistent: {error}"
        )),
        WhatIfError::MissingName { .. } | WhatIfError::ProposedTwice { .. } => {
            Status::invalid_argument(error.to_string())
        }
    }
}
