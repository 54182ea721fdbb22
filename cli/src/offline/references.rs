//! References between manifests that must resolve: a Workload's tenant and classification, a
//! Tenant's ceiling and allowed sites, sites named by rules and workloads. A dangling name is
//! almost always a typo, so it is an input error with the referring object's file and field.

use std::collections::BTreeSet;

use kube::ResourceExt;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;

use crate::offline::manifests::{InputError, Manifests};

/// The kinds a reference can name.
#[derive(Clone, Copy, Debug)]
enum Target {
    Site,
    DataClassification,
    Tenant,
}

/// One name one object gives in one field, to be found among the manifests.
#[derive(Debug)]
struct Reference<'a> {
    kind: &'static str,
    namespace: String,
    name: String,
    field: String,
    target: Target,
    wanted: &'a str,
}

/// Every reference in `manifests` that names an object the manifests do not define.
pub fn dangling_references(manifests: &Manifests) -> Vec<InputError> {
    let names = |objects: Vec<String>| objects.into_iter().collect::<BTreeSet<_>>();
    let sites = names(manifests.sites.iter().map(ResourceExt::name_any).collect());
    let classifications = names(
        manifests
            .classifications
            .iter()
            .map(ResourceExt::name_any)
            .collect(),
    );
    let tenants = names(
        manifests
            .tenants
            .iter()
            .map(ResourceExt::name_any)
            .collect(),
    );
    let references = manifests
        .tenants
        .iter()
        .flat_map(tenant_references)
        .chain(manifests.rules.iter().flat_map(rule_references))
        .chain(
            manifests
                .workloads
                .iter()
                .flat_map(|(workload, _)| workload_references(workload)),
        );
    references
        .filter(|reference| {
            let known = match reference.target {
                Target::Site => &sites,
                Target::DataClassification => &classifications,
                Target::Tenant => &tenants,
            };
            !known.contains(reference.wanted)
        })
        .map(|reference| {
            let Reference {
                kind,
                namespace,
                name,
                field,
                target,
                wanted,
            } = reference;
            InputError::new(
                manifests.origin(kind, &namespace, &name).cloned(),
                format!("{kind} {name}: {field}: no {target:?} named {wanted:?} is defined"),
            )
        })
        .collect()
}

/// A Tenant names its ceiling classification and the sites it may use.
fn tenant_references(tenant: &Tenant) -> Vec<Reference<'_>> {
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
fn rule_references(rule: &PlacementRule) -> Vec<Reference<'_>> {
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
fn workload_references(workload: &Workload) -> Vec<Reference<'_>> {
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
