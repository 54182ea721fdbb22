//! `ExchangeService`: an institution's interoperability agreements, as the operator judged them.
//! Authorized per tenant: the caller must be able to list Workloads in the tenant's namespace,
//! so one institution never reads another's agreements. Served from the watched inventory, so a
//! listing costs the management cluster no list call.

use std::sync::Arc;

use kube::ResourceExt;
use soberana_core::resources::data_exchange::DataExchange;
use soberana_core::resources::tenant::Tenant;
use soberana_core::tenancy::objects::namespace_name;
use soberana_proto::v1 as proto;
use soberana_runtime::watch_cache::cached;
use tonic::{Code, Request, Response, Status};

use crate::server::auth::{Access, Caller};
use crate::server::validation::{Violations, name};
use crate::server::{Shared, convert};

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
                let caller = self.0.authenticate(&request).await?;
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
                    return Err(not_yours(&caller, &wanted));
                };
                self.0
                    .auth
                    .authorize(
                        &self.0.kube,
                        &caller,
                        &Access::to("list", "workloads", &namespace),
                    )
                    .await
                    .map_err(|status| match status.code() {
                        Code::PermissionDenied => not_yours(&caller, &wanted),
                        _ => status,
                    })?;
                let mut exchanges: Vec<Arc<DataExchange>> = inventory
                    .exchanges
                    .state()
                    .into_iter()
                    .filter(|exchange| {
                        exchange.spec.provider.tenant == wanted
                            || exchange.spec.consumer.tenant == wanted
                    })
                    .collect();
                exchanges.sort_by_key(|exchange| exchange.name_any());
                Ok(Response::new(proto::ListExchangesResponse {
                    exchanges: exchanges
                        .iter()
                        .map(|exchange| convert::exchange(exchange))
                        .collect(),
                }))
            })
            .await
    }
}

/// The one refusal for a tenant that does not exist and for one the caller may not read: the
/// same code and words, naming neither the tenant's namespace nor its short code, so the answer
/// never tells which institutions exist.
fn not_yours(caller: &Caller, tenant: &str) -> Status {
    Status::permission_denied(format!(
        "{} may not list the agreements of tenant {tenant}",
        caller.user
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_neither_a_namespace_nor_a_short_code() {
        let caller = Caller {
            user: "system:serviceaccount:agnb-prod:migrator".to_owned(),
            groups: Vec::new(),
            uid: None,
        };
        let refused = not_yours(&caller, "agency-a");
        assert_eq!(refused.code(), Code::PermissionDenied);
        assert_eq!(
            refused.message(),
            "system:serviceaccount:agnb-prod:migrator may not list the agreements of tenant agency-a"
        );
    }
}
