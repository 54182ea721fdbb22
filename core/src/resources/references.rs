//! References between objects that must resolve: a Workload's tenant and classification, a
//! Tenant's ceiling and allowed sites, the sites, tenants and classifications a PlacementRule
//! names, the sites a Workload names, the tenants and classification of a DataExchange. A dangling name is almost always a typo. Kubernetes cannot
//! check them (admission sees one object at a time), so the CLI checks its manifests and the API
//! the objects it is sent.

use std::collections::BTreeSet;

use kube::ResourceExt;

use super::data_classification::DataClassification;
use super::data_exchange::DataExchange;
use super::placement_rule::PlacementRule;
use super::site::Site;
use super::tenant::Tenant;
use super::workload::Workload;

/// The kinds a reference can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Site,
    DataClassification,
    Tenant,
}

/// One name one object gives in one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference<'a> {
    /// The referring object's kind, namespace (empty: cluster-scoped) and name.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// The field path, e.g. `spec.allowedSites[1]`.
    pub field: String,
    pub target: Target,
    pub wanted: &'a str,
}

impl Reference<'_> {
    /// What is wrong when the name is not defined, e.g. `no Site named "x" is defined`.
    pub fn problem(&self) -> String {
        format!("no {:?} named {:?} is defined", self.target, self.wanted)
    }
}

/// The names defined, by kind.
#[derive(Clone, Debug, Default)]
pub struct Defined {
    sites: BTreeSet<String>,
    classifications: BTreeSet<String>,
    tenants: BTreeSet<String>,
}

impl Defined {
    pub fn new(sites: &[Site], classifications: &[DataClassification], tenants: &[Tenant]) -> Self {
        let names = |names: Vec<String>| names.into_iter().collect::<BTreeSet<_>>();
        Self {
            sites: names(sites.iter().map(ResourceExt::name_any).collect()),
            classifications: names(classifications.iter().map(ResourceExt::name_any).collect()),
            tenants: names(tenants.iter().map(ResourceExt::name_any).collect()),
        }
    }

    /// Whether the name `reference` gives is defined.
    pub fn resolves(&self, reference: &Reference<'_>) -> bool {
        let known = match reference.target {
            Target::Site => &self.sites,
            Target::DataClassification => &self.classifications,
            Target::Tenant => &self.tenants,
        };
        known.contains(reference.wanted)
    }
}

/// A Tenant names its ceiling classification and the sites it may use.
pub fn tenant_references(tenant: &Tenant) -> Vec<Reference<'_>> {
    let reference = |field: String, target, wanted| Reference {
        kind: "Tenant",
        namespace: String::new(),
        name: tenant.name_any(),
        field,
        target,
        wanted,
    };
    let spec = &tenant.spec;
    let mut references = vec![reference(
        "spec.highestClassification".to_owned(),
        Target::DataClassification,
        spec.highest_classification.as_str(),
    )];
    for (index, site) in spec.allowed_sites.iter().enumerate() {
        references.push(reference(
            format!("spec.allowedSites[{index}]"),
            Target::Site,
            site,
        ));
    }
    references
}

/// A PlacementRule names the sites it excludes and the tenants and classifications it selects.
pub fn rule_references(rule: &PlacementRule) -> Vec<Reference<'_>> {
    let reference = |field: String, target, wanted| Reference {
        kind: "PlacementRule",
        namespace: String::new(),
        name: rule.name_any(),
        field,
        target,
        wanted,
    };
    let spec = &rule.spec;
    let excluded = spec
        .constraints
        .excluded_sites
        .iter()
        .enumerate()
        .map(|(index, site)| {
            reference(
                format!("spec.constraints.excludedSites[{index}]"),
                Target::Site,
                site.as_str(),
            )
        });
    let tenants = spec
        .selector
        .tenants
        .iter()
        .enumerate()
        .map(|(index, tenant)| {
            reference(
                format!("spec.selector.tenants[{index}]"),
                Target::Tenant,
                tenant.as_str(),
            )
        });
    let classifications =
        spec.selector
            .classifications
            .iter()
            .enumerate()
            .map(|(index, classification)| {
                reference(
                    format!("spec.selector.classifications[{index}]"),
                    Target::DataClassification,
                    classification.as_str(),
                )
            });
    excluded.chain(tenants).chain(classifications).collect()
}

/// A Workload names its tenant and classification, and may name the sites holding its data and
/// the one it migrates from.
pub fn workload_references(workload: &Workload) -> Vec<Reference<'_>> {
    let reference = |field: &str, target, wanted| Reference {
        kind: "Workload",
        namespace: workload.namespace().unwrap_or_default(),
        name: workload.name_any(),
        field: field.to_owned(),
        target,
        wanted,
    };
    let spec = &workload.spec;
    let mut references = vec![
        reference("spec.tenant", Target::Tenant, spec.tenant.as_str()),
        reference(
            "spec.classification",
            Target::DataClassification,
            spec.classification.as_str(),
        ),
    ];
    if let Some(site) = spec
        .data_location
        .as_ref()
        .and_then(|location| location.site.as_deref())
    {
        references.push(reference("spec.dataLocation.site", Target::Site, site));
    }
    if let Some(site) = spec
        .migration_source
        .as_ref()
        .and_then(|source| source.site.as_deref())
    {
        references.push(reference("spec.migrationSource.site", Target::Site, site));
    }
    references
}

/// A DataExchange names its two tenants and the classification of the data exchanged.
pub fn exchange_references(exchange: &DataExchange) -> Vec<Reference<'_>> {
    let reference = |field: &str, target, wanted| Reference {
        kind: "DataExchange",
        namespace: String::new(),
        name: exchange.name_any(),
        field: field.to_owned(),
        target,
        wanted,
    };
    let spec = &exchange.spec;
    vec![
        reference(
            "spec.provider.tenant",
            Target::Tenant,
            spec.provider.tenant.as_str(),
        ),
        reference(
            "spec.consumer.tenant",
            Target::Tenant,
            spec.consumer.tenant.as_str(),
        ),
        reference(
            "spec.classification",
            Target::DataClassification,
            spec.classification.as_str(),
        ),
    ]
}
