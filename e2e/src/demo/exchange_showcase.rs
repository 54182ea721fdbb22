//! What `make demo` shows of interoperability agreements: each example DataExchange as the
//! operator judged it — active ones with the sites their path is open on, refused ones with the
//! sites that make them non-compliant, pending ones with what they wait for — and who approved
//! each side (every approval was written by the owner it names: the demo applies the examples'
//! approvals as their approvers, and the management cluster refuses any other writer).

use std::time::{Duration, Instant};

use anyhow::Result;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use soberana_core::resources::data_exchange::DataExchange;

/// Reasons shown per agreement; the rest are counted (all are in its status).
const REASONS_SHOWN: usize = 4;

async fn agreements(management: &Client) -> Result<Vec<DataExchange>> {
    let mut found = Api::<DataExchange>::all(management.clone())
        .list(&ListParams::default())
        .await?
        .items;
    found.sort_by_key(ResourceExt::name_any);
    Ok(found)
}

/// Waits (up to `timeout`) until every agreement has a state, then prints them.
pub async fn show_agreements(management: &Client, timeout: Duration) -> Result<Vec<String>> {
    let started = Instant::now();
    let mut found = agreements(management).await?;
    while found.iter().any(|agreement| {
        agreement
            .status
            .as_ref()
            .and_then(|status| status.state)
            .is_none()
    }) && started.elapsed() < timeout
    {
        tokio::time::sleep(Duration::from_secs(1)).await;
        found = agreements(management).await?;
    }
    let mut lines = vec![
        "\nInteroperability agreements, judged before any path opens (kubectl --context mgmt get dataexchanges; soberana exchanges -f examples/ offline):".to_owned(),
        format!(
            "  {:<34} {:<58} {:<14} {:<9} OPEN ON / WHY",
            "AGREEMENT", "PROVIDER → CONSUMER", "CLASSIFICATION", "STATE"
        ),
    ];
    for agreement in &found {
        lines.extend(describe(agreement));
    }
    Ok(lines)
}

fn describe(agreement: &DataExchange) -> Vec<String> {
    let spec = &agreement.spec;
    let status = agreement.status.clone().unwrap_or_default();
    let state = status.state.map_or("-", |state| state.as_str());
    let parties = format!(
        "{}/{} → {}",
        spec.provider.tenant, spec.provider.workload, spec.consumer.tenant
    );
    let open = if status.open_on.is_empty() {
        "-".to_owned()
    } else {
        status.open_on.join(", ")
    };
    let mut lines = vec![format!(
        "  {:<34} {parties:<58} {:<14} {state:<9} {open}",
        agreement.name_any(),
        spec.classification
    )];
    let approvals = &spec.approvals;
    let approved: Vec<String> = [
        ("provider", &approvals.provider),
        ("consumer", &approvals.consumer),
    ]
    .into_iter()
    .filter_map(|(side, approval)| {
        let approval = approval.as_ref()?;
        let groups = if approval.groups.is_empty() {
            String::new()
        } else {
            format!(" ({})", approval.groups.join(", "))
        };
        Some(format!("{side} by {}{groups}", approval.approved_by))
    })
    .collect();
    if !approved.is_empty() {
        lines.push(format!(
            "      approved, each as itself: {}",
            approved.join("; ")
        ));
    }
    for reason in status.reasons.iter().take(REASONS_SHOWN) {
        lines.push(format!("      {reason}"));
    }
    if status.reasons.len() > REASONS_SHOWN {
        lines.push(format!(
            "      … {} more (kubectl get dataexchange {} -o yaml)",
            status.reasons.len() - REASONS_SHOWN,
            agreement.name_any()
        ));
    }
    lines
}
