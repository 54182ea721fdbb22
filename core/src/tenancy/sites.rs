//! Which sites carry a tenant: those in its allowed list (all when the list is empty) that could
//! host at least the least sensitive classification, the same judgement the placement engine
//! makes; and, for a site it was on and no longer qualifies for, whether leaving it was asked for
//! by a person or only follows from a policy change (which never deletes on its own).

use crate::placement::Snapshot;
use crate::placement::filters::classification_requirements;
use crate::resources::tenant::TenantSpec;

/// The names of the sites that should carry `tenant`, in name order. Empty when no
/// classification is defined: no site can be judged then.
pub fn sites_for_tenant(tenant: &TenantSpec, snapshot: &Snapshot) -> Vec<String> {
    if snapshot.lowest_classification().is_none() {
        return Vec::new();
    }
    snapshot
        .sites()
        .iter()
        .filter(|site| ineligibility(tenant, &site.name, snapshot).is_none())
        .map(|site| site.name.clone())
        .collect()
}

/// What to do with a site the tenant is on but no longer qualifies for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Departure {
    /// A person asked for it: the site left `allowedSites`, or `confirmRemovalFrom` names it.
    Remove,
    /// Only policy changed (a classification's requirements, the site's facts): keep everything
    /// there until a person confirms. The text says why the site no longer qualifies.
    AwaitConfirmation(String),
}

/// How to leave `site`, which the tenant is on and which `sites_for_tenant` no longer lists.
pub fn departure(tenant: &TenantSpec, site: &str, snapshot: &Snapshot) -> Departure {
    if tenant.confirm_removal_from.iter().any(|name| name == site) {
        return Departure::Remove;
    }
    match ineligibility(tenant, site, snapshot) {
        Some(Ineligible::NotAllowed) => Departure::Remove,
        Some(Ineligible::Policy(why)) => Departure::AwaitConfirmation(why),
        None => Departure::AwaitConfirmation("the site is no longer judged eligible".to_owned()),
    }
}

enum Ineligible {
    /// The tenant's own `allowedSites` leaves it out.
    NotAllowed,
    /// Policy (classifications, site facts) rules it out; the text says how.
    Policy(String),
}

fn ineligibility(tenant: &TenantSpec, site: &str, snapshot: &Snapshot) -> Option<Ineligible> {
    if !tenant.allowed_sites.is_empty() && !tenant.allowed_sites.iter().any(|name| name == site) {
        return Some(Ineligible::NotAllowed);
    }
    let Some(lowest) = snapshot.lowest_classification() else {
        return Some(Ineligible::Policy(
            "no DataClassification is defined".to_owned(),
        ));
    };
    let Some(prepared) = snapshot
        .sites()
        .iter()
        .find(|candidate| candidate.name == site)
    else {
        return Some(Ineligible::Policy("the Site no longer exists".to_owned()));
    };
    let mut reasons = Vec::new();
    classification_requirements(lowest, prepared, &mut reasons);
    (!reasons.is_empty()).then(|| {
        Ineligible::Policy(
            reasons
                .iter()
                .map(|reason| reason.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}
