//! What `make demo` prints while the operator works: one line per Site and per Tenant, reprinted
//! whenever something changed, until every site that exists is Ready and every tenant is
//! provisioned on each of them.

use std::collections::BTreeSet;

use anyhow::Result;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Api, Client};
use serde_json::Value;

/// A snapshot of `kubectl get sites,tenants`, and whether it shows convergence.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    pub lines: Vec<String>,
    pub converged: bool,
}

/// Reads Sites and Tenants from `management`. `reachable_sites` are the sites that have a
/// cluster behind them; tenants count as done when provisioned on each of those they use.
pub async fn report(management: &Client, reachable_sites: &BTreeSet<String>) -> Result<Report> {
    let sites = list(management, "Site").await?;
    let tenants = list(management, "Tenant").await?;
    let mut lines = vec![format!(
        "{:<22} {:<18} {:<6} {:<7} MEASURED",
        "SITE", "TIER", "JURIS.", "READY"
    )];
    let mut converged = true;
    for site in &sites {
        let name = site["metadata"]["name"].as_str().unwrap_or_default();
        let ready = condition_status(site, "Ready");
        if reachable_sites.contains(name) && ready != "True" {
            converged = false;
        }
        lines.push(format!(
            "{:<22} {:<18} {:<6} {:<7} {}",
            name,
            site["spec"]["sovereigntyTier"].as_str().unwrap_or_default(),
            site["spec"]["jurisdiction"].as_str().unwrap_or_default(),
            ready,
            site["status"]["measuredAvailability"]
                .as_str()
                .map(|value| format!("{value}%"))
                .unwrap_or_default(),
        ));
    }
    lines.push(format!(
        "{:<30} {:<7} SITES (provisioned/total)",
        "TENANT", "READY"
    ));
    for tenant in &tenants {
        let name = tenant["metadata"]["name"].as_str().unwrap_or_default();
        let entries = tenant["status"]["sites"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let provisioned = entries
            .iter()
            .filter(|entry| entry["state"] == "Provisioned")
            .count();
        let pending_on_real_site = entries.iter().any(|entry| {
            entry["state"] != "Provisioned"
                && reachable_sites.contains(entry["site"].as_str().unwrap_or_default())
        });
        if entries.is_empty() || pending_on_real_site {
            converged = false;
        }
        lines.push(format!(
            "{:<30} {:<7} {provisioned}/{}",
            name,
            condition_status(tenant, "Ready"),
            entries.len()
        ));
    }
    Ok(Report { lines, converged })
}

async fn list(client: &Client, kind: &str) -> Result<Vec<Value>> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("soberana.io", "v1alpha1", kind));
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let mut objects: Vec<Value> = api
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    objects.sort_by(|left, right| {
        left["metadata"]["name"]
            .as_str()
            .cmp(&right["metadata"]["name"].as_str())
    });
    Ok(objects)
}

fn condition_status(object: &Value, type_: &str) -> String {
    object["status"]["conditions"]
        .as_array()
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|condition| condition["type"] == type_)
        })
        .and_then(|condition| condition["status"].as_str())
        .unwrap_or("-")
        .to_owned()
}
