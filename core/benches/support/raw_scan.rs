//! The raw-scan baseline: the engine's hard filters written as one plain loop, reading each site's
//! fields once per workload and returning only the eligible set — no reasons, no scores, no
//! spread, nothing precomputed beyond parsing. What a decision cannot cost less than; the compiled
//! engine is measured against it.

use std::collections::BTreeMap;

use soberana_core::resources::availability::Availability;
use soberana_core::resources::capacity::Capacity;
use soberana_core::resources::data_classification::DataClassificationSpec;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::site::{Site, SiteSpec};
use soberana_core::resources::tenant::TenantSpec;
use soberana_core::resources::workload::Workload;

/// A site's facts as plain fields, parsed once.
pub struct RawSite<'a> {
    name: &'a str,
    spec: &'a SiteSpec,
    labels: Option<&'a BTreeMap<String, String>>,
    offered_ppm: u32,
    ready: bool,
    free: Capacity,
}

/// A classification with its minimum availability parsed.
struct RawClassification<'a> {
    spec: &'a DataClassificationSpec,
    minimum_ppm: u32,
}

/// The objects, indexed by name once; `eligible` is the timed part.
pub struct RawScan<'a> {
    sites: Vec<RawSite<'a>>,
    classifications: BTreeMap<&'a str, RawClassification<'a>>,
    tenants: BTreeMap<&'a str, &'a TenantSpec>,
    rules: &'a [PlacementRule],
}

impl<'a> RawScan<'a> {
    pub fn new(
        sites: &'a [Site],
        classifications: &'a [soberana_core::resources::data_classification::DataClassification],
        tenants: &'a [soberana_core::resources::tenant::Tenant],
        rules: &'a [PlacementRule],
    ) -> Self {
        let mut sites: Vec<RawSite<'a>> = sites.iter().map(raw_site).collect();
        sites.sort_by(|left, right| left.name.cmp(right.name));
        Self {
            sites,
            classifications: classifications
                .iter()
                .map(|classification| {
                    let spec = &classification.spec;
                    let minimum_ppm = spec.minimum_availability.as_deref().map_or(0, ppm);
                    let name = classification.metadata.name.as_deref().unwrap_or_default();
                    (name, RawClassification { spec, minimum_ppm })
                })
                .collect(),
            tenants: tenants
                .iter()
                .map(|tenant| {
                    (
                        tenant.metadata.name.as_deref().unwrap_or_default(),
                        &tenant.spec,
                    )
                })
                .collect(),
            rules,
        }
    }

    /// The indices (by site name) of the sites `workload` may run on.
    pub fn eligible(&self, workload: &Workload) -> Vec<usize> {
        let spec = &workload.spec;
        let (Some(classification), Some(tenant)) = (
            self.classifications.get(spec.classification.as_str()),
            self.tenants.get(spec.tenant.as_str()),
        ) else {
            return Vec::new();
        };
        let ceiling = self
            .classifications
            .get(tenant.highest_classification.as_str())
            .map_or(0, |ceiling| ceiling.spec.rank);
        if classification.spec.rank > ceiling {
            return Vec::new();
        }
        let target_ppm = spec.availability_target.as_deref().map_or(0, ppm);
        let minimum_ppm = classification.minimum_ppm.max(target_ppm);
        let demand = spec.resources.times(spec.replicas);
        let rules: Vec<&PlacementRule> = self
            .rules
            .iter()
            .filter(|rule| selects(rule, workload))
            .collect();
        let mut eligible = Vec::new();
        for (index, site) in self.sites.iter().enumerate() {
            let facts = site.spec;
            let passes = site.ready
                && site.offered_ppm >= minimum_ppm
                && meets(classification.spec, facts)
                && facts
                    .taints
                    .iter()
                    .all(|taint| spec.tolerations.contains(&taint.key))
                && (tenant.allowed_sites.is_empty()
                    || tenant.allowed_sites.iter().any(|name| name == site.name))
                && rules.iter().all(|rule| {
                    let constraints = &rule.spec.constraints;
                    !constraints
                        .excluded_sites
                        .iter()
                        .any(|name| name == site.name)
                        && constraints.site_selector.iter().all(|(key, value)| {
                            site.labels.and_then(|labels| labels.get(key)) == Some(value)
                        })
                })
                && site.free.holds(demand);
            if passes {
                eligible.push(index);
            }
        }
        eligible
    }
}

fn raw_site(site: &Site) -> RawSite<'_> {
    let status = site.status.as_ref();
    let ready = status
        .and_then(|status| {
            status
                .conditions
                .iter()
                .find(|condition| condition.type_ == "Ready")
        })
        .is_none_or(|condition| condition.status == "True");
    let allocated = status
        .and_then(|status| status.allocated)
        .unwrap_or_default();
    RawSite {
        name: site.metadata.name.as_deref().unwrap_or_default(),
        spec: &site.spec,
        labels: site.metadata.labels.as_ref(),
        offered_ppm: ppm(&site.spec.offered_availability),
        ready,
        free: site.spec.capacity.minus(allocated),
    }
}

/// The classification's requirements on the site's facts.
fn meets(classification: &DataClassificationSpec, site: &SiteSpec) -> bool {
    (classification.allowed_jurisdictions.is_empty()
        || classification
            .allowed_jurisdictions
            .contains(&site.jurisdiction))
        && (classification.allowed_sovereignty_tiers.is_empty()
            || classification
                .allowed_sovereignty_tiers
                .contains(&site.sovereignty_tier))
        && classification
            .required_certifications
            .iter()
            .all(|certification| site.certifications.contains(certification))
        && classification
            .encryption_at_rest
            .as_ref()
            .is_none_or(|encryption| {
                site.key_custody
                    .iter()
                    .any(|offered| offered.satisfies(encryption.key_custody))
            })
        && (!classification.encryption_in_transit || site.encryption_in_transit)
        && classification.backup.as_ref().is_none_or(|backup| {
            let copies = site.backup.as_ref().map_or(0, |offered| offered.copies);
            copies >= backup.copies
                && !(backup.same_jurisdiction
                    && site
                        .backup
                        .as_ref()
                        .is_some_and(|offered| offered.jurisdiction != site.jurisdiction))
        })
}

fn selects(rule: &PlacementRule, workload: &Workload) -> bool {
    let selector = &rule.spec.selector;
    let spec = &workload.spec;
    let metadata = workload.metadata.labels.as_ref();
    (selector.tenants.is_empty() || selector.tenants.contains(&spec.tenant))
        && (selector.classifications.is_empty()
            || selector.classifications.contains(&spec.classification))
        && selector.match_labels.iter().all(|(key, value)| {
            spec.labels
                .get(key)
                .or_else(|| metadata.and_then(|labels| labels.get(key)))
                == Some(value)
        })
}

fn ppm(text: &str) -> u32 {
    Availability::parse_percent(text).map_or(0, Availability::parts_per_million)
}
