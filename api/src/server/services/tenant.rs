//! `TenantService`: the institutions, as the operator reports them.

use kube::Api;
use soberana_core::resources::tenant::Tenant;
use soberana_proto::v1 as proto;
use soberana_runtime::watch_cache::cached;
use tonic::{Request, Response, Status};

use crate::server::validation::{Violations, name};
use crate::server::{Shared, convert, kube_status};

#[derive(Debug)]
pub struct TenantApi(pub Shared);

#[tonic::async_trait]
impl proto::tenant_service_server::TenantService for TenantApi {
    async fn get_tenant(
        &self,
        request: Request<proto::GetTenantRequest>,
    ) -> Result<Response<proto::GetTenantResponse>, Status> {
        self.0
            .measured("GetTenant", async {
                let wanted = request.get_ref().name.clone();
                let mut violations = Violations::default();
                name(&wanted, "name", &mut violations);
                violations.into_result()?;
                self.0.allow(&request, "get", "tenants", "").await?;
                let tenant = Api::<Tenant>::all(self.0.kube.clone())
                    .get(&wanted)
                    .await
                    .map_err(kube_status)?;
                Ok(Response::new(proto::GetTenantResponse {
                    tenant: Some(convert::tenant(&tenant)),
                }))
            })
            .await
    }

    async fn list_tenants(
        &self,
        request: Request<proto::ListTenantsRequest>,
    ) -> Result<Response<proto::ListTenantsResponse>, Status> {
        self.0
            .measured("ListTenants", async {
                self.0.allow(&request, "list", "tenants", "").await?;
                let mut tenants: Vec<Tenant> = cached(&self.0.inventory.tenants);
                tenants.sort_by(|left, right| left.metadata.name.cmp(&right.metadata.name));
                Ok(Response::new(proto::ListTenantsResponse {
                    tenants: tenants.iter().map(convert::tenant).collect(),
                }))
            })
            .await
    }
}
