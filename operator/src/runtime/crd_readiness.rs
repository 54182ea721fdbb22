//! The operator starts its controllers only once every Soberana CRD is established: watching a
//! kind the API server does not serve yet fails in ways that look like outages.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client};
use soberana_core::resources::custom_resource_definitions;

/// How often the CRDs are looked at while waiting.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Names of the CRDs that are not established yet (missing or without `Established=True`).
pub async fn missing_crds(client: &Client) -> Result<Vec<String>, kube::Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut missing = Vec::new();
    for definition in custom_resource_definitions() {
        let name = definition.metadata.name.unwrap_or_default();
        let established = api.get_opt(&name).await?.is_some_and(|found| {
            found
                .status
                .and_then(|status| status.conditions)
                .is_some_and(|conditions| {
                    conditions.iter().any(|condition| {
                        condition.type_ == "Established" && condition.status == "True"
                    })
                })
        });
        if !established {
            missing.push(name);
        }
    }
    Ok(missing)
}

/// Waits until every CRD is established, logging what is still missing; API errors are logged
/// and retried, since the management cluster may be starting too.
pub async fn wait_for_crds(client: &Client) {
    let mut last_report = String::new();
    loop {
        let report = match missing_crds(client).await {
            Ok(missing) if missing.is_empty() => {
                tracing::info!("every Soberana CRD is established");
                return;
            }
            Ok(missing) => format!("waiting for CRDs to be established: {}", missing.join(", ")),
            Err(error) => format!("cannot read CRDs from the management cluster: {error}"),
        };
        if report != last_report {
            tracing::warn!("{report} (install them with `kubectl apply -f crds/`)");
            last_report = report;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
