//! `InventoryService.ListSites`: the sites as the operator last observed them.

use soberana_core::resources::site::Site;
use soberana_proto::v1 as proto;
use soberana_runtime::watch_cache::cached;
use tonic::{Request, Response, Status};

use crate::server::{Shared, convert};

#[derive(Debug)]
pub struct InventoryApi(pub Shared);

#[tonic::async_trait]
impl proto::inventory_service_server::InventoryService for InventoryApi {
    async fn list_sites(
        &self,
        request: Request<proto::ListSitesRequest>,
    ) -> Result<Response<proto::ListSitesResponse>, Status> {
        self.0
            .measured("ListSites", async {
                self.0.allow(&request, "list", "sites", "").await?;
                let mut sites: Vec<Site> = cached(&self.0.inventory.sites);
                sites.sort_by(|left, right| left.metadata.name.cmp(&right.metadata.name));
                Ok(Response::new(proto::ListSitesResponse {
                    sites: sites.iter().map(convert::site).collect(),
                }))
            })
            .await
    }
}
