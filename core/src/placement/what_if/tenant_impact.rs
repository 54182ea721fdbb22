//! What a change does to a tenant's sites: the sites `sites_for_tenant` gives before and after,
//! and for each site lost whether the tenant would be removed from it (a person's decision:
//! `allowedSites`, `confirmRemovalFrom`) or only held `RemovalPending` until a person confirms
//! (a policy change never empties a site by itself; see `tenancy::departure`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::placement::filters::classification_requirements;
use crate::placement::{Reason, Snapshot};
use crate::resources::tenant::TenantSpec;
use crate::tenancy::{Departure, departure, sites_for_tenant};

/// What would happen to the tenant on a site it loses.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// A person asked for it: the operator removes the tenant from the site.
    Removed,
    /// Only policy changed: everything stays until `spec.confirmRemovalFrom` names the site.
    RemovalPending,
}

/// A site a tenant would lose.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct SiteLoss {
    /// The Site.
    pub site: String,
    pub fate: Fate,
    /// Why the site no longer qualifies, or what the person asked, in one sentence.
    pub why: String,
    /// The requirements of the least sensitive classification the site fails (empty when a
    /// person's decision removes the tenant).
    pub reasons: Vec<Reason>,
}

/// A tenant whose sites would change.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct TenantImpact {
    /// The Tenant.
    pub tenant: String,
    /// Sites it is on today and would no longer qualify for, by name.
    pub loses: Vec<SiteLoss>,
    /// Sites it would be provisioned on that it is not today, by name.
    pub gains: Vec<String>,
}

/// Compares the sites of tenant `name` before (`None`: the proposal adds it) and after the
/// change; `None` when they are the same.
pub fn tenant_impact(
    name: &str,
    before: Option<(&TenantSpec, &Snapshot)>,
    after: (&TenantSpec, &Snapshot),
) -> Option<TenantImpact> {
    let today = before.map_or_else(Vec::new, |(tenant, snapshot)| {
        sites_for_tenant(tenant, snapshot)
    });
    let (tenant, snapshot) = after;
    let then = sites_for_tenant(tenant, snapshot);
    let loses: Vec<SiteLoss> = today
        .iter()
        .filter(|site| !then.contains(site))
        .map(|site| loss(tenant, site, snapshot))
        .collect();
    let gains: Vec<String> = then
        .iter()
        .filter(|site| !today.contains(site))
        .cloned()
        .collect();
    (!loses.is_empty() || !gains.is_empty()).then(|| TenantImpact {
        tenant: name.to_owned(),
        loses,
        gains,
    })
}

fn loss(tenant: &TenantSpec, site: &str, snapshot: &Snapshot) -> SiteLoss {
    let (fate, why) = match departure(tenant, site, snapshot) {
        Departure::AwaitConfirmation(why) => (Fate::RemovalPending, why),
        Departure::Remove if tenant.confirm_removal_from.iter().any(|name| name == site) => {
            (Fate::Removed, "spec.confirmRemovalFrom names it".to_owned())
        }
        Departure::Remove => (
            Fate::Removed,
            "spec.allowedSites no longer lists it".to_owned(),
        ),
    };
    let mut reasons = Vec::new();
    let prepared = snapshot
        .sites()
        .iter()
        .find(|candidate| candidate.name == site);
    if let (Fate::RemovalPending, Some(lowest), Some(prepared)) =
        (fate, snapshot.lowest_classification(), prepared)
    {
        // The judgement `sites_for_tenant` makes: can the site hold the least sensitive data?
        classification_requirements(lowest, prepared, &mut reasons);
    }
    SiteLoss {
        site: site.to_owned(),
        fate,
        why,
        reasons,
    }
}
