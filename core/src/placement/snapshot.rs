//! The world as the engine sees it: sites, classifications, rules, tenants and reservations,
//! indexed and pre-parsed once so that each evaluation only compares.

use crate::resources::condition_types::ConditionType;

use super::compiled::Compiled;
use std::collections::{BTreeMap, BTreeSet};

use kube::ResourceExt;

use crate::resources::availability::Availability;
use crate::resources::capacity::Capacity;
use crate::resources::data_classification::{DataClassification, DataClassificationSpec};
use crate::resources::placement_rule::{PlacementRule, PlacementRuleSpec};
use crate::resources::site::{Site, SiteSpec};
use crate::resources::site_nodes::free_before_reservations;
use crate::resources::tenant::{Tenant, TenantSpec};

/// Capacity held for a workload that is planned but not yet placed (e.g. by the gRPC API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub site: String,
    pub capacity: Capacity,
}

/// A snapshot that cannot be evaluated, naming the object and field at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    #[error("a {kind} has no metadata.name")]
    MissingName { kind: &'static str },
    #[error("{kind} {name:?} is defined twice")]
    DuplicateName { kind: &'static str, name: String },
    #[error(
        "{kind} {name:?}: {field} {value:?} is not a percentage between 0 and 100 with at most four decimals"
    )]
    InvalidAvailability {
        kind: &'static str,
        name: String,
        field: &'static str,
        value: String,
    },
}

/// A site with its facts parsed and its free capacity computed.
#[derive(Clone, Debug)]
pub struct PreparedSite {
    pub name: String,
    pub spec: SiteSpec,
    pub labels: BTreeMap<String, String>,
    pub offered_availability: Availability,
    /// Capacity minus what is allocated (status) and reserved.
    pub free: Capacity,
    /// `Some(false)` when the last probe found the site not ready; `None` when never probed
    /// (offline files), which the engine treats as ready.
    pub ready: Option<bool>,
    /// Failure zones; a site without zones is its own zone.
    pub zones: BTreeSet<String>,
}

/// A classification with its minimum availability parsed.
#[derive(Clone, Debug)]
pub struct PreparedClassification {
    pub name: String,
    pub spec: DataClassificationSpec,
    pub minimum_availability: Option<Availability>,
}

/// A placement rule with its name.
#[derive(Clone, Debug)]
pub struct PreparedRule {
    pub name: String,
    pub spec: PlacementRuleSpec,
    /// Its place among the snapshot's rules (highest priority first).
    pub(crate) index: usize,
}

/// Everything evaluation needs, indexed by name; build once, evaluate many workloads.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// By name.
    pub(crate) sites: Vec<PreparedSite>,
    pub(crate) classifications: BTreeMap<String, PreparedClassification>,
    pub(crate) tenants: BTreeMap<String, TenantSpec>,
    /// Highest priority first, then by name.
    pub(crate) rules: Vec<PreparedRule>,
    /// What is judged once for every workload (see `compiled`).
    pub(crate) compiled: Compiled,
}

/// The objects a snapshot is built from, named so that a caller passes only what it has
/// (`..Objects::default()` for the rest) instead of a row of positional `&[]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Objects<'a> {
    pub sites: &'a [Site],
    pub classifications: &'a [DataClassification],
    pub rules: &'a [PlacementRule],
    pub tenants: &'a [Tenant],
    /// Capacity held for planned workloads, subtracted from each site's free capacity.
    pub reservations: &'a [Reservation],
}

impl Snapshot {
    /// Parses and indexes the objects once; fails naming the first object that cannot be used.
    pub fn new(objects: Objects<'_>) -> Result<Self, SnapshotError> {
        let sites = prepare_sites(objects.sites, objects.reservations)?;
        let classifications = prepare_classifications(objects.classifications)?;
        let tenants = prepare_tenants(objects.tenants)?;
        let rules = prepare_rules(objects.rules)?;
        let compiled = Compiled::new(&sites, &classifications, &tenants, &rules);
        Ok(Self {
            sites,
            classifications,
            tenants,
            rules,
            compiled,
        })
    }

    /// The sites, by name.
    pub fn sites(&self) -> &[PreparedSite] {
        &self.sites
    }

    /// The least sensitive classification (lowest rank, then name), if any is defined.
    pub fn lowest_classification(&self) -> Option<&PreparedClassification> {
        self.classifications.values().min_by(|left, right| {
            left.spec
                .rank
                .cmp(&right.spec.rank)
                .then_with(|| left.name.cmp(&right.name))
        })
    }
}

fn named(kind: &'static str, name: Option<&str>) -> Result<String, SnapshotError> {
    match name {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ => Err(SnapshotError::MissingName { kind }),
    }
}

/// Sites by name, each with its free capacity: the smaller of declared capacity minus allocated
/// and what its nodes have free, minus what is reserved.
fn prepare_sites(
    sites: &[Site],
    reservations: &[Reservation],
) -> Result<Vec<PreparedSite>, SnapshotError> {
    let mut reserved: BTreeMap<&str, Capacity> = BTreeMap::new();
    for reservation in reservations {
        let total = reserved.entry(reservation.site.as_str()).or_default();
        *total = total.plus(reservation.capacity);
    }
    let mut prepared = sites
        .iter()
        .map(|site| {
            let name = named("Site", site.metadata.name.as_deref())?;
            let held = reserved.get(name.as_str()).copied().unwrap_or_default();
            prepare_site(site, name, held)
        })
        .collect::<Result<Vec<_>, _>>()?;
    prepared.sort_by(|left, right| left.name.cmp(&right.name));
    if let Some(pair) = prepared
        .windows(2)
        .find(|pair| pair[0].name == pair[1].name)
    {
        return Err(SnapshotError::DuplicateName {
            kind: "Site",
            name: pair[0].name.clone(),
        });
    }
    Ok(prepared)
}

fn prepare_site(
    site: &Site,
    name: String,
    reserved: Capacity,
) -> Result<PreparedSite, SnapshotError> {
    let offered_availability = Availability::parse_percent(&site.spec.offered_availability)
        .ok_or_else(|| SnapshotError::InvalidAvailability {
            kind: "Site",
            name: name.clone(),
            field: "spec.offeredAvailability",
            value: site.spec.offered_availability.clone(),
        })?;
    let ready = site.status.as_ref().and_then(|status| {
        status
            .conditions
            .iter()
            .find(|condition| ConditionType::Ready.is(condition))
            .map(|condition| condition.status == "True")
    });
    let mut zones: BTreeSet<String> = site.spec.zones.iter().cloned().collect();
    if zones.is_empty() {
        zones.insert(format!("site:{name}"));
    }
    Ok(PreparedSite {
        free: free_before_reservations(site).minus(reserved),
        labels: site.labels().clone(),
        spec: site.spec.clone(),
        offered_availability,
        ready,
        zones,
        name,
    })
}

fn prepare_classifications(
    classifications: &[DataClassification],
) -> Result<BTreeMap<String, PreparedClassification>, SnapshotError> {
    let mut prepared = BTreeMap::new();
    for classification in classifications {
        let name = named(
            "DataClassification",
            classification.metadata.name.as_deref(),
        )?;
        let minimum_availability = match &classification.spec.minimum_availability {
            None => None,
            Some(text) => Some(Availability::parse_percent(text).ok_or_else(|| {
                SnapshotError::InvalidAvailability {
                    kind: "DataClassification",
                    name: name.clone(),
                    field: "spec.minimumAvailability",
                    value: text.clone(),
                }
            })?),
        };
        let classification = PreparedClassification {
            name: name.clone(),
            spec: classification.spec.clone(),
            minimum_availability,
        };
        if prepared.insert(name.clone(), classification).is_some() {
            return Err(SnapshotError::DuplicateName {
                kind: "DataClassification",
                name,
            });
        }
    }
    Ok(prepared)
}

fn prepare_tenants(tenants: &[Tenant]) -> Result<BTreeMap<String, TenantSpec>, SnapshotError> {
    let mut prepared = BTreeMap::new();
    for tenant in tenants {
        let name = named("Tenant", tenant.metadata.name.as_deref())?;
        if prepared.insert(name.clone(), tenant.spec.clone()).is_some() {
            return Err(SnapshotError::DuplicateName {
                kind: "Tenant",
                name,
            });
        }
    }
    Ok(prepared)
}

/// Rules by priority, highest first, then by name.
fn prepare_rules(rules: &[PlacementRule]) -> Result<Vec<PreparedRule>, SnapshotError> {
    let mut prepared = Vec::with_capacity(rules.len());
    let mut names = BTreeSet::new();
    for rule in rules {
        let name = named("PlacementRule", rule.metadata.name.as_deref())?;
        if !names.insert(name.clone()) {
            return Err(SnapshotError::DuplicateName {
                kind: "PlacementRule",
                name,
            });
        }
        prepared.push(PreparedRule {
            name,
            spec: rule.spec.clone(),
            index: 0,
        });
    }
    prepared.sort_by(|left, right| {
        right
            .spec
            .priority
            .cmp(&left.spec.priority)
            .then_with(|| left.name.cmp(&right.name))
    });
    for (index, rule) in prepared.iter_mut().enumerate() {
        rule.index = index;
    }
    Ok(prepared)
}
