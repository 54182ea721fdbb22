//! `ExchangeService`: an institution's interoperability agreements, as the operator judged them.
//! Authorized per tenant: the caller must be able to list Workloads in the tenant's namespace,
//! so one institution never reads another's agreements.

use kube::api::ListParams;
use kube::{Api, ResourceExt};
use soberana_core::resources::data_exchange::DataExchange;
use soberana_core::resources::tenant::Tenant;
use soberana_core::tenancy::objects::namespace_name;
use soberana_proto::v1 as proto;
use soberana_runtime::watch_cache::cached;
use tonic::{Request, Response, Status};

use crate::server::validation::{Violations, name};
use crate::server::{Shared, convert, kube_status};

#[derive(Debug)]
pub struct ExchangeApi(pub Shared);

#[tonic::async_trait]
impl proto::exchange_service_server::ExchangeService for ExchangeApi {
    async fn list_exchanges(
        &self,
        request: Request<proto::ListExchangesRequest>,
    ) -> Result<Response<proto::ListExchangesResponse>, Status> {
        self.0
            .measured("ListExchanges", async {
                let wanted = request.get_ref().tenant.clone();
                let mut violations = Violations::default();
                name(&wanted, "tenant", &mut violations);
                violations.into_result()?;
                let inventory = self.0.inventory_ready().await?;
                let tenants: Vec<Tenant> = cached(&inventory.tenants);
                let namespace = tenants
                    .iter()
                    .find(|tenant| tenant.name_any() == wanted)
                    .and_then(|tenant| {
                        let first = tenant.spec.environments.first()?;
                        Some(namespace_name(&tenant.spec.short_code, &first.name))
                    });
                let Some(namespace) = namespace else {
                    // Refused like someone else's tenant: the answer must not tell which
                    // institutions exist.
                    let caller = self.0.authenticate(&request).await?;
                    return Err(Status::permission_denied(format!(
                        "{} may not list the agreements of tenant {wanted}",
                        caller.user
                    )));
                };
                self.0
                    .allow(&request, "list", "workloads", &namespace)
                    .await?;
                let mut exchanges: Vec<DataExchange> =
                    Api::<DataExchange>::all(self.0.kube.clone())
                        .list(&ListParams::default())
                        .await
                        .map_err(kube_status)?
                        .items
                        .into_iter()
                        .filter(|exchange| {
                            exchange.spec.provider.tenant == wanted
                                || exchange.spec.consumer.tenant == wanted
                        })
                        .collect();
                exchanges.sort_by_key(ResourceExt::name_any);
                Ok(Response::new(proto::ListExchangesResponse {
                    exchanges: exchanges.iter().map(convert::exchange).collect(),
                }))
            })
            .await
    }
}
