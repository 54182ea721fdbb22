//! Report, for an agreement, beyond its status: an Event and a decision-ledger record for each
//! transition (activation, refusal, expiry, revocation, suspension, a moved path, deletion), and
//! the gauges alerts are built on.

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;
use kube::runtime::events::EventType;
use soberana_core::ledger::{NewRecord, RecordKind};
use soberana_core::resources::data_exchange::{DataExchange, DataExchangeStatus, ExchangeState};

use super::decide::{FOREIGN_OBJECTS, Transition, may_be_open};
use crate::runtime::context::Context;
use crate::runtime::events::publish;

/// How far ahead an expiry is announced by `soberana_exchange_expiring_within_14_days`.
const EXPIRY_NOTICE: SignedDuration = SignedDuration::from_hours(14 * 24);

/// Publishes the transition (if any) as an Event and a ledger record, a Warning naming the
/// policies left alone when they changed, and sets the gauges.
pub(super) async fn report(
    context: &Context,
    exchange: &DataExchange,
    status: &DataExchangeStatus,
    transition: Option<&Transition>,
    left_alone_notice: Option<String>,
) {
    if let Some(notice) = left_alone_notice {
        left_alone(context, exchange, notice).await;
    }
    if let Some(transition) = transition {
        publish(
            context,
            exchange,
            transition.event_type,
            transition.reason,
            "Judge",
            transition.note.clone(),
        )
        .await;
        record(context, exchange, transition.reason, status).await;
    }
    gauges(context, exchange, status);
}

/// A Warning naming the policies carrying the agreement's label that were left alone.
pub(super) async fn left_alone(context: &Context, exchange: &DataExchange, notice: String) {
    publish(
        context,
        exchange,
        EventType::Warning,
        FOREIGN_OBJECTS,
        "Close",
        notice,
    )
    .await;
}

/// The DataExchange was deleted and every site confirmed its paths closed.
pub(super) async fn deleted(context: &Context, exchange: &DataExchange) {
    let status = DataExchangeStatus {
        state: Some(ExchangeState::Revoked),
        reasons: vec!["the DataExchange was deleted; every path is closed".to_owned()],
        ..DataExchangeStatus::default()
    };
    publish(
        context,
        exchange,
        EventType::Normal,
        "Closed",
        "Delete",
        status.reasons[0].clone(),
    )
    .await;
    record(context, exchange, "Deleted", &status).await;
    gauges(context, exchange, &status);
}

/// Appends the transition to the decision ledger, when the operator has one: the agreement's
/// parties, data, purpose, legal basis and approvers beside what happened, so the record stands
/// alone. A
/// ledger that does not answer is logged, not fatal: the Event and status hold it too.
async fn record(
    context: &Context,
    exchange: &DataExchange,
    what: &str,
    status: &DataExchangeStatus,
) {
    let Some(ledger) = &context.ledger else {
        return;
    };
    let spec = &exchange.spec;
    let payload = serde_json::json!({
        "transition": what,
        "state": status.state.map(ExchangeState::as_str),
        "reasons": status.reasons,
        "openOn": status.open_on,
        "stillOpenOn": status.still_open_on,
        "crossSite": status.cross_site,
        "provider": {"tenant": spec.provider.tenant, "environment": spec.provider.environment, "workload": spec.provider.workload},
        "consumer": {"tenant": spec.consumer.tenant, "environments": spec.consumer.environments, "workloads": spec.consumer.workloads},
        "classification": spec.classification,
        "purpose": spec.purpose,
        "legalBasis": spec.legal_basis,
        "notAfter": spec.validity.not_after.0.to_string(),
        // Who approved, as the management cluster authenticated them (its approval policy let
        // only the named identity write each one) and owners of their side's Tenant.
        "approvals": spec.approvals,
    });
    let record = NewRecord {
        kind: RecordKind::Exchange,
        time: Timestamp::now().to_string(),
        actor: "soberana-operator".to_owned(),
        subject: exchange.name_any(),
        payload_json: payload.to_string(),
    };
    if let Err(error) = ledger.append(record).await {
        tracing::warn!(exchange = %exchange.name_any(), %error, "could not append the agreement's transition to the ledger");
    }
}

/// `soberana_exchange_active` (1 while the agreement is in force or a site has not confirmed its
/// path closed) and `soberana_exchange_expiring_within_14_days` for this agreement.
fn gauges(context: &Context, exchange: &DataExchange, status: &DataExchangeStatus) {
    let in_force = status.state == Some(ExchangeState::Active);
    let spec = &exchange.spec;
    let name = exchange.name_any();
    let metrics = &context.metrics;
    let labels = [
        name.as_str(),
        spec.provider.tenant.as_str(),
        spec.consumer.tenant.as_str(),
        spec.classification.as_str(),
    ];
    metrics
        .exchange_active
        .with_label_values(&labels)
        .set(i64::from(may_be_open(status)));
    let expiring =
        in_force && Timestamp::now().duration_until(spec.validity.not_after.0) < EXPIRY_NOTICE;
    metrics
        .exchange_expiring
        .with_label_values(&labels[..3])
        .set(i64::from(expiring));
}
