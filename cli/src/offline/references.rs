//! References between manifests that must resolve (see `soberana_core::resources::references`):
//! a dangling name is an input error with the referring object's file and field.

use soberana_core::resources::references::{
    Defined, Reference, exchange_references, rule_references, tenant_references,
    workload_references,
};

use crate::offline::manifests::{InputError, Manifests};

/// Every reference in `manifests` that names an object the manifests do not define.
pub fn dangling_references(manifests: &Manifests) -> Vec<InputError> {
    let defined = Defined::new(
        &manifests.sites,
        &manifests.classifications,
        &manifests.tenants,
    );
    let references = manifests
        .tenants
        .iter()
        .flat_map(tenant_references)
        .chain(manifests.rules.iter().flat_map(rule_references))
        .chain(manifests.exchanges.iter().flat_map(exchange_references))
        .chain(
            manifests
                .workloads
                .iter()
                .flat_map(|(workload, _)| workload_references(workload)),
        );
    references
        .filter(|reference| !defined.resolves(reference))
        .map(|reference| {
            let Reference {
                kind,
                namespace,
                name,
                field,
                ..
            } = &reference;
            InputError::new(
                manifests.origin(kind, namespace, name).cloned(),
                format!("{kind} {name}: {field}: {}", reference.problem()),
            )
        })
        .collect()
}
