//! Which sites carry a tenant: those in its allowed list (all when the list is empty) that could
//! host at least the least sensitive classification, the same judgement the placement engine makes.

use crate::placement::Snapshot;
use crate::placement::filters::classification_requirements;
use crate::resources::tenant::TenantSpec;

/// The names of the sites that should carry `tenant`, in name order. Empty when no
/// classification is defined: no site can be judged then.
pub fn sites_for_tenant(tenant: &TenantSpec, snapshot: &Snapshot) -> Vec<String> {
    let Some(lowest) = snapshot.lowest_classification() else {
        return Vec::new();
    };
    snapshot
        .sites()
        .iter()
        .filter(|site| tenant.allowed_sites.is_empty() || tenant.allowed_sites.contains(&site.name))
        .filter(|site| {
            let mut reasons = Vec::new();
            classification_requirements(lowest, site, &mut reasons);
            reasons.is_empty()
        })
        .map(|site| site.name.clone())
        .collect()
}
