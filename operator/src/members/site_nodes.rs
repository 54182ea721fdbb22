//! Reading what a member site's nodes hold: its Nodes at once, its running Pods a page at a
//! time, so the operator's memory does not grow with the site's Pods.

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::ListParams;
use kube::{Api, Client};
use soberana_core::resources::site_nodes::{NodeObservation, ObservedNodes};

/// Pods per page.
const PAGE_SIZE: u32 = 500;

/// The site's nodes: allocatable, requested by Pods that have not finished, and free.
pub async fn observe_nodes(client: &Client) -> Result<ObservedNodes, kube::Error> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let mut observation = NodeObservation::of_nodes(&nodes.items);
    let pods = Api::<Pod>::all(client.clone());
    let mut parameters = ListParams::default()
        .fields("status.phase!=Succeeded,status.phase!=Failed")
        .limit(PAGE_SIZE);
    loop {
        let page = pods.list(&parameters).await?;
        observation.count(&page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => parameters = parameters.continue_token(&token),
            _ => return Ok(observation.finish()),
        }
    }
}
