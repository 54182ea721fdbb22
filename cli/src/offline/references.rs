//! References between manifests that must resolve: a Workload's tenant and classification, a
//! Tenant's ceiling and allowed sites, sites named by rules and workloads. A dangling name is
//! almost always a typo, so it is an input error with the referring object's file and field.

use std::collections::BTreeSet;

use kube::ResourceExt;

use crate::offline::manifests::{InputError, Manifests};

/// Every reference in `manifests` that names an object the manifests do not define.
pub fn dangling_references(manifests: &Manifests) -> Vec<InputError> {
    let sites: BTreeSet<String> = manifests.sites.iter().map(ResourceExt::name_any).collect();
    let classifications: BTreeSet<String> = manifests
        .classifications
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    let tenants: BTreeSet<String> = manifests
        .tenants
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    let mut errors = Vec::new();
    let mut check = |kind: &str,
                     namespace: &str,
                     name: &str,
                     field: &str,
                     target: &str,
                     known: &BTreeSet<String>,
                     wanted: &str| {
        if !known.contains(wanted) {
            errors.push(InputError::new(
                manifests.origin(kind, namespace, name).cloned(),
                format!("{kind} {name}: {field}: no {target} named {wanted:?} is defined"),
            ));
        }
    };

    for tenant in &manifests.tenants {
        let name = tenant.name_any();
        check(
            "Tenant",
            "",
            &name,
            "spec.highestClassification",
            "DataClassification",
            &classifications,
            &tenant.spec.highest_classification,
        );
        for (index, site) in tenant.spec.allowed_sites.iter().enumerate() {
            check(
                "Tenant",
                "",
                &name,
                &format!("spec.allowedSites[{index}]"),
                "Site",
                &sites,
                site,
            );
        }
    }
    for rule in &manifests.rules {
        let name = rule.name_any();
        for (index, site) in rule.spec.constraints.excluded_sites.iter().enumerate() {
            check(
                "PlacementRule",
                "",
                &name,
                &format!("spec.constraints.excludedSites[{index}]"),
                "Site",
                &sites,
                site,
            );
        }
        for (index, tenant) in rule.spec.selector.tenants.iter().enumerate() {
            check(
                "PlacementRule",
                "",
                &name,
                &format!("spec.selector.tenants[{index}]"),
                "Tenant",
                &tenants,
                tenant,
            );
        }
        for (index, classification) in rule.spec.selector.classifications.iter().enumerate() {
            let field = format!("spec.selector.classifications[{index}]");
            check(
                "PlacementRule",
                "",
                &name,
                &field,
                "DataClassification",
                &classifications,
                classification,
            );
        }
    }
    for (workload, _) in &manifests.workloads {
        let name = workload.name_any();
        let namespace = workload.namespace().unwrap_or_default();
        let spec = &workload.spec;
        check(
            "Workload",
            &namespace,
            &name,
            "spec.tenant",
            "Tenant",
            &tenants,
            &spec.tenant,
        );
        check(
            "Workload",
            &namespace,
            &name,
            "spec.classification",
            "DataClassification",
            &classifications,
            &spec.classification,
        );
        if let Some(site) = spec
            .data_location
            .as_ref()
            .and_then(|location| location.site.as_deref())
        {
            check(
                "Workload",
                &namespace,
                &name,
                "spec.dataLocation.site",
                "Site",
                &sites,
                site,
            );
        }
        if let Some(site) = spec
            .migration_source
            .as_ref()
            .and_then(|source| source.site.as_deref())
        {
            check(
                "Workload",
                &namespace,
                &name,
                "spec.migrationSource.site",
                "Site",
                &sites,
                site,
            );
        }
    }
    errors
}
