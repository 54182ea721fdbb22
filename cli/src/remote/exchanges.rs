//! `soberana exchanges --tenant T` against the API: the tenant's agreements as the operator
//! judged them, in the rows the offline command prints.

use soberana_core::resources::data_exchange::cross_site_label;
use soberana_proto::v1 as proto;

use crate::agreements::{AgreementRow, consumer_label};
use crate::remote::commands::Failure;
use crate::remote::connection::Connection;

/// The agreements naming `tenant`, in name order.
pub async fn list(connection: &Connection, tenant: &str) -> Result<Vec<AgreementRow>, Failure> {
    let mut client =
        proto::exchange_service_client::ExchangeServiceClient::new(connection.channel().await?);
    let exchanges = client
        .list_exchanges(connection.request(proto::ListExchangesRequest {
            tenant: tenant.to_owned(),
        })?)
        .await?
        .into_inner()
        .exchanges;
    Ok(exchanges.iter().map(row).collect())
}

fn row(exchange: &proto::Exchange) -> AgreementRow {
    let state = match exchange.state() {
        proto::ExchangeState::Unspecified => "-",
        proto::ExchangeState::Pending => "Pending",
        proto::ExchangeState::Active => "Active",
        proto::ExchangeState::Refused => "Refused",
        proto::ExchangeState::Expired => "Expired",
        proto::ExchangeState::Revoked => "Revoked",
    };
    AgreementRow {
        name: exchange.name.clone(),
        provider: format!(
            "{}/{}/{}",
            exchange.provider_tenant, exchange.provider_environment, exchange.provider_workload
        ),
        ports: exchange.ports.clone(),
        consumer: consumer_label(
            &exchange.consumer_tenant,
            &exchange.consumer_environments,
            &exchange.consumer_workloads,
        ),
        classification: exchange.classification.clone(),
        purpose: exchange.purpose.clone(),
        legal_basis: exchange.legal_basis.clone(),
        not_after: exchange
            .not_after
            .as_ref()
            .and_then(|time| k8s_openapi::jiff::Timestamp::new(time.seconds, time.nanos).ok())
            .map(|time| time.to_string())
            .unwrap_or_default(),
        state: state.to_owned(),
        open_on: exchange.open_on.clone(),
        cross_site: exchange
            .cross_site
            .iter()
            .map(|path| cross_site_label(&path.provider_site, &path.consumer_sites))
            .collect(),
        reasons: exchange.reasons.clone(),
    }
}
