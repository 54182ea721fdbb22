//! `PlacementService.Evaluate`: the engine's explained decision for a workload spec, reserving
//! nothing; and `WhatIf` (in `what_if`).

use kube::ResourceExt;
use soberana_core::placement::{Reservation, evaluate};
use soberana_core::resources::workload::Workload;
use soberana_core::tenancy::tenant_of_namespace;
use soberana_proto::v1 as proto;
use tonic::{Request, Response, Status};

use crate::server::services::what_if;
use crate::server::validation::{Violations, dns_label, workload_spec};
use crate::server::{Shared, convert, store_status};

#[derive(Debug)]
pub struct PlacementApi(pub Shared);

/// Validates `namespace` and `workload` and evaluates the workload against the data centre now,
/// counting the reservations held.
pub async fn decide(
    shared: &Shared,
    namespace: &str,
    workload: Option<&proto::WorkloadSpec>,
) -> Result<(Workload, soberana_core::placement::Decision), Status> {
    let mut violations = Violations::default();
    dns_label(namespace, "namespace", &mut violations);
    let spec = workload_spec(workload, "workload", &mut violations);
    violations.into_result()?;
    let spec = spec.ok_or_else(|| Status::invalid_argument("workload: is required"))?;
    let reservations: Vec<Reservation> = shared
        .store
        .reservations()
        .await
        .map_err(store_status)?
        .into_iter()
        .map(|held| Reservation {
            site: held.site,
            capacity: held.capacity,
        })
        .collect();
    let snapshot = shared.snapshot(reservations).await?;
    // The namespace decides the tenant: a caller allowed in one tenant's namespace cannot ask on
    // another's behalf, nor learn which tenants exist by naming them.
    let tenants = shared.inventory.tenants.state();
    let owner = tenant_of_namespace(tenants.iter().map(|tenant| &**tenant), namespace)
        .map(ResourceExt::name_any)
        .ok_or_else(|| {
            Status::permission_denied(format!(
                "namespace {namespace} is not a tenant's namespace: no workload can be placed for it"
            ))
        })?;
    if spec.tenant != owner {
        let mut violations = Violations::default();
        violations.add(
            "workload.tenant",
            format!(
                "must be {owner}, the tenant namespace {namespace} belongs to: a call acts only for its namespace's tenant"
            ),
        );
        violations.into_result()?;
    }
    let mut workload = Workload::new("plan", spec);
    workload.metadata.namespace = Some(namespace.to_owned());
    let decision = evaluate(&snapshot, &workload).map_err(|error| {
        let mut violations = Violations::default();
        let field = match &error {
            soberana_core::placement::EvaluationError::UnknownTenant { .. } => "workload.tenant",
            soberana_core::placement::EvaluationError::UnknownClassification { .. } => {
                "workload.classification"
            }
            _ => "workload",
        };
        violations.add(field, error.to_string());
        violations
            .into_result()
            .err()
            .unwrap_or_else(|| Status::invalid_argument(error.to_string()))
    })?;
    Ok((workload, decision))
}

#[tonic::async_trait]
impl proto::placement_service_server::PlacementService for PlacementApi {
    async fn evaluate(
        &self,
        request: Request<proto::EvaluateRequest>,
    ) -> Result<Response<proto::EvaluateResponse>, Status> {
        self.0
            .measured("Evaluate", async {
                let namespace = request.get_ref().namespace.clone();
                let mut violations = Violations::default();
                dns_label(&namespace, "namespace", &mut violations);
                violations.into_result()?;
                self.0
                    .allow(&request, "get", "workloads", &namespace)
                    .await?;
                let (_, decision) =
                    decide(&self.0, &namespace, request.get_ref().workload.as_ref()).await?;
                Ok(Response::new(proto::EvaluateResponse {
                    decision: Some(convert::decision(decision)),
                }))
            })
            .await
    }

    async fn what_if(
        &self,
        request: Request<proto::WhatIfRequest>,
    ) -> Result<Response<proto::WhatIfResponse>, Status> {
        self.0
            .measured("WhatIf", what_if::answer(&self.0, request))
            .await
    }
}
